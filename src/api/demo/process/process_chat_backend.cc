// Process-mode chat backend: child process + line protocol + the session rules of spec §3.
#include "api/demo/process/process_chat_backend.h"

#include <atomic>
#include <deque>

#include "api/demo/process/argv_split.h"
#include "text/utf8.h"

namespace shuo::api::demo::process {

namespace {

constexpr size_t kStderrTailLines = 5;       // quoted in an error when the backend ends
constexpr size_t kStderrTailLineBytes = 300;

std::string seconds_text(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

BackendError make(BackendError::Kind kind, std::string message) { return BackendError{kind, std::move(message)}; }

}  // namespace

int BackendError::http_status() const {
  switch (kind) {
    case Kind::kSpawnFailed:
    case Kind::kDied: return 502;
    case Kind::kTimedOut: return 504;
    case Kind::kNotRunning: return 404;
    case Kind::kBadMessage: return 400;
    case Kind::kUnsupported: return 501;
    case Kind::kReplaced: return 409;
  }
  return 500;
}

const char* backend_error_kind_name(BackendError::Kind kind) {
  switch (kind) {
    case BackendError::Kind::kSpawnFailed: return "spawn_failed";
    case BackendError::Kind::kDied: return "died";
    case BackendError::Kind::kTimedOut: return "timed_out";
    case BackendError::Kind::kNotRunning: return "not_running";
    case BackendError::Kind::kBadMessage: return "bad_message";
    case BackendError::Kind::kUnsupported: return "unsupported";
    case BackendError::Kind::kReplaced: return "replaced";
  }
  return "unknown";
}

Result<ChildSpec> make_backend_command(std::string_view cmd, std::string_view pwd, std::string_view args,
                                       std::string_view flag_prefix) {
  const std::string prefix(flag_prefix);
  if (cmd.empty()) return Error{ErrorCode::kBadField, prefix + "-cmd", "is empty"};
  SHUO_ASSIGN(std::vector<std::string> argv, argv_split(args, prefix + "-args"));
  ChildSpec spec;
  spec.program = std::string(cmd);
  spec.args = std::move(argv);
  spec.working_dir = std::string(pwd);
  spec.env.emplace_back("PYTHONUNBUFFERED", "1");
  return spec;
}

// One started backend. `child` and `reader` are used under `io`, by one call at a time.
struct ProcessChatBackend::Instance {
  Instance(std::unique_ptr<ChildProcess> c, LineProtocol p) : child(std::move(c)), reader(std::move(p)) {
    info.id = child->pid();
  }
  std::unique_ptr<ChildProcess> child;
  std::mutex io;
  ProtocolReader reader;                 // under io
  std::deque<std::string> stderr_tail;   // under io: the last few stderr lines
  std::atomic<bool> replaced{false};     // ended by start()/reset(), not by a failure of its own
  bool ready = false;                    // under the backend's mu_
  BackendInfo info;                      // id fixed; personality set under mu_ when ready

  // A log line the protocol passed on; stderr lines are remembered for error messages.
  std::string take_log(std::string line) {
    line = text::sanitize_utf8(line);
    if (line.rfind("stderr:", 0) == 0) {
      stderr_tail.push_back(line.substr(7, kStderrTailLineBytes));
      if (stderr_tail.size() > kStderrTailLines) stderr_tail.pop_front();
    }
    return line;
  }
};

Result<std::unique_ptr<ProcessChatBackend>> ProcessChatBackend::create(ProcessChatOptions opts) {
  SHUO_TRY(validate(opts.protocol));
  if (opts.command.program.empty()) return Error{ErrorCode::kBadField, "command", "is empty"};
  if (opts.start_timeout.count() <= 0) return Error{ErrorCode::kBadField, "start_timeout", "must be > 0"};
  if (opts.reply_timeout.count() <= 0) return Error{ErrorCode::kBadField, "reply_timeout", "must be > 0"};
  if (opts.kill_grace.count() < 0) return Error{ErrorCode::kBadField, "kill_grace", "must be ≥ 0"};
  return std::unique_ptr<ProcessChatBackend>(new ProcessChatBackend(std::move(opts)));
}

ProcessChatBackend::~ProcessChatBackend() { reset(); }

void ProcessChatBackend::log(std::string_view line) const {
  if (opts_.log) opts_.log(line);
}

void ProcessChatBackend::reset() {
  std::shared_ptr<Instance> old;
  {
    std::lock_guard lock(mu_);
    old = std::move(current_);
  }
  if (!old) return;
  old->replaced = true;
  old->child->terminate(opts_.kill_grace);
}

ExitStatus ProcessChatBackend::discard(const std::shared_ptr<Instance>& inst) {
  {
    std::lock_guard lock(mu_);
    if (current_ == inst) current_.reset();
  }
  return inst->child->terminate(opts_.kill_grace);
}

BackendError ProcessChatBackend::ended_error(const Instance& inst, const std::string& what,
                                             const ExitStatus& status) const {
  if (inst.replaced) return make(BackendError::Kind::kReplaced, "the chat backend was reset by another request " + what);
  std::string m = "the chat backend (pid " + std::to_string(inst.info.id) + ") " + status.describe() + " " + what;
  if (!inst.stderr_tail.empty()) {
    m += "; its last stderr lines:";
    for (const std::string& l : inst.stderr_tail) m += " | " + l;
  }
  return make(BackendError::Kind::kDied, std::move(m));
}

std::optional<BackendInfo> ProcessChatBackend::running() const {
  std::lock_guard lock(mu_);
  if (!current_ || !current_->ready) return std::nullopt;
  return current_->info;
}

BackendResult<BackendInfo> ProcessChatBackend::start(const ProgressFn& progress) {
  reset();
  auto spawned = ChildProcess::spawn(opts_.command, opts_.child);
  if (!spawned.ok())
    return make(BackendError::Kind::kSpawnFailed, "cannot start the chat backend: " + spawned.error().to_string());
  auto inst = std::make_shared<Instance>(std::move(*spawned), opts_.protocol);
  std::shared_ptr<Instance> raced;  // a concurrent start() that published its backend first
  {
    std::lock_guard lock(mu_);
    raced = std::exchange(current_, inst);
  }
  if (raced) {
    raced->replaced = true;
    raced->child->terminate(opts_.kill_grace);
  }

  std::lock_guard io(inst->io);
  const auto deadline = Clock::now() + opts_.start_timeout;
  for (;;) {
    std::optional<ChildEvent> ev = inst->child->next(deadline);
    if (!ev) {
      if (inst->replaced) return ended_error(*inst, "while it was starting", {});
      discard(inst);
      return make(BackendError::Kind::kTimedOut, "the chat backend was not ready within " +
                                                     seconds_text(opts_.start_timeout) + "; it was stopped");
    }
    if (ev->kind == ChildEvent::Kind::kExited) {
      discard(inst);
      return ended_error(*inst, "before it was ready", ev->status);
    }
    ProtocolReader::Step step = inst->reader.on_start_event(*ev);
    if (step.log && progress) progress(inst->take_log(std::move(*step.log)));
    if (step.ready) break;
  }
  // Start-up lines the backend wrote to stderr just before its prompt (the personality of
  // interact.py, for one) may still sit unread in the other pipe: take them first.
  inst->child->request_sync();
  while (std::optional<ChildEvent> ev = inst->child->next(deadline)) {
    if (ev->kind == ChildEvent::Kind::kSynced) break;
    if (ev->kind == ChildEvent::Kind::kExited) {
      discard(inst);
      return ended_error(*inst, "before it was ready", ev->status);
    }
    ProtocolReader::Step step = ev->stream == Stream::kStderr ? inst->reader.on_start_event(*ev)
                                                               : inst->reader.on_idle_event(*ev);
    if (step.log && progress) progress(inst->take_log(std::move(*step.log)));
  }
  std::lock_guard lock(mu_);
  if (current_ != inst) return make(BackendError::Kind::kReplaced, "the chat backend was reset by another request while it was starting");
  inst->info.personality = text::sanitize_utf8(inst->reader.personality());
  inst->ready = true;
  return inst->info;
}

std::shared_ptr<ProcessChatBackend::Instance> ProcessChatBackend::find_ready(int64_t id) const {
  std::lock_guard lock(mu_);
  if (!current_ || !current_->ready || current_->info.id != id) return nullptr;
  return current_;
}

BackendResult<std::string> ProcessChatBackend::exchange(const std::shared_ptr<Instance>& inst, const std::string& line) {
  std::lock_guard io(inst->io);
  if (inst->replaced) return make(BackendError::Kind::kReplaced, "the chat backend was reset by another request");
  // Whatever it wrote since the last reply (log lines, a repeated prompt) is not part of this one.
  while (std::optional<ChildEvent> ev = inst->child->next(Clock::now())) {
    if (ev->kind == ChildEvent::Kind::kExited) {
      discard(inst);
      return ended_error(*inst, "before the message was sent", ev->status);
    }
    ProtocolReader::Step step = inst->reader.on_idle_event(*ev);
    if (step.log) log(inst->take_log(std::move(*step.log)));
  }

  const auto deadline = Clock::now() + opts_.reply_timeout;
  if (auto w = inst->child->write_line(line, deadline); !w.ok()) {
    const bool timed_out = w.error().code == ErrorCode::kLimit;
    const ExitStatus st = discard(inst);
    if (timed_out)
      return make(BackendError::Kind::kTimedOut, "the chat backend did not read the message within " +
                                                     seconds_text(opts_.reply_timeout) + "; it was stopped");
    // It closed its stdin: collect what it wrote before, for the message.
    while (std::optional<ChildEvent> ev = inst->child->next(Clock::now())) {
      ProtocolReader::Step step = inst->reader.on_idle_event(*ev);
      if (step.log) log(inst->take_log(std::move(*step.log)));
    }
    return ended_error(*inst, "(" + w.error().message + ") before the message was sent", st);
  }
  for (;;) {
    std::optional<ChildEvent> ev = inst->child->next(deadline);
    if (!ev) {
      if (inst->replaced) return ended_error(*inst, "while it was answering", {});
      discard(inst);
      return make(BackendError::Kind::kTimedOut, "the chat backend gave no complete reply within " +
                                                     seconds_text(opts_.reply_timeout) + "; it was stopped");
    }
    if (ev->kind == ChildEvent::Kind::kExited) {
      discard(inst);
      return ended_error(*inst, "while it was answering", ev->status);
    }
    ProtocolReader::Step step = inst->reader.on_reply_event(*ev);
    if (step.log) log(inst->take_log(std::move(*step.log)));
    if (step.reply_done) return text::sanitize_utf8(inst->reader.take_reply());
  }
}

BackendResult<std::string> ProcessChatBackend::send(int64_t id, std::string_view message) {
  auto line = encode_message(message);
  if (!line.ok()) return make(BackendError::Kind::kBadMessage, line.error().to_string());
  std::shared_ptr<Instance> inst = find_ready(id);
  if (!inst) return make(BackendError::Kind::kNotRunning, "no chat backend with id " + std::to_string(id) + " is running");
  return exchange(inst, *line);
}

BackendResult<Done> ProcessChatBackend::clear(int64_t id) {
  if (opts_.protocol.clear_command.empty())
    return make(BackendError::Kind::kUnsupported, "the chat backend has no clear command");
  std::shared_ptr<Instance> inst = find_ready(id);
  if (!inst) return make(BackendError::Kind::kNotRunning, "no chat backend with id " + std::to_string(id) + " is running");
  auto reply = exchange(inst, opts_.protocol.clear_command);
  if (!reply.ok()) return reply.error();
  return Done{};
}

}  // namespace shuo::api::demo::process
