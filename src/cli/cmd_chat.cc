// `shuo chat`: an interactive chat with a GGUF model in the terminal, on the same engine and chat
// formats as `shuo serve`. Replies stream as they are generated; Ctrl-C stops a reply (the
// engine request is cancelled) and, twice at the prompt, leaves. Input rules: chat_input.h.
#include <CLI/CLI.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/openai/chat_format.h"
#include "api/openai/reply.h"
#include "cli/chat_input.h"
#include "cli/commands.h"
#include "cli/kv_cache_flag.h"
#include "cli/model_source.h"
#include "cli/sampling_flags.h"
#include "engine/engine.h"
#include "engine/sampler.h"
#include "format/gguf.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

namespace shuo::cli {

namespace {

using OJson = nlohmann::ordered_json;

struct ChatArgs {
  std::string model;
  ModelSourceOptions source;  // --tokenizer, …
  format::GgmlType kv_type = format::GgmlType::F16;
  std::string system;
  int32_t n_predict = -1;
  int32_t threads = 0;
  int32_t ctx = 0;
  bool verbose = false;
  engine::SamplingParams sampling;
  int64_t seed = -1;
};

int fail(const Error& e) {
  std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
  return 1;
}

// SIGINT as a readable descriptor. It is blocked in this thread before any other thread exists,
// so every thread inherits the block and no handler interrupts the engine mid-step; the main
// loop polls the descriptor next to stdin or the reply channel.
class InterruptSignal {
 public:
  InterruptSignal() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
    fd_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  }
  // The mask stays: restoring it would deliver a pending SIGINT with its default action.
  ~InterruptSignal() {
    if (fd_ >= 0) ::close(fd_);
  }
  InterruptSignal(const InterruptSignal&) = delete;
  InterruptSignal& operator=(const InterruptSignal&) = delete;
  int fd() const { return fd_; }
  void take() {
    signalfd_siginfo info;
    while (::read(fd_, &info, sizeof info) == ssize_t(sizeof info)) {
    }
  }

 private:
  int fd_ = -1;
};

// Lines from stdin (a terminal or a pipe), unless SIGINT comes first.
class StdinLines {
 public:
  enum class Event { kLine, kEof, kInterrupt };

  Event next(int interrupt_fd, std::string* line) {
    for (;;) {
      if (const size_t nl = buf_.find('\n'); nl != std::string::npos) {
        *line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return Event::kLine;
      }
      if (eof_) {
        if (buf_.empty()) return Event::kEof;
        *line = std::move(buf_);
        buf_.clear();
        return Event::kLine;
      }
      pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {interrupt_fd, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        eof_ = true;
        continue;
      }
      if (fds[1].revents) return Event::kInterrupt;
      if (fds[0].revents) {
        char tmp[4096];
        const ssize_t n = ::read(STDIN_FILENO, tmp, sizeof tmp);
        if (n > 0) {
          buf_.append(tmp, size_t(n));
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          eof_ = true;
        }
      }
    }
  }

 private:
  std::string buf_;
  bool eof_ = false;
};

// An eventfd shared by the session and its reply channels: the engine thread may still be
// inside wake() when the session ends, so the descriptor lives until the last channel is gone.
struct Wakeup {
  Wakeup() : fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~Wakeup() {
    if (fd >= 0) ::close(fd);
  }
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;
  const int fd;
};

// The engine thread puts a reply's pieces here; the main thread is woken through the eventfd.
struct ReplyChannel {
  explicit ReplyChannel(std::shared_ptr<const Wakeup> w) : wakeup(std::move(w)) {}
  void piece(std::string_view p) {
    {
      std::lock_guard lock(mu);
      text += p;
    }
    wake();
  }
  void finish(api::openai::ReplyResult r) {
    {
      std::lock_guard lock(mu);
      done = std::move(r);
    }
    wake();
  }
  void wake() const {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wakeup->fd, &one, sizeof one);
  }

  const std::shared_ptr<const Wakeup> wakeup;
  std::mutex mu;
  std::string text;                               // not yet printed
  std::optional<api::openai::ReplyResult> done;
};

class ChatSession {
 public:
  ChatSession(const ChatArgs& a, engine::Engine& engine, const text::Tokenizer& tok, const api::openai::ChatFormat& fmt,
              InterruptSignal& sigint, int32_t n_ctx)
      : a_(a), engine_(engine), tok_(tok), fmt_(fmt), sigint_(sigint), n_ctx_(n_ctx), system_(a.system),
        wakeup_(std::make_shared<const Wakeup>()), event_fd_(wakeup_->fd) {}

  bool broken() const { return event_fd_ < 0; }

  // The prompt loop; returns when the user leaves.
  void run() {
    const bool tty_in = ::isatty(STDIN_FILENO) != 0;
    const bool show_prompt = tty_in && ::isatty(STDOUT_FILENO) != 0;
    if (tty_in)
      std::fprintf(stderr, "shuo chat: %s. /help for commands, Ctrl-D to leave.\n", fmt_.describe().c_str());
    ChatInputAssembler input;
    StdinLines lines;
    int interrupts = 0;  // Ctrl-C at the prompt in a row
    for (;;) {
      if (show_prompt) {
        std::fputs(input.in_progress() ? "... " : "> ", stdout);
        std::fflush(stdout);
      }
      std::string line;
      const StdinLines::Event ev = lines.next(sigint_.fd(), &line);
      if (ev == StdinLines::Event::kInterrupt) {
        sigint_.take();
        input.reset();
        if (++interrupts >= 2) {
          std::fputs("\n", stderr);
          return;
        }
        std::fputs("\n(Ctrl-C again or Ctrl-D to leave)\n", stderr);
        continue;
      }
      const bool eof = ev == StdinLines::Event::kEof;
      std::optional<ChatEntry> entry = eof ? input.finish() : input.feed(std::move(line));
      if (entry) {
        interrupts = 0;
        if (!handle(*entry)) return;
      }
      if (eof) {
        if (show_prompt) std::fputs("\n", stdout);
        return;
      }
    }
  }

 private:
  // Returns false for /exit.
  bool handle(const ChatEntry& e) {
    switch (e.kind) {
      case ChatEntry::Kind::kEmpty: return true;
      case ChatEntry::Kind::kExit: return false;
      case ChatEntry::Kind::kHelp: std::fputs(ChatInputAssembler::help_text(), stderr); return true;
      case ChatEntry::Kind::kClear:
        history_ = OJson::array();
        std::fputs("(the conversation is forgotten)\n", stderr);
        return true;
      case ChatEntry::Kind::kSystem:
        system_ = text::sanitize_utf8(e.text);
        std::fputs(system_.empty() ? "(no system prompt)\n" : "(system prompt set)\n", stderr);
        return true;
      case ChatEntry::Kind::kUnknownCommand:
        std::fprintf(stderr, "unknown command %s (/help lists them; // sends a message starting with /)\n", e.text.c_str());
        return true;
      case ChatEntry::Kind::kMessage: turn(e.text); return true;
    }
    return true;
  }

  OJson messages() const {
    OJson m = OJson::array();
    if (!system_.empty()) m.push_back(OJson{{"role", "system"}, {"content", system_}});
    for (const auto& h : history_) m.push_back(h);
    return m;
  }

  // Drops the oldest exchange: the first user message and the replies up to the next one.
  void forget_oldest_turn() {
    size_t end = 1;
    while (end < history_.size() && history_[end]["role"] != "user") ++end;
    history_.erase(history_.begin(), history_.begin() + std::ptrdiff_t(end));
  }

  // The current conversation as prompt tokens with room for a reply, forgetting the oldest turns
  // if it does not fit. nullopt (and the message dropped) if the message alone does not fit.
  std::optional<api::openai::ChatPrompt> fit_prompt(std::string* rendered_out) {
    for (;;) {
      auto rendered = fmt_.render(messages(), /*add_generation_prompt=*/true, OJson::object());
      if (!rendered.ok()) {
        std::fprintf(stderr, "error: %s\n", rendered.error().to_string().c_str());
        history_.erase(history_.end() - 1);
        return std::nullopt;
      }
      api::openai::ChatPrompt p = fmt_.encode(tok_, *rendered);
      if (int64_t(p.ids.size()) < n_ctx_) {
        *rendered_out = std::move(*rendered);
        return p;
      }
      if (history_.size() <= 1) {
        std::fprintf(stderr, "error: the prompt is %zu tokens: no room for a reply in the context of %d (--ctx)\n",
                     p.ids.size(), n_ctx_);
        history_.erase(history_.end() - 1);
        return std::nullopt;
      }
      std::fputs("(the conversation is longer than the context: the oldest turn is forgotten)\n", stderr);
      forget_oldest_turn();
    }
  }

  void turn(const std::string& message) {
    history_.push_back(OJson{{"role", "user"}, {"content", text::sanitize_utf8(message)}});
    std::string rendered;
    std::optional<api::openai::ChatPrompt> prompt = fit_prompt(&rendered);
    if (!prompt) return;
    if (a_.verbose)
      std::fprintf(stderr, "--- prompt (%zu tokens) ---\n%s\n--- end of prompt ---\n", prompt->ids.size(),
                   rendered.c_str());
    std::fflush(stderr);

    api::openai::ReplySpec spec;
    const int32_t room = n_ctx_ - int32_t(prompt->ids.size());
    spec.max_tokens = a_.n_predict > 0 ? std::min(a_.n_predict, room) : room;
    spec.prompt = std::move(prompt->ids);
    spec.strip_leading_space = prompt->strip_leading_space;
    spec.sampling = a_.sampling;
    auto channel = std::make_shared<ReplyChannel>(wakeup_);
    const auto t0 = std::chrono::steady_clock::now();
    auto handle = api::openai::start_reply(
        engine_, tok_, std::move(spec), [channel](std::string_view p) { channel->piece(p); },
        [channel](api::openai::ReplyResult r) { channel->finish(std::move(r)); });
    if (!handle.ok()) {
      std::fprintf(stderr, "error: %s\n", handle.error().to_string().c_str());
      history_.erase(history_.end() - 1);
      return;
    }

    api::openai::ReplyResult result;
    for (bool done = false; !done;) {
      pollfd fds[2] = {{event_fd_, POLLIN, 0}, {sigint_.fd(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
      if (fds[1].revents) {
        sigint_.take();
        (*handle)->cancel();  // the engine ends the request at its next step; on_done follows
      }
      if (fds[0].revents) {
        uint64_t count;
        [[maybe_unused]] const ssize_t n = ::read(event_fd_, &count, sizeof count);
      }
      std::string text;
      {
        std::lock_guard lock(channel->mu);
        text.swap(channel->text);
        if (channel->done) {
          result = std::move(*channel->done);
          done = true;
        }
      }
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    }
    std::fputs("\n", stdout);
    std::fflush(stdout);
    // A stopped reply stays in the conversation as far as it got: that is what the user saw.
    history_.push_back(OJson{{"role", "assistant"}, {"content", result.text}});
    if (result.finish == engine::FinishReason::kError)
      std::fprintf(stderr, "error: the reply failed: %s\n", result.error.c_str());
    if (a_.verbose) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "[reply: %d prompt tokens, %d generated, finish: %s, %.1f tok/s]\n", result.n_prompt,
                   result.n_generated, engine::finish_reason_name(result.finish), s > 0 ? result.n_generated / s : 0.0);
      std::fflush(stderr);
    }
  }

  const ChatArgs& a_;
  engine::Engine& engine_;
  const text::Tokenizer& tok_;
  const api::openai::ChatFormat& fmt_;
  InterruptSignal& sigint_;
  const int32_t n_ctx_;
  std::string system_;
  OJson history_ = OJson::array();  // user and assistant messages, oldest first
  const std::shared_ptr<const Wakeup> wakeup_;
  const int event_fd_;
};

int run_chat(ChatArgs a) {
  InterruptSignal sigint;  // before the engine starts its threads (see InterruptSignal)
  if (sigint.fd() < 0) return fail({ErrorCode::kIo, "signalfd", "cannot watch SIGINT"});
  auto source = open_model_source(a.model, a.source);
  if (!source) return fail(source.error());
  const format::GgufFile* file = &source->file;
  const std::unique_ptr<text::Tokenizer>& tok = source->tokenizer;
  auto model = model::load_model(*file);
  if (!model) return fail(model.error());
  if (auto k = (*model)->check_kv_type(a.kv_type); !k) return fail(k.error());
  const model::ModelConfig& cfg = (*model)->config();
  if (a.seed >= 0) {
    a.sampling.seed = static_cast<uint64_t>(a.seed);
    a.sampling.has_seed = true;
  }
  if (auto v = engine::validate(a.sampling, cfg.n_vocab); !v) return fail(v.error());
  if (a.ctx < 0) return fail({ErrorCode::kBadField, "--ctx", "must be ≥ 0"});
  if (a.n_predict == 0 || a.n_predict < -1) return fail({ErrorCode::kBadField, "-n", "must be ≥ 1, or -1 (until the context is full)"});
  const int32_t n_ctx = a.ctx > 0 ? a.ctx : std::min(cfg.n_ctx_train > 0 ? cfg.n_ctx_train : 4096, 4096);

  const text::Tokenizer& t = *tok;
  std::string warning;
  const api::openai::ChatFormat fmt = api::openai::chat_format_for_model(*file, cfg.arch, t, &warning);
  if (!warning.empty()) std::fprintf(stderr, "warning: %s\n", warning.c_str());

  engine::EngineOptions eo;
  eo.n_ctx = n_ctx;
  eo.max_running = 1;
  eo.max_queue = 1;
  eo.threads = a.threads;
  eo.kv_type = a.kv_type;
  eo.is_eog = [&t](int32_t id) { return t.is_eog(id); };
  engine::Engine engine(**model, eo);
  ChatSession session(a, engine, t, fmt, sigint, n_ctx);
  if (session.broken()) return fail({ErrorCode::kIo, "eventfd", "cannot create one"});
  session.run();
  return 0;
}

}  // namespace

void add_chat_command(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("chat", "Chat with a GGUF model in the terminal (/help inside for commands)");
  auto a = std::make_shared<ChatArgs>();
  cmd->add_option("-m,--model,--base_model", a->model,
                  "GGUF model file or Hugging Face model folder (default: the built-in demo model)");
  add_model_source_flags(*cmd, a->source);
  cmd->add_option("--system", a->system, "system prompt to start with (/system changes it)");
  add_kv_cache_flag(*cmd, a->kv_type);
  cmd->add_option("-n,--n-predict", a->n_predict, "reply tokens at most, -1 = until the context is full")
      ->capture_default_str();
  add_sampling_flags(*cmd, a->sampling, a->seed);
  cmd->add_option("-t,--threads", a->threads, "threads (default: physical cores)");
  cmd->add_option("-c,--ctx", a->ctx, "context size (default: the model's, at most 4096)");
  cmd->add_flag("-v,--verbose", a->verbose, "print each prompt as rendered and each reply's token counts to stderr");
  cmd->callback([=] { *exit_code = run_chat(*a); });
}

}  // namespace shuo::cli
