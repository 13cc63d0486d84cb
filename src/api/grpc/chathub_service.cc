// Chat and StreamingChat as callback reactors on the engine (see chathub_service.h).
#include "api/grpc/chathub_service.h"

#include <chrono>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "api/grpc/status.h"
#include "api/openai/reply.h"

namespace shuo::api::chathub {

namespace {

using Clock = std::chrono::steady_clock;

// The bytes of a request as one string (gRPC may hand them over in several slices).
std::optional<std::string> flatten(const ::grpc::ByteBuffer& buf) {
  std::vector<::grpc::Slice> slices;
  if (!buf.Dump(&slices).ok()) return std::nullopt;
  std::string out;
  out.reserve(buf.Length());
  for (const ::grpc::Slice& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

::grpc::ByteBuffer reply_buffer(const std::string& reply) {
  ::grpc::Slice slice(encode_reply(reply));
  return ::grpc::ByteBuffer(&slice, 1);
}

// What both methods share: one reply (openai::start_reply: whole UTF-8 pieces) assembled into
// the whole text so far. Every member below mu_ is guarded by it.
class Generation {
 protected:
  Generation(ChatHubService& hub, const char* method) : hub_(hub), method_(method), start_(Clock::now()) {}
  virtual ~Generation() = default;

  // Decodes, validates and submits (call with mu_ held, so that the callbacks wait until the
  // handle is stored). Not OK: nothing was submitted; finish the call with it.
  ::grpc::Status submit_locked(const ::grpc::ByteBuffer& request) {
    spdlog::logger* log = hub_.state().log.get();
    auto bytes = flatten(request);
    if (!bytes) return ::grpc::Status(::grpc::StatusCode::INTERNAL, "cannot read the request");
    auto req = hub_.decoder().decode(*bytes);
    if (!req.ok()) return to_status(req.error(), log);
    auto prepared = prepare_chat(hub_.state(), *req, hub_.defaults());
    if (!prepared.ok()) return to_status(prepared.error(), log);
    n_prompt_ = prepared->n_prompt;
    auto h = openai::start_reply(
        hub_.state().engine, hub_.state().tokenizer, std::move(prepared->reply),
        [this](std::string_view piece) { on_piece(piece); },
        [this](openai::ReplyResult result) { on_done(std::move(result)); });
    if (!h.ok()) return to_status(h.error(), log);
    handle_ = std::move(*h);
    if (cancelled_) handle_->cancel();  // OnCancel came first
    return ::grpc::Status::OK;
  }

  // Engine thread: reply_ grew, or the reply is done (done_ and final_ are set).
  virtual void on_grown() = 0;

  // gRPC thread (OnCancel): the client went away or its deadline passed. The engine drops the
  // sequence at its next step and reports the end, which finishes the call.
  void cancel_generation() {
    std::shared_ptr<engine::RequestHandle> h;
    {
      std::lock_guard lock(mu_);
      cancelled_ = true;
      h = handle_;
    }
    if (h) h->cancel();
  }

  void record(const ::grpc::Status& st) const {
    hub_.record(method_, st, n_prompt_, n_generated_,
                std::chrono::duration<double, std::milli>(Clock::now() - start_).count());
  }

  ChatHubService& hub_;
  std::mutex mu_;
  std::string reply_;                 // the whole reply so far
  bool done_ = false;                 // the engine is done with the request
  ::grpc::Status final_;              // the call's status once done_

 private:
  void on_piece(std::string_view piece) {
    {
      std::lock_guard lock(mu_);
      reply_ += piece;
    }
    on_grown();
  }

  void on_done(openai::ReplyResult result) {
    {
      std::lock_guard lock(mu_);
      n_generated_ = result.n_generated;
      done_ = true;
      switch (result.finish) {
        case engine::FinishReason::kCancelled:
          final_ = ::grpc::Status(::grpc::StatusCode::CANCELLED, "cancelled");
          break;
        case engine::FinishReason::kError:
          final_ = to_status(Error{ErrorCode::kInternal, "engine", result.error}, hub_.state().log.get());
          break;
        default:
          final_ = ::grpc::Status::OK;
      }
    }
    on_grown();
  }

  const char* method_;
  Clock::time_point start_;
  std::shared_ptr<engine::RequestHandle> handle_;
  bool cancelled_ = false;
  int32_t n_prompt_ = 0, n_generated_ = 0;
};

// Chat: the whole reply in one ChatReply once the engine is done.
class UnaryCall final : public ::grpc::ServerUnaryReactor, Generation {
 public:
  UnaryCall(ChatHubService& hub, const ::grpc::ByteBuffer& request, ::grpc::ByteBuffer* response)
      : Generation(hub, "Chat"), response_(response) {
    std::unique_lock lock(mu_);
    ::grpc::Status st = submit_locked(request);
    lock.unlock();
    if (!st.ok()) finish(st);
  }

  void OnCancel() override { cancel_generation(); }
  void OnDone() override { delete this; }

 private:
  void on_grown() override {
    std::unique_lock lock(mu_);
    if (!done_) return;
    if (final_.ok()) *response_ = reply_buffer(reply_);
    ::grpc::Status st = final_;
    lock.unlock();
    // The last use of `this`: OnDone may delete it right after Finish.
    hub_.writer().post([this, st] { finish(st); });
  }

  void finish(const ::grpc::Status& st) {
    record(st);
    Finish(st);
  }

  ::grpc::ByteBuffer* response_;
};

// StreamingChat: a ChatReply with the whole reply so far each time it grows. One write is in
// flight at a time; text that arrives meanwhile is coalesced, so a slow reader gets fewer,
// longer replies instead of a growing queue. The last reply is the whole reply (Chat's); an empty
// reply is still sent once.
class StreamCall final : public ::grpc::ServerWriteReactor<::grpc::ByteBuffer>, Generation {
 public:
  StreamCall(ChatHubService& hub, const ::grpc::ByteBuffer& request) : Generation(hub, "StreamingChat") {
    std::unique_lock lock(mu_);
    ::grpc::Status st = submit_locked(request);
    if (!st.ok()) {
      finished_ = true;
      lock.unlock();
      record(st);
      Finish(st);
    }
  }

  void OnCancel() override { cancel_generation(); }
  void OnDone() override { delete this; }

  // gRPC thread; the next write (if any) starts right here.
  void OnWriteDone(bool ok) override {
    std::unique_lock lock(mu_);
    writing_ = false;
    if (!ok) write_failed_ = true;  // the stream is gone; OnCancel stops the generation
    Step step = next_locked();
    lock.unlock();
    run(step);
  }

 private:
  enum class Action { kNone, kWrite, kWriteAndFinish, kFinish };
  struct Step {
    Action action = Action::kNone;
    ::grpc::Status status;
  };

  // Engine thread: hand an idle call to the task thread. While a write is in flight,
  // OnWriteDone picks up what arrived meanwhile.
  void on_grown() override {
    {
      std::lock_guard lock(mu_);
      if (finished_ || writing_ || queued_) return;
      queued_ = true;
    }
    hub_.writer().post([this] { drain(); });
  }

  // Task thread.
  void drain() {
    std::unique_lock lock(mu_);
    queued_ = false;
    Step step = next_locked();
    lock.unlock();
    run(step);
  }

  // What to start now (mu_ held). out_ is only touched while no write is in flight. Nothing is
  // started while the call waits in the task thread's queue, so it cannot finish (and be freed)
  // before drain() runs.
  Step next_locked() {
    if (finished_ || writing_ || queued_) return {};
    if (done_ && (!final_.ok() || write_failed_)) {
      finished_ = true;
      return {Action::kFinish, final_};
    }
    if (write_failed_) return {};  // wait for the engine's final event
    if (reply_.size() > written_ || (done_ && !sent_any_)) {
      out_ = reply_buffer(reply_);
      written_ = reply_.size();
      sent_any_ = true;
      writing_ = true;
      if (!done_) return {Action::kWrite, {}};
      finished_ = true;
      return {Action::kWriteAndFinish, final_};
    }
    if (done_) {
      finished_ = true;
      return {Action::kFinish, final_};
    }
    return {};
  }

  // Outside mu_: a Finish may lead to OnDone (delete this) on another thread at once, so it is the
  // last thing done with `this`.
  void run(const Step& step) {
    switch (step.action) {
      case Action::kNone:
        return;
      case Action::kWrite:
        StartWrite(&out_);
        return;
      case Action::kWriteAndFinish:
        record(step.status);
        StartWriteAndFinish(&out_, ::grpc::WriteOptions(), step.status);
        return;
      case Action::kFinish:
        record(step.status);
        Finish(step.status);
        return;
    }
  }

  ::grpc::ByteBuffer out_;      // the reply being written
  bool writing_ = false;
  bool queued_ = false;         // waiting for drain() on the task thread
  bool write_failed_ = false;
  size_t written_ = 0;          // reply_'s length in the last write
  bool sent_any_ = false;
  bool finished_ = false;       // Finish (or WriteAndFinish) has been decided
};

}  // namespace

ChatHubService::ChatHubService(openai::ServiceState& state, ChatHubDefaults defaults, http::Metrics* metrics)
    : state_(state), defaults_(defaults), metrics_(metrics) {}

::grpc::ServerUnaryReactor* ChatHubService::Chat(::grpc::CallbackServerContext*, const ::grpc::ByteBuffer* request,
                                                 ::grpc::ByteBuffer* response) {
  return new UnaryCall(*this, *request, response);
}

::grpc::ServerWriteReactor<::grpc::ByteBuffer>* ChatHubService::StreamingChat(::grpc::CallbackServerContext*,
                                                                              const ::grpc::ByteBuffer* request) {
  return new StreamCall(*this, *request);
}

namespace {

const char* code_name(::grpc::StatusCode c) {
  switch (c) {
    case ::grpc::StatusCode::OK: return "OK";
    case ::grpc::StatusCode::CANCELLED: return "CANCELLED";
    case ::grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case ::grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case ::grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case ::grpc::StatusCode::INTERNAL: return "INTERNAL";
    default: return "OTHER";
  }
}

}  // namespace

void ChatHubService::record(const char* method, const ::grpc::Status& status, int32_t n_prompt,
                            int32_t n_generated, double ms) const {
  const char* code = code_name(status.error_code());
  if (metrics_)
    metrics_->counter("shuo_grpc_requests_total", "gRPC calls by method and status code.",
                      {{"method", method}, {"code", code}})
        .inc();
  if (state_.log)
    state_.log->info("grpc method=aihub.ChatHub/{} code={} prompt_tokens={} completion_tokens={} ms={:.1f}{}{}",
                     method, code, n_prompt, n_generated, ms, status.ok() ? "" : " message=",
                     status.error_message());
}

}  // namespace shuo::api::chathub
