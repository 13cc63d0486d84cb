// Completions on the engine: per-choice text assembly and the streaming / collecting job
// (see generation.h).
#include "api/openai/generation.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>

#include <spdlog/spdlog.h>

#include "api/openai/errors.h"
#include "text/token_stop.h"
#include "text/utf8.h"

namespace shuo::api::openai {

// ---- helpers --------------------------------------------------------------------------------

std::string dump_json(const OJson& j) { return j.dump(-1, ' ', false, OJson::error_handler_t::replace); }

void send_json(http::Responder& responder, const OJson& body, int status) {
  http::Response r;
  r.status = status;
  r.body = dump_json(body);
  responder.send(std::move(r));
}

void send_error(ServiceState& state, http::Responder& responder, const Error& e) {
  responder.send(error_response(to_api_error(e), responder.request_id(), state.log.get()));
}

Result<void> check_model(const ServiceState& state, const std::string& model) {
  if (model.empty() || model == state.config.model_id) return {};
  return Error{ErrorCode::kNotFound, "model",
               "The model '" + model + "' does not exist; this server serves '" + state.config.model_id + "'"};
}

std::string logprob_token_text(const std::string& bytes) {
  if (text::is_valid_utf8(bytes)) return bytes;
  std::string s = "bytes:";
  for (unsigned char c : bytes) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    s += buf;
  }
  return s;
}

OJson bytes_array(const std::string& bytes) {
  OJson a = OJson::array();
  for (unsigned char c : bytes) a.push_back(int(c));
  return a;
}

PreparedPrompt prepare_chat_prompt(const ServiceState& st, const std::string& rendered) {
  ChatPrompt cp = st.chat.encode(st.tokenizer, rendered);
  PreparedPrompt p;
  p.ids = std::move(cp.ids);
  p.strip_leading_space = cp.strip_leading_space;
  return p;
}

// ---- ChoiceText -----------------------------------------------------------------------------

ChoiceText::ChoiceText(const text::Tokenizer& tok, text::StopStringMatcher stops,
                       bool strip_leading_space, bool want_logprobs, size_t text_offset0)
    : tok_(tok),
      decoder_([t = &tok](int32_t id) { return t->token_to_piece(id); }, strip_leading_space),
      matcher_(std::move(stops)),
      want_logprobs_(want_logprobs),
      strip_leading_space_(strip_leading_space),
      raw_offset_(text_offset0) {}

ChoiceDelta ChoiceText::push(const engine::TokenEvent& ev) {
  ChoiceDelta d;
  if (matcher_.stopped() || ev.token < 0) return d;
  std::string piece = tok_.token_to_piece(ev.token);
  size_t offset = raw_offset_;
  if (strip_leading_space_ && !piece.empty() && piece[0] == ' ') {
    // The decoder drops this first space; offsets count the text as sent.
    strip_leading_space_ = false;
    piece.erase(0, 1);
  } else if (!piece.empty()) {
    strip_leading_space_ = false;
  }
  raw_offset_ += piece.size();
  text::StopPush sp = matcher_.push(decoder_.push(ev.token));
  d.text = std::move(sp.emit);
  // A token that completes a stop string is reported only if some of its text was sent.
  if (want_logprobs_ && (!sp.stopped || !d.text.empty())) {
    TokenLogprob lp;
    lp.token = ev.token;
    lp.bytes = std::move(piece);
    lp.logprob = ev.logprob;
    lp.top = ev.top;
    lp.text_offset = offset;
    d.logprobs.push_back(std::move(lp));
  }
  return d;
}

ChoiceDelta ChoiceText::finish() {
  ChoiceDelta d;
  if (matcher_.stopped()) return d;
  // decoder_ may still hold 1-3 bytes of a character the model never finished (max_tokens cut
  // it): they are dropped, never sent as U+FFFD.
  d.text = matcher_.flush();
  return d;
}

// ---- the job --------------------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;

std::string sse(const OJson& j) { return "data: " + dump_json(j) + "\n\n"; }

const char* finish_name(engine::FinishReason r) {
  switch (r) {
    case engine::FinishReason::kLength: return "length";
    case engine::FinishReason::kCancelled: return "cancelled";
    case engine::FinishReason::kError: return "error";
    default: return "stop";
  }
}

class Job : public std::enable_shared_from_this<Job> {
 public:
  Job(ServiceState& st, std::shared_ptr<http::Responder> responder, const GenerationParams& gen,
      std::unique_ptr<ResponseFormat> format)
      : st_(st), responder_(std::move(responder)), gen_(gen), format_(std::move(format)),
        start_(Clock::now()) {}

  void run(std::vector<PreparedPrompt> prompts) {
    auto matcher = text::StopStringMatcher::create(gen_.stop);
    if (!matcher.ok()) return send_error(st_, *responder_, matcher.error());
    const int32_t n_ctx = st_.engine.options().n_ctx;

    std::unique_lock lock(mu_);
    for (const PreparedPrompt& p : prompts) {
      prompt_tokens_ += int64_t(p.ids.size());
      for (int j = 0; j < gen_.n; ++j) {
        auto c = std::make_unique<Choice>(ChoiceText(st_.tokenizer, *matcher, p.strip_leading_space,
                                                     gen_.want_logprobs, p.echo.size()));
        c->echo = p.echo;
        choices_.push_back(std::move(c));
      }
    }
    // Sampling: one engine sequence per choice. Beam search: one beam request per prompt,
    // whose n best beams are the prompt's n choices.
    const bool beams = gen_.num_beams > 1;
    const int per_prompt = beams ? 1 : gen_.n;
    remaining_ = int(prompts.size()) * per_prompt;
    for (size_t pi = 0; pi < prompts.size(); ++pi) {
      const PreparedPrompt& p = prompts[pi];
      for (int j = 0; j < per_prompt; ++j) {
        const size_t index = pi * size_t(gen_.n) + size_t(j);  // beams: the prompt's first choice
        engine::EngineRequest req;
        req.prompt = p.ids;
        req.sampling = gen_.sampling;
        if (gen_.n > 1 && req.sampling.has_seed) req.sampling.seed += uint64_t(j);  // n different draws
        if (gen_.max_tokens) {
          req.max_tokens = *gen_.max_tokens;
        } else {
          // Up to the context; a prompt that fills it has no room at all.
          req.max_tokens = std::max<int32_t>(1, n_ctx - int32_t(std::min<size_t>(p.ids.size(), size_t(n_ctx))));
        }
        req.min_tokens = std::min(gen_.min_tokens, req.max_tokens);  // (≤ max_tokens when given: parsed)
        req.ignore_eos = gen_.ignore_eos;
        req.want_logprobs = gen_.want_logprobs;
        req.top_logprobs = gen_.top_logprobs;
        if (beams) {
          req.beam.num_beams = gen_.num_beams;
          req.beam.n_results = gen_.n;
          req.beam.length_penalty = gen_.length_penalty;
          req.beam.early_stopping = gen_.early_stopping;
          if (!gen_.stop.empty()) {
            const text::Tokenizer* tok = &st_.tokenizer;
            req.beam.is_stopped = text::TokenStopCheck([tok](int32_t id) { return tok->token_to_piece(id); },
                                                       gen_.stop, p.strip_leading_space);
          }
        }
        auto keep = shared_from_this();
        auto h = st_.engine.submit(std::move(req), [keep, index, beams](const engine::TokenEvent& ev) {
          if (beams) keep->on_beam_event(index, ev);
          else keep->on_event(index, ev);
        });
        if (!h.ok()) {
          failed_ = true;  // events of the sequences already submitted are dropped from now on
          for (auto& c : choices_)
            if (c->handle) c->handle->cancel();
          std::shared_ptr<http::Responder> responder = std::move(responder_);
          lock.unlock();
          send_error(st_, *responder, h.error());
          return;
        }
        // A beam request's choices share its handle: cancelling one cancels the search.
        for (int k = 0; k < (beams ? gen_.n : 1); ++k) {
          choices_[index + size_t(k)]->handle = *h;
          choices_[index + size_t(k)]->submitted = Clock::now();
        }
      }
    }
    // Still under the lock: once it is released the engine thread may finish the whole job and
    // drop responder_. on_cancel's function runs later, on an I/O thread.
    std::weak_ptr<Job> weak = weak_from_this();
    responder_->on_cancel([weak] {
      if (auto job = weak.lock()) job->cancel_all();
    });
    if (gen_.stream) {
      responder_->start_stream(200, "text/event-stream", {});
      for (const OJson& j : format_->stream_start(int(choices_.size()))) responder_->write(sse(j));
    }
  }

 private:
  struct Choice {
    explicit Choice(ChoiceText t) : text(std::move(t)) {}
    ChoiceText text;
    std::shared_ptr<engine::RequestHandle> handle;
    std::string echo;
    ChoiceResult result;          // collected output (whole responses)
    bool text_done = false;       // finish reason decided (stop string or engine)
    Clock::time_point submitted, last_token;
    bool seen_token = false;
    int32_t n_generated = 0;
  };

  void cancel_all() {
    std::lock_guard lock(mu_);
    for (auto& c : choices_)
      if (c->handle) c->handle->cancel();
  }

  // Engine thread.
  void on_event(size_t index, const engine::TokenEvent& ev) {
    std::lock_guard lock(mu_);
    if (failed_) return;
    Choice& c = *choices_[index];
    if (ev.token >= 0) {
      const auto now = Clock::now();
      if (!c.seen_token) {
        if (st_.time_to_first_token) st_.time_to_first_token->observe(std::chrono::duration<double>(now - start_).count());
      } else if (st_.inter_token_latency) {
        st_.inter_token_latency->observe(std::chrono::duration<double>(now - c.last_token).count());
      }
      c.seen_token = true;
      c.last_token = now;
      if (!c.text_done) {
        emit(index, c.text.push(ev));
        if (c.text.stopped()) {
          // Nothing after a stop string is sent; free the slot at the engine's next step.
          c.handle->cancel();
          finish_choice(index, "stop");
        }
      }
    }
    if (ev.finish == engine::FinishReason::kNone) return;
    c.n_generated = ev.n_generated;
    if (ev.finish == engine::FinishReason::kError && error_.empty()) error_ = ev.error;
    if (!c.text_done) {
      emit(index, c.text.finish());
      finish_choice(index, finish_name(ev.finish));
    }
    if (--remaining_ == 0) complete();
  }

  // Engine thread: the one event of a beam request, carrying its best beams, which become the
  // prompt's choices first..first+n-1. Their text goes through the same ChoiceText path as
  // sampled tokens (so a stop string cuts it identically); a stream gets it all at once.
  void on_beam_event(size_t first, const engine::TokenEvent& ev) {
    std::lock_guard lock(mu_);
    if (failed_ || ev.finish == engine::FinishReason::kNone) return;
    if (ev.finish == engine::FinishReason::kError && error_.empty()) error_ = ev.error;
    if (!ev.beams.empty() && st_.time_to_first_token)
      st_.time_to_first_token->observe(std::chrono::duration<double>(Clock::now() - start_).count());
    for (size_t j = 0; j < size_t(gen_.n); ++j) {
      const size_t index = first + j;
      Choice& c = *choices_[index];
      if (j < ev.beams.size()) {
        const engine::BeamResult& b = ev.beams[j];
        for (const engine::BeamToken& t : b.tokens) {
          engine::TokenEvent te;
          te.token = t.token;
          te.logprob = t.logprob;
          te.top = t.top;
          emit(index, c.text.push(te));
          if (c.text.stopped()) break;
        }
        c.n_generated = int32_t(b.tokens.size());
        emit(index, c.text.finish());
        finish_choice(index, c.text.stopped() ? "stop" : finish_name(b.finish));
      } else {
        // Cancelled or failed (no beams), or fewer finished beams than n.
        finish_choice(index, finish_name(ev.finish));
      }
    }
    if (--remaining_ == 0) complete();
  }

  void emit(size_t index, ChoiceDelta d) {
    if (d.empty()) return;
    if (gen_.stream) {
      responder_->write(sse(format_->stream_delta(int(index), d)));
      return;
    }
    ChoiceResult& r = choices_[index]->result;
    r.text += d.text;
    for (auto& lp : d.logprobs) r.logprobs.push_back(std::move(lp));
  }

  void finish_choice(size_t index, const std::string& reason) {
    Choice& c = *choices_[index];
    c.text_done = true;
    c.result.finish_reason = reason;
    if (gen_.stream && error_.empty()) responder_->write(sse(format_->stream_finish(int(index), reason)));
  }

  void complete() {
    Usage usage;
    usage.prompt_tokens = prompt_tokens_;
    for (const auto& c : choices_) usage.completion_tokens += c->n_generated;
    if (!error_.empty()) {
      ApiError e = to_api_error(Error{ErrorCode::kInternal, "engine", error_});
      if (gen_.stream) {
        if (st_.log) st_.log->error("openai id={} generation failed: {}", responder_->request_id(), error_);
        e.message = "internal error (request id " + responder_->request_id() + ")";
        responder_->write("data: " + error_json(e) + "\n\n");
        responder_->end();
      } else {
        responder_->send(error_response(e, responder_->request_id(), st_.log.get()));
      }
    } else if (gen_.stream) {
      if (gen_.include_usage) responder_->write(sse(format_->stream_usage(usage)));
      responder_->write("data: [DONE]\n\n");
      responder_->end();
    } else {
      std::vector<ChoiceResult> results;
      results.reserve(choices_.size());
      for (auto& c : choices_) {
        c->result.text = c->echo + c->result.text;
        results.push_back(std::move(c->result));
      }
      send_json(*responder_, format_->whole(results, usage));
    }
    responder_.reset();  // done: let the connection's state go
  }

  ServiceState& st_;
  std::shared_ptr<http::Responder> responder_;
  GenerationParams gen_;
  std::unique_ptr<ResponseFormat> format_;
  Clock::time_point start_;

  std::mutex mu_;  // everything below; held briefly by the engine thread per event
  std::vector<std::unique_ptr<Choice>> choices_;
  int64_t prompt_tokens_ = 0;
  int remaining_ = 0;
  bool failed_ = false;
  std::string error_;
};

}  // namespace

void run_generation(ServiceState& state, std::shared_ptr<http::Responder> responder,
                    std::vector<PreparedPrompt> prompts, const GenerationParams& gen,
                    std::unique_ptr<ResponseFormat> format) {
  auto job = std::make_shared<Job>(state, std::move(responder), gen, std::move(format));
  job->run(std::move(prompts));
}

}  // namespace shuo::api::openai
