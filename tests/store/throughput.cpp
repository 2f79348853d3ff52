// Durable event appends per second through the store's group commit: one producer thread per
// run, each appending as fast as it can; the clock runs from the first append until flush()
// returns. Prints, asserts nothing.
//
//   runhost_store_throughput [events=200000] [runs=4] [payload_bytes=400] [durable=1] [dir=/tmp]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/store.hpp"

using runhost::store::EventRow;
using runhost::store::NewRun;
using runhost::store::Store;

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// CPU seconds of this process's busiest thread: the store's writer.
double busiest_thread_cpu_seconds() {
  double busiest = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i >= 14) ticks += std::stod(field);  // utime, stime
    }
    busiest = std::max(busiest, ticks / static_cast<double>(sysconf(_SC_CLK_TCK)));
  }
  return busiest;
}

}  // namespace

int main(int argc, char** argv) {
  const long events = argc > 1 ? std::stol(argv[1]) : 200000;
  const int runs = argc > 2 ? std::stoi(argv[2]) : 4;
  const size_t payload = argc > 3 ? std::stoul(argv[3]) : 400;
  const bool durable = argc > 4 ? std::stoi(argv[4]) != 0 : true;
  const std::filesystem::path dir =
      std::filesystem::path(argc > 5 ? argv[5] : "/tmp") / ("runhost-throughput-" + std::to_string(getpid()));
  const auto path = dir / "runhost.db";

  int status = 0;
  {
    auto store = Store::open(path, {durable, 5000, 2000});
    if (!store) {
      (void)std::fprintf(stderr, "%s\n", store.error().message.c_str());
      return 1;
    }
    for (int r = 0; r < runs; ++r) {
      NewRun run;
      run.id = "run_" + std::to_string(r);
      run.tenant_id = "t";
      run.idempotency_key = run.id;
      run.created_us = 1;
      if (!(*store)->create_run(run)) return 1;
    }
    const std::string filler(payload, 'x');
    std::atomic<long> failed{0};
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    std::vector<std::thread> producers;
    producers.reserve(static_cast<size_t>(runs));
    for (int r = 0; r < runs; ++r) {
      producers.emplace_back([&, r] {
        const std::string run_id = "run_" + std::to_string(r);
        const long per_run = events / runs;
        for (long seq = 1; seq <= per_run; ++seq) {
          EventRow event;
          event.run_id = run_id;
          event.seq = seq;
          event.id = "evt_" + run_id + "_" + std::to_string(seq);
          event.type = "message.delta";
          event.time_us = seq;
          event.json = R"({"type":"message.delta","seq":)" + std::to_string(seq) + R"(,"text":")" + filler + R"("})";
          (*store)->append(std::move(event), [&](const runhost::Status& st) {
            if (!st) ++failed;
          });
        }
      });
    }
    for (auto& t : producers) t.join();
    if (!(*store)->flush()) status = 1;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double cpu = cpu_seconds() - cpu_start;
    const long total = events / runs * runs;
    const double writer_cpu = busiest_thread_cpu_seconds();
    std::printf(
        "%ld events, %d runs, %zu-byte payloads, durable=%d: %.3f s, %.0f appends/s; CPU per event %.2f us, "
        "%.2f us of it on the writer thread; %ld failed\n",
        total, runs, payload, durable ? 1 : 0, seconds, static_cast<double>(total) / seconds,
        cpu * 1e6 / static_cast<double>(total), writer_cpu * 1e6 / static_cast<double>(total), failed.load());
    if (failed.load() != 0) status = 1;
  }
  std::filesystem::remove_all(dir);
  return status;
}
