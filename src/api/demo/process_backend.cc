// Process-mode chat and QA backends of the demo API (see process_backend.h).
#include "api/demo/process_backend.h"

#include <thread>
#include <utility>

namespace shuo::api::demo {

BackendError backend_error_from(const process::BackendError& e) {
  using Kind = process::BackendError::Kind;
  BackendError out;
  out.status = e.http_status();
  out.code = e.kind == Kind::kNotRunning ? "session_not_running" : process::backend_error_kind_name(e.kind);
  if (e.kind == Kind::kBadMessage) out.param = "msg";
  if (e.kind == Kind::kNotRunning) out.param = "id";
  out.message = e.message;
  return out;
}

std::string qa_process_message(const QaQuestion& q) {
  if (q.text.empty()) return q.title;
  return q.title + "\n\n" + q.text;
}

Result<std::unique_ptr<process::ProcessChatBackend>> make_process_backend(const ProcessModeFlags& flags) {
  SHUO_ASSIGN(process::ChildSpec spec, process::make_backend_command(flags.cmd, flags.pwd, flags.args, flags.flag_prefix));
  process::ProcessChatOptions o;
  o.command = std::move(spec);
  // No default: an announced personality is told apart from none, which gets the requested one.
  o.protocol.default_personality.clear();
  o.start_timeout = flags.start_timeout;
  o.reply_timeout = flags.reply_timeout;
  o.log = flags.log;
  return process::ProcessChatBackend::create(std::move(o));
}

// ---- ProcessRunner ----------------------------------------------------------------------------

ProcessRunner::ProcessRunner(std::unique_ptr<process::ProcessChatBackend> backend, std::string what)
    : backend_(std::move(backend)), what_(std::move(what)) {}

ProcessRunner::~ProcessRunner() {
  closing_ = true;
  // A start that passed its closing_ check before we set it may spawn a child after any single
  // reset(): keep ending children until no start is running (each reset makes a waiting start
  // return at once), so that joining the threads never waits for a start-up timeout.
  for (;;) {
    backend_->reset();
    if (starts_running_ == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  starts_.stop();     // what is still queued fails with closing_error()
  messages_.stop();
  backend_->reset();  // nothing runs any more; ends nothing unless a start raced the loop above
}

BackendError ProcessRunner::closing_error() const {
  BackendError e;
  e.status = 503;
  e.code = "unavailable";
  e.message = "the server is shutting down; the " + what_ + " backend was stopped";
  return e;
}

void ProcessRunner::start(std::string fallback_personality, ProgressFn progress,
                          std::function<void(Outcome<SessionInfo>)> done) {
  auto task = [this, fallback = std::move(fallback_personality), progress = std::move(progress), done]() {
    ++starts_running_;
    if (closing_) {
      --starts_running_;
      return done(Outcome<SessionInfo>{closing_error(), {}});
    }
    auto started = backend_->start(progress);
    --starts_running_;
    if (!started.ok()) {
      if (closing_) return done(Outcome<SessionInfo>{closing_error(), {}});
      return done(Outcome<SessionInfo>{backend_error_from(started.error()), {}});
    }
    SessionInfo info;
    info.id = started->id;
    info.personality = started->personality.empty() ? fallback : started->personality;
    done(Outcome<SessionInfo>{std::nullopt, std::move(info)});
  };
  if (!starts_.post(std::move(task))) done(Outcome<SessionInfo>{closing_error(), {}});
}

bool ProcessRunner::is_live(int64_t id) const {
  std::optional<process::BackendInfo> running = backend_->running();
  return running && running->id == id;
}

void ProcessRunner::send(int64_t id, std::string message, std::function<void(Outcome<std::string>)> done) {
  auto task = [this, id, message = std::move(message), done]() {
    if (closing_) return done(Outcome<std::string>{closing_error(), {}});
    auto reply = backend_->send(id, message);
    if (!reply.ok()) {
      if (closing_) return done(Outcome<std::string>{closing_error(), {}});
      return done(Outcome<std::string>{backend_error_from(reply.error()), {}});
    }
    done(Outcome<std::string>{std::nullopt, std::move(*reply)});
  };
  if (!messages_.post(std::move(task))) done(Outcome<std::string>{closing_error(), {}});
}

void ProcessRunner::clear(int64_t id, std::function<void(Outcome<Done>)> done) {
  auto task = [this, id, done]() {
    if (closing_) return done(Outcome<Done>{closing_error(), {}});
    auto cleared = backend_->clear(id);
    if (!cleared.ok()) {
      if (closing_) return done(Outcome<Done>{closing_error(), {}});
      return done(Outcome<Done>{backend_error_from(cleared.error()), {}});
    }
    done(Outcome<Done>{});
  };
  if (!messages_.post(std::move(task))) done(Outcome<Done>{closing_error(), {}});
}

// ---- adapters ---------------------------------------------------------------------------------

void ProcessChatAdapter::start(StartRequest request, ProgressFn progress,
                               std::function<void(Outcome<SessionInfo>)> done) {
  runner_.start(std::move(request.personality), std::move(progress), std::move(done));
}

CancelFn ProcessChatAdapter::send(ChatContext context, std::string msg, ReplyOptions,
                                  std::function<void(Outcome<std::string>)> done) {
  runner_.send(context.id, std::move(msg), std::move(done));
  return nullptr;  // see the header: a reply in flight is not interrupted
}

void ProcessChatAdapter::forget(int64_t id, std::function<void(Outcome<Done>)> done) {
  runner_.clear(id, std::move(done));
}

void ProcessQaAdapter::start(StartRequest request, ProgressFn progress,
                             std::function<void(Outcome<SessionInfo>)> done) {
  runner_.start(std::move(request.personality), std::move(progress), std::move(done));
}

CancelFn ProcessQaAdapter::answer(int64_t id, QaQuestion question, ReplyOptions,
                                  std::function<void(Outcome<std::string>)> done) {
  runner_.send(id, qa_process_message(question), std::move(done));
  return nullptr;
}

}  // namespace shuo::api::demo
