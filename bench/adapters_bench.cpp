// Runtime adapter mapping throughput: native output lines in, unified events out, in-process.
//
//   runhost_bench_adapters [--mb N] [--reps N] [--chunk BYTES] [ADAPTER_ID...]   (default: claude-code)
//
// For each adapter: its recorded transcripts (tests/fixtures/runtimes/<id>/*.stdout.jsonl and
// tests/runtimes/transcripts/<id>/) concatenated and repeated to about N MB (default 256), fed to
// one session in chunks of --chunk bytes (default 64 KiB, a pipe read), through the loaded plugin
// exactly as the host calls it. The run only counts the events (no schema check, no store), so
// the figure is the adapter's own cost: MB/s and events/s per core (thread CPU time), median of
// --reps runs. For reference, the same bytes through a pipe(2) on this machine: one writer
// thread, one reader, 64 KiB writes and reads.
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "host/host_services.hpp"
#include "plugins/instances.hpp"
#include "plugins/registry.hpp"
#include "runhost/plugins.hpp"

namespace {

namespace fs = std::filesystem;

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

double wall_seconds() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Counts what the adapter emits; touches the payload bytes as a consumer would read them.
class CountingRun final : public rh_run {
 public:
  rh_status emit(const rh_event& e) noexcept override {
    ++events;
    payload_bytes += e.payload_json.len;
    return RH_OK;
  }
  size_t events = 0;
  size_t payload_bytes = 0;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every transcript of the adapter, concatenated.
std::string transcripts_of(const std::string& id, size_t* files) {
  std::string all;
  std::vector<fs::path> paths;
  const fs::path source = RUNHOST_BENCH_SOURCE_DIR;
  for (const auto& dir : {source / "tests" / "fixtures" / "runtimes" / id, source / "tests" / "runtimes" / "transcripts" / id}) {
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (name.size() > 13 && name.compare(name.size() - 13, 13, ".stdout.jsonl") == 0) paths.push_back(e.path());
    }
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    std::string text = read_file(p);
    if (!text.empty() && text.back() != '\n') text += '\n';
    all += text;
  }
  *files = paths.size();
  return all;
}

struct Figures {
  double mb_per_cpu_s = 0, mb_per_wall_s = 0, events_per_cpu_s = 0;
  size_t events = 0;
};

Figures feed_once(const runhost::plugins::LoadedPlugin& plugin, const std::string& input, size_t chunk) {
  CountingRun run;
  runhost::plugins::RuntimeSessionArgs args;
  args.run_id = "run_BENCH";
  args.dispatch_json =
      R"({"tenantId":"t","workspaceId":"w","userId":"u","deviceType":"local","deviceId":"d","runtime":"bench",)"
      R"("prompt":"bench","approvalPolicy":"auto","idempotencyKey":"k"})";
  auto session = runhost::plugins::RuntimeSession::create(plugin, args, &run);
  if (!session) {
    std::fprintf(stderr, "create: %s\n", session.error().message.c_str());
    std::exit(1);
  }
  const double cpu0 = thread_cpu_seconds(), wall0 = wall_seconds();
  for (size_t at = 0; at < input.size(); at += chunk) {
    (void)(*session)->feed(RH_STREAM_STDOUT, std::string_view(input).substr(at, chunk));
  }
  const rh_exit exit{sizeof(rh_exit), RH_EXIT_EXITED, 0, 0, 0};
  (void)(*session)->finish(exit);
  const double cpu = thread_cpu_seconds() - cpu0, wall = wall_seconds() - wall0;
  Figures f;
  const double mb = static_cast<double>(input.size()) / 1e6;
  f.mb_per_cpu_s = mb / cpu;
  f.mb_per_wall_s = mb / wall;
  f.events = run.events;
  f.events_per_cpu_s = static_cast<double>(run.events) / cpu;
  return f;
}

// The same number of bytes through a pipe, 64 KiB at a time: the physical reference.
double pipe_mb_per_s(size_t total) {
  int fds[2];
  if (pipe(fds) != 0) return 0;
  std::vector<char> block(64 << 10, 'x');
  const double t0 = wall_seconds();
  std::thread writer([&] {
    for (size_t sent = 0; sent < total;) {
      const ssize_t n = write(fds[1], block.data(), std::min(block.size(), total - sent));
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    close(fds[1]);
  });
  std::vector<char> in(64 << 10);
  size_t got = 0;
  for (ssize_t n; (n = read(fds[0], in.data(), in.size())) > 0;) got += static_cast<size_t>(n);
  writer.join();
  close(fds[0]);
  return static_cast<double>(got) / 1e6 / (wall_seconds() - t0);
}

}  // namespace

int main(int argc, char** argv) {
  size_t mb = 256, reps = 5, chunk = 64 << 10;
  std::vector<std::string> ids;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--mb" && i + 1 < argc) mb = std::stoul(argv[++i]);
    else if (a == "--reps" && i + 1 < argc) reps = std::stoul(argv[++i]);
    else if (a == "--chunk" && i + 1 < argc) chunk = std::stoul(argv[++i]);
    else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "usage: %s [--mb N] [--reps N] [--chunk BYTES] [ADAPTER_ID...]\n", argv[0]);
      return 2;
    } else ids.push_back(a);
  }
  if (ids.empty()) ids = {"claude-code"};

  runhost::PluginSearchPath search;
  search.directories = {RUNHOST_BENCH_PLUGIN_DIR};
  search.use_environment = false;
  search.use_bundled = false;
  auto registry = runhost::PluginRegistry::load(search);

  std::vector<double> pipe;
  for (size_t r = 0; r < reps; ++r) pipe.push_back(pipe_mb_per_s(mb << 20));
  std::printf("reference: pipe(2), 64 KiB writes/reads, %zu MB: %.0f MB/s (median of %zu)\n\n", mb, median(pipe), reps);
  std::printf("%-14s %8s %9s %12s %12s %14s %10s\n", "adapter", "input", "files", "MB/s (cpu)", "MB/s (wall)", "events/s (cpu)",
              "events");
  for (const auto& id : ids) {
    const auto* plugin = registry->impl().find(runhost::PluginKind::runtime, id);
    if (plugin == nullptr) {
      std::fprintf(stderr, "%s: not loaded from %s\n", id.c_str(), RUNHOST_BENCH_PLUGIN_DIR);
      return 1;
    }
    size_t files = 0;
    const std::string one = transcripts_of(id, &files);
    if (one.empty()) {
      std::fprintf(stderr, "%s: no transcripts\n", id.c_str());
      return 1;
    }
    std::string input;
    input.reserve((mb << 20) + one.size());
    while (input.size() < (mb << 20)) input += one;
    (void)feed_once(*plugin, one, chunk);  // warm up: page in the plugin and the allocator
    std::vector<double> cpu, wall, eps;
    size_t events = 0;
    for (size_t r = 0; r < reps; ++r) {
      const Figures f = feed_once(*plugin, input, chunk);
      cpu.push_back(f.mb_per_cpu_s);
      wall.push_back(f.mb_per_wall_s);
      eps.push_back(f.events_per_cpu_s);
      events = f.events;
    }
    std::printf("%-14s %6zuMB %9zu %12.0f %12.0f %14.0f %10zu\n", id.c_str(), input.size() >> 20, files, median(cpu), median(wall),
                median(eps), events);
  }
  return 0;
}
