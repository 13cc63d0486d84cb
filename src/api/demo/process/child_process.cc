// Child process over pipes: posix_spawn (no shell), a poll() reader thread that turns the output
// into line events, SIGPIPE-safe writes, and terminate-and-reap (see child_process.h).
#include "api/demo/process/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace shuo::api::demo::process {

namespace {

constexpr size_t kEventOverheadBytes = 64;  // counted per queued event besides its text
constexpr size_t kDrainMaxBytes = size_t(1) << 20;  // per pipe and sync: a child writing nonstop cannot hold us
constexpr std::chrono::seconds kKillWait{30};  // after SIGKILL; only a process stuck in the kernel takes longer

std::string os_error(int err) { return std::string(::strerror(err)); }

// An owned descriptor, closed unless released.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Moves a descriptor to 3 or above: the child's dup2 onto 0-2 must never find one of our pipe
// ends already sitting there (possible when the server runs with stdin closed).
bool raise_fd(Fd& fd) {
  if (fd.get() >= 3) return true;
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return false;
  fd.reset(moved);
  return true;
}

Result<void> make_pipe(Fd& read_end, Fd& write_end) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return Error{ErrorCode::kIo, "pipe", os_error(errno)};
  read_end.reset(p[0]);
  write_end.reset(p[1]);
  if (!raise_fd(read_end) || !raise_fd(write_end)) return Error{ErrorCode::kIo, "pipe", os_error(errno)};
  return {};
}

bool set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// The inherited environment with spec.env set or replaced.
std::vector<std::string> child_environment(const ChildSpec& spec) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string_view entry(*e);
    const std::string_view key = entry.substr(0, entry.find('='));
    const bool replaced = std::any_of(spec.env.begin(), spec.env.end(), [&](const auto& kv) { return kv.first == key; });
    if (!replaced) env.emplace_back(entry);
  }
  for (const auto& [k, v] : spec.env) env.push_back(k + "=" + v);
  return env;
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

ExitStatus status_from_wait(int st) {
  ExitStatus s;
  if (WIFEXITED(st)) s.code = WEXITSTATUS(st);
  if (WIFSIGNALED(st)) s.signal = WTERMSIG(st);
  return s;
}

}  // namespace

const char* stream_name(Stream s) { return s == Stream::kStdout ? "stdout" : "stderr"; }

std::string ExitStatus::describe() const {
  if (signal != 0) {
    const char* abbrev = ::sigabbrev_np(signal);
    return "killed by signal " + std::to_string(signal) + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
  }
  if (code >= 0) return "exited with status " + std::to_string(code);
  return "ended (status unknown)";
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(const ChildSpec& spec, ChildOptions opts) {
  if (spec.program.empty()) return Error{ErrorCode::kBadField, "program", "is empty"};
  if (has_nul(spec.program) || has_nul(spec.working_dir) ||
      std::any_of(spec.args.begin(), spec.args.end(), [](const std::string& a) { return has_nul(a); }))
    return Error{ErrorCode::kBadField, "program", "an argument contains a NUL byte"};
  if (!spec.working_dir.empty()) {
    struct stat st {};
    if (::stat(spec.working_dir.c_str(), &st) != 0) return Error{ErrorCode::kNotFound, spec.working_dir, os_error(errno)};
    if (!S_ISDIR(st.st_mode)) return Error{ErrorCode::kBadField, spec.working_dir, "is not a directory"};
  }

  Fd in_r, in_w, out_r, out_w, err_r, err_w;
  SHUO_TRY(make_pipe(in_r, in_w));
  SHUO_TRY(make_pipe(out_r, out_w));
  SHUO_TRY(make_pipe(err_r, err_w));

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawnattr_init(&attr);
  ::posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
  ::posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  ::posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
  // Descriptors the server opened without O_CLOEXEC (other threads' sockets, files) stay ours.
  ::posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  if (!spec.working_dir.empty()) ::posix_spawn_file_actions_addchdir_np(&fa, spec.working_dir.c_str());

  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  ::posix_spawnattr_setpgroup(&attr, 0);
  sigset_t mask, defaults;
  sigemptyset(&mask);
  ::posix_spawnattr_setsigmask(&attr, &mask);
  sigemptyset(&defaults);
  for (int sig = 1; sig < SIGRTMIN; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) sigaddset(&defaults, sig);
  ::posix_spawnattr_setsigdefault(&attr, &defaults);

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(spec.program.c_str()));
  for (const std::string& a : spec.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env = child_environment(spec);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, spec.program.c_str(), &fa, &attr, argv.data(), envp.data());
  ::posix_spawn_file_actions_destroy(&fa);
  ::posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    const bool searched = spec.program.find('/') == std::string::npos;
    if (rc == ENOENT)
      return Error{ErrorCode::kNotFound, spec.program, searched ? "not found in PATH" : "no such file"};
    return Error{ErrorCode::kIo, spec.program, "cannot start: " + os_error(rc)};
  }
  in_r.reset();  // the child's ends: ours are closed so that EOF and EPIPE mean the child's side
  out_w.reset();
  err_w.reset();
  set_nonblocking(in_w.get());
  set_nonblocking(out_r.get());
  set_nonblocking(err_r.get());
  // A pidfd becomes readable when the child exits, so the reader needs no polling interval.
  // Kernels before 5.3 lack it; the reader then asks waitpid every 50 ms.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    // Without it the reader could not be stopped: end the child at once rather than leak it.
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    if (pidfd >= 0) ::close(pidfd);
    return Error{ErrorCode::kIo, "eventfd", os_error(errno)};
  }
  return std::unique_ptr<ChildProcess>(
      new ChildProcess(pid, in_w.release(), out_r.release(), err_r.release(), pidfd, wake, opts));
}

ChildProcess::ChildProcess(pid_t pid, int stdin_fd, int stdout_fd, int stderr_fd, int pidfd, int wake_fd,
                           ChildOptions opts)
    : pid_(pid), stdin_fd_(stdin_fd), out_fds_{stdout_fd, stderr_fd}, pidfd_(pidfd), wake_fd_(wake_fd),
      opts_(opts), splitters_{LineSplitter(opts.max_line_bytes), LineSplitter(opts.max_line_bytes)},
      reader_([this] { read_loop(); }) {}

ChildProcess::~ChildProcess() {
  terminate(std::chrono::milliseconds(2000));
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_reader();
  reader_.join();
  for (int fd : {stdin_fd_, out_fds_[0], out_fds_[1], pidfd_, wake_fd_})
    if (fd >= 0) ::close(fd);
}

void ChildProcess::wake_reader() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void ChildProcess::push(ChildEvent ev) {
  queued_bytes_ += ev.text.size() + kEventOverheadBytes;
  queue_.push_back(std::move(ev));
  changed_.notify_all();
}

bool ChildProcess::read_pipe(int idx, bool drain) {
  char buf[65536];
  const Stream stream = idx == 0 ? Stream::kStdout : Stream::kStderr;
  LineSplitter& splitter = splitters_[idx];
  size_t drained = 0;
  for (;;) {
    const ssize_t n = ::read(out_fds_[idx], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) {  // end of file (or an error, which ends the stream the same way)
      std::optional<std::string> rest = splitter.finish();
      ::close(out_fds_[idx]);
      out_fds_[idx] = -1;
      if (rest) {
        std::lock_guard lock(mu_);
        push(ChildEvent{ChildEvent::Kind::kLine, stream, std::move(*rest), {}});
      }
      return false;
    }
    std::vector<std::string> lines;
    const size_t tail_before = splitter.tail().size();
    splitter.push(std::string_view(buf, size_t(n)), lines);
    const std::string& tail = splitter.tail();
    const bool tail_grew = !tail.empty() && (!lines.empty() || tail.size() != tail_before);
    {
      std::lock_guard lock(mu_);
      for (std::string& l : lines) push(ChildEvent{ChildEvent::Kind::kLine, stream, std::move(l), {}});
      if (tail_grew && tail.size() <= opts_.max_partial_bytes)
        push(ChildEvent{ChildEvent::Kind::kPartial, stream, tail, {}});
    }
    drained += size_t(n);
    // One read per wake-up otherwise: the other pipe and the queue limit get a turn.
    if (!drain || drained >= kDrainMaxBytes) return true;
  }
}

bool ChildProcess::try_reap() {
  std::lock_guard lock(mu_);
  if (reaped_) return true;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = status_from_wait(st);
  } else if (!(r < 0 && errno == ECHILD)) {
    return false;  // still running
  }
  // (ECHILD: the process ignores SIGCHLD, so the kernel reaped it; the status is unknown.)
  reaped_ = true;
  changed_.notify_all();
  return true;
}

void ChildProcess::read_loop() {
  for (;;) {
    pollfd fds[4];
    int nfds = 0;
    int pipe_slot[2] = {-1, -1};
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      if (queued_bytes_ < opts_.max_queued_bytes) {
        for (int i = 0; i < 2; ++i)
          if (out_fds_[i] >= 0) {
            pipe_slot[i] = nfds;
            fds[nfds++] = pollfd{out_fds_[i], POLLIN, 0};
          }
      }
    }
    const int pid_slot = pidfd_ >= 0 ? nfds : -1;
    if (pidfd_ >= 0) fds[nfds++] = pollfd{pidfd_, POLLIN, 0};
    const int wake_slot = nfds;
    fds[nfds++] = pollfd{wake_fd_, POLLIN, 0};

    const int ready = ::poll(fds, nfds_t(nfds), pidfd_ >= 0 ? -1 : 50);
    const bool poll_failed = ready < 0 && errno != EINTR;  // not with valid descriptors; keep reaping
    if (poll_failed) ::usleep(50'000);
    if (ready <= 0 && pidfd_ >= 0 && !poll_failed) continue;
    if (!poll_failed && fds[wake_slot].revents) {
      uint64_t count;
      [[maybe_unused]] const ssize_t n = ::read(wake_fd_, &count, sizeof count);
    }
    for (int i = 0; i < 2; ++i)
      if (!poll_failed && pipe_slot[i] >= 0 && (fds[pipe_slot[i]].revents & (POLLIN | POLLHUP | POLLERR)))
        read_pipe(i, false);
    int syncs;
    {
      std::lock_guard lock(mu_);
      syncs = std::exchange(sync_requests_, 0);
    }
    if (syncs > 0) {
      for (int i = 0; i < 2; ++i)
        if (out_fds_[i] >= 0) read_pipe(i, true);
      std::lock_guard lock(mu_);
      for (int k = 0; k < syncs; ++k) push(ChildEvent{ChildEvent::Kind::kSynced, Stream::kStdout, {}, {}});
    }
    const bool maybe_exited = poll_failed || pid_slot < 0 || (fds[pid_slot].revents != 0);
    if (maybe_exited && try_reap()) {
      // Everything it wrote before exiting is in the pipes: pass it on before kExited. Output of
      // grandchildren still holding the pipes after that is dropped (they get EPIPE).
      for (int i = 0; i < 2; ++i)
        if (out_fds_[i] >= 0) {
          read_pipe(i, true);
          if (out_fds_[i] >= 0) {
            std::optional<std::string> rest = splitters_[i].finish();
            ::close(out_fds_[i]);
            out_fds_[i] = -1;
            if (rest) {
              std::lock_guard lock(mu_);
              push(ChildEvent{ChildEvent::Kind::kLine, i == 0 ? Stream::kStdout : Stream::kStderr, std::move(*rest), {}});
            }
          }
        }
      std::lock_guard lock(mu_);
      ChildEvent ev;
      ev.kind = ChildEvent::Kind::kExited;
      ev.status = status_;
      push(std::move(ev));
      return;
    }
  }
}

void ChildProcess::request_sync() {
  {
    std::lock_guard lock(mu_);
    ++sync_requests_;
  }
  wake_reader();
}

std::optional<ChildEvent> ChildProcess::next(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  changed_.wait_until(lock, deadline, [&] { return !queue_.empty() || exited_event_taken_; });
  if (queue_.empty()) return std::nullopt;
  ChildEvent ev = std::move(queue_.front());
  queue_.pop_front();
  const bool was_full = queued_bytes_ >= opts_.max_queued_bytes;
  queued_bytes_ -= ev.text.size() + kEventOverheadBytes;
  if (ev.kind == ChildEvent::Kind::kExited) {
    exited_event_taken_ = true;
    changed_.notify_all();  // other waiters: nothing more will come
  }
  lock.unlock();
  if (was_full && queued_bytes_ < opts_.max_queued_bytes) wake_reader();
  return ev;
}

Result<void> ChildProcess::write_line(std::string_view line, Clock::time_point deadline) {
  if (line.find('\n') != std::string_view::npos)
    return Error{ErrorCode::kBadField, "line", "contains a newline (one call writes one line)"};
  std::lock_guard wlock(write_mu_);
  if (stdin_fd_ < 0) return Error{ErrorCode::kIo, "stdin", "the backend's input is closed"};
  std::string data;
  data.reserve(line.size() + 1);
  data.append(line);
  data += '\n';

  // A write to a pipe whose reader is gone raises SIGPIPE, which would end the whole server.
  // Block it in this thread for the write and swallow the one our write caused.
  sigset_t pipe_set, old_mask, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE);

  Result<void> result;
  bool broken_pipe = false;
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(stdin_fd_, data.data() + off, data.size() - off);
    if (n > 0) {
      off += size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        result = Error{ErrorCode::kLimit, "stdin", "the backend did not read its input in time"};
        break;
      }
      pollfd p{stdin_fd_, POLLOUT, 0};
      ::poll(&p, 1, int(std::min<int64_t>(left, 1000)));
      continue;
    }
    broken_pipe = n < 0 && errno == EPIPE;
    result = Error{ErrorCode::kIo, "stdin",
                   broken_pipe ? "the backend closed its input" : "write failed: " + os_error(errno)};
    break;
  }
  if (broken_pipe && !was_pending) {
    const timespec zero{0, 0};
    ::sigtimedwait(&pipe_set, nullptr, &zero);
  }
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return result;
}

void ChildProcess::close_stdin() {
  std::lock_guard wlock(write_mu_);
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

ExitStatus ChildProcess::terminate(std::chrono::milliseconds grace) {
  std::unique_lock lock(mu_);
  // Signals only while the child is not reaped: until then its pid (and its group id) cannot
  // belong to anyone else. If it moved to a group of its own, the group is gone: signal it alone.
  auto signal_child = [&](int sig) {
    if (reaped_) return;
    if (::kill(-pid_, sig) != 0 && errno == ESRCH) ::kill(pid_, sig);
  };
  signal_child(SIGTERM);
  if (!changed_.wait_for(lock, grace, [&] { return reaped_; })) {
    signal_child(SIGKILL);
    changed_.wait_for(lock, kKillWait, [&] { return reaped_; });
  }
  return status_;
}

std::optional<ExitStatus> ChildProcess::exit_status() const {
  std::lock_guard lock(mu_);
  if (!reaped_) return std::nullopt;
  return status_;
}

}  // namespace shuo::api::demo::process
