// Spawning: output, exit codes and signals, command lookup, argv without a shell, stdin, the
// controlled environment, the working directory, and nothing of the host leaking in.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "device_harness.hpp"

namespace runhost::devices::local {
namespace {

namespace fs = std::filesystem;
using testing::make_spec;
using testing::run_until;

class SpawnTest : public testing::DeviceTest {
 protected:
  // Runs to the exit; the process object is kept for inspection.
  void run(std::vector<std::string> argv) { run(make_spec(std::move(argv), dir_.path())); }
  void run(SpawnSpec spec) {
    ASSERT_NO_FATAL_FAILURE(start(std::move(spec)));
    ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  }
};

TEST_F(SpawnTest, OutputOnBothStreamsAndExitCodeZero) {
  run({"sh", "-c", "echo hello; echo oops >&2"});
  EXPECT_EQ(rec_.out, "hello\n");
  EXPECT_EQ(rec_.err, "oops\n");
  EXPECT_EQ(rec_.exit->struct_size, sizeof(rh_exit));
  EXPECT_EQ(rec_.exit->kind, RH_EXIT_EXITED);
  EXPECT_EQ(rec_.exit->code, 0);
  EXPECT_EQ(rec_.exit->flags, 0u);
  EXPECT_EQ(rec_.order.back(), "exit");
}

TEST_F(SpawnTest, ExitCodeIsReported) {
  run({"sh", "-c", "exit 3"});
  EXPECT_EQ(rec_.exit->kind, RH_EXIT_EXITED);
  EXPECT_EQ(rec_.exit->code, 3);
}

TEST_F(SpawnTest, DeathBySignalIsReported) {
  run({"sh", "-c", "kill -SEGV $$"});
  EXPECT_EQ(rec_.exit->kind, RH_EXIT_SIGNALED);
  EXPECT_EQ(rec_.exit->signal, SIGSEGV);
  EXPECT_EQ(rec_.exit->flags, 0u);
}

TEST_F(SpawnTest, MissingCommandIsRuntimeNotFoundNamingIt) {
  auto started = LocalProcess::start(io_, io_.get_executor(), make_spec({"no-such-runtime-xyz", "-p", "hi"}, dir_.path()),
                                     testing::fast_options(), rec_);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::runtime_not_found);
  EXPECT_NE(started.error().message.find("'no-such-runtime-xyz'"), std::string::npos) << started.error().message;
  EXPECT_NE(started.error().message.find("PATH ("), std::string::npos) << started.error().message;
}

TEST_F(SpawnTest, CommandIsLookedUpOnTheSpecsPathNotTheHosts) {
  auto spec = make_spec({"sh", "-c", "true"}, dir_.path(), {{"PATH", (dir_.path() / "empty-bin").string()}});
  auto started = LocalProcess::start(io_, io_.get_executor(), std::move(spec), testing::fast_options(), rec_);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::runtime_not_found);
  EXPECT_NE(started.error().message.find("empty-bin"), std::string::npos) << started.error().message;
}

TEST_F(SpawnTest, NonExecutableFileIsNotARuntime) {
  fs::create_directories(dir_.path() / "bin");
  runhost::testing::write_file(dir_.path() / "bin" / "tool", "#!/bin/sh\necho hi\n");
  auto spec = make_spec({"tool"}, dir_.path(), {{"PATH", (dir_.path() / "bin").string()}});
  auto started = LocalProcess::start(io_, io_.get_executor(), std::move(spec), testing::fast_options(), rec_);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::runtime_not_found);

  fs::permissions(dir_.path() / "bin" / "tool", fs::perms::owner_exec, fs::perm_options::add);
  auto ok = make_spec({"tool"}, dir_.path(), {{"PATH", (dir_.path() / "bin").string()}});
  run(std::move(ok));
  EXPECT_EQ(rec_.out, "hi\n");
}

TEST_F(SpawnTest, EmptyArgvIsRefused) {
  auto started = LocalProcess::start(io_, io_.get_executor(), make_spec({}, dir_.path()), testing::fast_options(), rec_);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::runtime_not_found);
}

TEST_F(SpawnTest, MissingCwdIsInvalidDispatch) {
  auto started = LocalProcess::start(io_, io_.get_executor(), make_spec({"true"}, dir_.path() / "missing"), testing::fast_options(), rec_);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::invalid_dispatch);
  EXPECT_NE(started.error().message.find("\"cwd\""), std::string::npos);
}

TEST_F(SpawnTest, ArgvReachesTheChildVerbatimWithoutAShell) {
  const std::string prompt = "it's \"quoted\"\nsecond line $HOME `id` $(id) ;rm -rf / && echo pwned | cat > x *";
  run({"printf", "%s", prompt});
  EXPECT_EQ(rec_.out, prompt);
  EXPECT_FALSE(fs::exists(dir_.path() / "x"));
}

TEST_F(SpawnTest, StdinDataIsDeliveredThenClosed) {
  auto spec = make_spec({"cat"}, dir_.path());
  spec.stdin_data = "line one\nline two\n";
  run(std::move(spec));
  EXPECT_EQ(rec_.out, "line one\nline two\n");
  EXPECT_EQ(rec_.exit->code, 0);
}

TEST_F(SpawnTest, LargeStdinIsWrittenAsThePipeDrains) {
  auto spec = make_spec({"cat"}, dir_.path());
  spec.stdin_data.assign(3 << 20, 'z');  // far more than a pipe holds
  rec_.keep_output = false;
  run(std::move(spec));
  EXPECT_EQ(rec_.output_bytes, 3u << 20);
}

TEST_F(SpawnTest, KeptOpenStdinTakesWritesUntilClosed) {
  auto spec = make_spec({"cat"}, dir_.path());
  spec.stdin_data = "first\n";
  spec.keep_stdin_open = true;
  ASSERT_NO_FATAL_FAILURE(start(std::move(spec)));
  ASSERT_TRUE(run_until(io_, [&] { return rec_.out == "first\n"; }));
  process_->write_stdin("second\n");
  ASSERT_TRUE(run_until(io_, [&] { return rec_.out == "first\nsecond\n"; }));
  EXPECT_FALSE(rec_.exit.has_value());
  process_->close_stdin();
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  EXPECT_EQ(rec_.exit->code, 0);
}

TEST_F(SpawnTest, RuntimeThatClosedItsStdinIsNotAnError) {
  auto spec = make_spec({"sh", "-c", "exec 0<&-; echo closed; sleep 0.2"}, dir_.path());
  spec.keep_stdin_open = true;
  ASSERT_NO_FATAL_FAILURE(start(std::move(spec)));
  ASSERT_TRUE(run_until(io_, [&] { return rec_.out == "closed\n"; }));
  process_->write_stdin(std::string(1 << 20, 'q'));  // EPIPE: dropped, and no SIGPIPE for us
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  EXPECT_EQ(rec_.exit->code, 0);
}

TEST_F(SpawnTest, EnvironmentIsControlled) {
  setenv("RUNHOST_TEST_SECRET", "hunter2", 1);
  auto spec = make_spec({"env"}, dir_.path(), {{"EXTRA_VAR", "with space"}});
  run(std::move(spec));
  unsetenv("RUNHOST_TEST_SECRET");
  EXPECT_EQ(rec_.out.find("RUNHOST_TEST_SECRET"), std::string::npos) << rec_.out;
  EXPECT_EQ(rec_.out.find("hunter2"), std::string::npos);
  EXPECT_NE(rec_.out.find("\nPATH="), std::string::npos) << rec_.out;
  EXPECT_NE(rec_.out.find("EXTRA_VAR=with space\n"), std::string::npos) << rec_.out;
  EXPECT_NE(rec_.out.find("TERM=dumb\n"), std::string::npos) << rec_.out;
}

TEST_F(SpawnTest, RunsInTheGivenDirectory) {
  const fs::path here = fs::canonical(dir_.path()) / "work" / "here";
  fs::create_directories(here);
  auto spec = make_spec({"pwd"}, here);
  run(std::move(spec));
  EXPECT_EQ(rec_.out, here.string() + "\n");
}

TEST_F(SpawnTest, HostDescriptorsDoNotLeakIntoTheChild) {
  const int leaky = open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaky, 0);
  run({"sh", "-c", "ls /proc/$$/fd"});
  close(leaky);
  EXPECT_EQ(rec_.out, "0\n1\n2\n") << "the child saw more descriptors than stdin/stdout/stderr";
}

TEST_F(SpawnTest, ChildStartsInItsOwnGroupWithDefaultSignals) {
  signal(SIGPIPE, SIG_IGN);  // the host may ignore SIGPIPE: the runtime must not inherit that
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &block, &previous);
  run({"cat", "/proc/self/status"});  // cat's own state as posix_spawn made it
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  signal(SIGPIPE, SIG_DFL);
  EXPECT_NE(rec_.out.find("SigBlk:\t0000000000000000"), std::string::npos) << rec_.out;
  const size_t ignored_at = rec_.out.find("SigIgn:\t");
  ASSERT_NE(ignored_at, std::string::npos) << rec_.out;
  const unsigned long long ignored = std::stoull(rec_.out.substr(ignored_at + 8, 16), nullptr, 16);
  EXPECT_EQ(ignored & (1ull << (SIGPIPE - 1)), 0u) << "SIGPIPE inherited as ignored: " << rec_.out;
  EXPECT_NE(rec_.out.find("\nNSpgid:\t" + std::to_string(process_->pid()) + "\n"), std::string::npos) << rec_.out;
}

TEST_F(SpawnTest, NoZombieIsLeftAfterAnExit) {
  run({"true"});
  const pid_t pid = process_->pid();
  process_.reset();
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  EXPECT_FALSE(fs::exists("/proc/" + std::to_string(pid)));
}

}  // namespace
}  // namespace runhost::devices::local
