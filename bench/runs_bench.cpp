// Run-engine benchmarks. Each prints medians over repetitions; docs/performance.md has figures.
//
//   runhost_bench_runs append       durable event appends/s through the store (group commit)
//   runhost_bench_runs deliver      events/s end to end: runtime stdout -> adapter -> schema -> store -> subscriber
//   runhost_bench_runs latency      dispatch -> run.started delivered, against a bare posix_spawn of the same command
//   runhost_bench_runs concurrent   1,000 concurrent runs: threads, RSS, p50/p99 event latency
//   runhost_bench_runs follow       an event's time stamp -> a subscriber has it: in the host that
//                                   runs it, and in another process following it (runhost run)
//   runhost_bench_runs floor --from EVENTS.jsonl
//                                   the CPU one durable event costs in runhost's store, against the
//                                   least SQLite itself needs for the same rows (one prepared INSERT
//                                   in a loop, transactions of --batch rows, WAL, fsync per commit)
//
// Options: --reps N (default 5), --runs N (concurrent; default 1000), --events N, --stagger
// (concurrent: runs end at different times instead of all at once), --folders N (latency: the
// runs' workspace holds N folders), --from FILE and --batch N (floor).
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "engine/envelope.hpp"
#include "events/ids.hpp"
#include "runhost/host.hpp"
#include "store/store.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
namespace fs = std::filesystem;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

long status_field(const char* name) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) == 0) return std::stol(line.substr(std::string(name).size()));
  }
  return 0;
}

fs::path scratch(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("runhost-bench-" + name + "-" + runhost::events::new_ulid());
  fs::create_directories(dir / "ws");
  return dir;
}

runhost::HostOptions host_options(const fs::path& dir) {
  runhost::HostOptions o;
  o.store = dir / "runhost.db";
  o.workspace_root = dir / "ws";
  o.plugins.directories = {RUNHOST_BENCH_PLUGIN_DIR};
  o.plugins.use_environment = false;
  o.plugins.use_bundled = false;
  o.durable = std::getenv("RUNHOST_BENCH_FAST") == nullptr;  // RUNHOST_BENCH_FAST=1: no fsync per commit
  return o;
}

json dispatch(std::vector<std::string> command, const std::string& key, const char* mode = "text") {
  return {{"tenantId", "bench"},   {"workspaceId", "w"}, {"userId", "u"},      {"deviceType", "local"},
          {"deviceId", "bench"},   {"runtime", "custom"}, {"prompt", "bench"}, {"approvalPolicy", "auto"},
          {"idempotencyKey", key}, {"command", std::move(command)}, {"outputMode", mode}};
}

// Follows a run to its end, calling `each` per event.
void follow(runhost::Host& host, const std::string& id, const std::function<void(const runhost::Event&)>& each) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  auto sub = host.subscribe(id, 0, each, [&](const runhost::Status&) {
    std::lock_guard lock(m);
    done = true;
    cv.notify_all();
  });
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return done; });
}

// ---- append ---------------------------------------------------------------------------------

// A run for events appended straight to the store (no process behind it).
runhost::store::RunRow bench_run(runhost::store::Store& store) {
  runhost::store::NewRun run;
  run.id = runhost::events::new_id("run");
  run.tenant_id = "bench";
  run.workspace_id = "w";
  run.user_id = "u";
  run.device_type = "local";
  run.device_id = "bench";
  run.runtime = "custom";
  run.approval_policy = "auto";
  run.idempotency_key = run.id;
  run.request_hash = "x";
  run.dispatch_json = "{}";
  return store.create_run(run)->run;
}

void bench_append(int reps, int events) {
  std::vector<double> rates;
  for (int rep = 0; rep < reps; ++rep) {
    const auto dir = scratch("append");
    auto store = std::move(*runhost::store::Store::open(dir / "runhost.db", {}));
    const auto who = runhost::engine::identity_of(bench_run(*store));
    std::vector<runhost::store::EventRow> rows;
    rows.reserve(static_cast<size_t>(events));
    for (int i = 1; i <= events; ++i) {
      rows.push_back(runhost::engine::make_event(who, i, "command.output", "runtime",
                                                 {{"stream", "stdout"}, {"text", "npm WARN deprecated some-package@1.2.3: use another"}}));
    }
    std::atomic<int> durable{0};
    const auto start = Clock::now();
    for (auto& row : rows) store->append(std::move(row), [&](const runhost::Status&) { durable.fetch_add(1); });
    (void)store->flush();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    rates.push_back(durable.load() / seconds);
    store.reset();
    fs::remove_all(dir);
  }
  std::printf("append: %d durable events per repetition, median %.0f events/s (durable=true, one run)\n", events, median(rates));
}

// ---- floor --------------------------------------------------------------------------------------

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// A store with one run in it, its rows made from the envelopes of `lines` (as `runhost run --json`
// printed them: the same types and sizes), renumbered for that run.
struct FloorStore {
  fs::path dir;
  std::vector<runhost::store::EventRow> rows;
};

FloorStore floor_store(const std::vector<std::string>& lines) {
  FloorStore f{scratch("floor"), {}};
  auto store = std::move(*runhost::store::Store::open(f.dir / "runhost.db", {}));
  const auto run = bench_run(*store);
  int64_t seq = 0;
  for (const auto& line : lines) {
    const json e = json::parse(line);
    runhost::store::EventRow row;
    row.type = e.value("type", std::string());
    if (row.type == "run.completed" || row.type == "run.failed") continue;  // the run stays open
    row.run_id = run.id;
    row.seq = ++seq;
    row.id = runhost::events::new_id("evt");
    row.time_us = 1;
    row.json = line;
    f.rows.push_back(std::move(row));
  }
  return f;
}

void bench_floor(int reps, const std::string& from, int batch) {
  std::ifstream in(from);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) {
    if (!l.empty() && l[0] == '{') lines.push_back(l);
  }
  if (lines.empty()) {
    std::fprintf(stderr, "floor: --from names no file of JSON lines (%s)\n", from.c_str());
    std::exit(2);
  }
  std::vector<double> store_us, sqlite_us, store_rate, sqlite_rate;
  size_t count = 0;
  for (int rep = 0; rep < reps; ++rep) {
    {  // runhost's store: every row through its writer thread, group commit
      auto f = floor_store(lines);
      auto store = std::move(*runhost::store::Store::open(f.dir / "runhost.db", {}));
      count = f.rows.size();
      const double cpu0 = cpu_seconds();
      const auto t0 = Clock::now();
      std::atomic<size_t> stored{0};
      std::string error;
      std::mutex error_mutex;
      for (auto& row : f.rows) {
        store->append(std::move(row), [&](const runhost::Status& st) {
          if (st) return void(stored.fetch_add(1));
          std::lock_guard lock(error_mutex);
          if (error.empty()) error = st.error().message;
        });
      }
      (void)store->flush();
      if (stored.load() != count) {
        std::fprintf(stderr, "floor: the store took %zu of %zu events (%s)\n", stored.load(), count, error.c_str());
        std::exit(1);
      }
      const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
      store_us.push_back((cpu_seconds() - cpu0) * 1e6 / static_cast<double>(count));
      store_rate.push_back(static_cast<double>(count) / wall);
      store.reset();
      fs::remove_all(f.dir);
    }
    {  // SQLite alone: the same rows, the store's own schema, one thread
      auto f = floor_store(lines);
      sqlite3* db = nullptr;
      sqlite3_open((f.dir / "runhost.db").c_str(), &db);
      sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", nullptr,
                   nullptr, nullptr);
      sqlite3_stmt* insert = nullptr;
      sqlite3_prepare_v2(db,
                         "INSERT INTO agent_run_events (run_id, seq, id, type, payload_json, request_id, created_at) "
                         "VALUES (?, ?, ?, ?, ?, NULL, ?)",
                         -1, &insert, nullptr);
      const double cpu0 = cpu_seconds();
      const auto t0 = Clock::now();
      int failures = 0;
      for (size_t i = 0; i < f.rows.size(); ++i) {
        if (i % static_cast<size_t>(batch) == 0) sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
        const auto& r = f.rows[i];
        sqlite3_bind_text(insert, 1, r.run_id.data(), static_cast<int>(r.run_id.size()), SQLITE_STATIC);
        sqlite3_bind_int64(insert, 2, r.seq);
        sqlite3_bind_text(insert, 3, r.id.data(), static_cast<int>(r.id.size()), SQLITE_STATIC);
        sqlite3_bind_text(insert, 4, r.type.data(), static_cast<int>(r.type.size()), SQLITE_STATIC);
        sqlite3_bind_text(insert, 5, r.json.data(), static_cast<int>(r.json.size()), SQLITE_STATIC);
        sqlite3_bind_int64(insert, 6, r.time_us);
        failures += sqlite3_step(insert) != SQLITE_DONE;
        sqlite3_reset(insert);
        if ((i + 1) % static_cast<size_t>(batch) == 0 || i + 1 == f.rows.size())
          sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
      }
      const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
      sqlite_us.push_back((cpu_seconds() - cpu0) * 1e6 / static_cast<double>(count));
      sqlite_rate.push_back(static_cast<double>(count) / wall);
      sqlite3_finalize(insert);
      sqlite3_close(db);
      fs::remove_all(f.dir);
      if (failures > 0) {
        std::fprintf(stderr, "floor: %d inserts failed\n", failures);
        std::exit(1);
      }
    }
  }
  std::printf(
      "floor: %zu durable events of %s, medians of %d: runhost's store %.2f us of CPU per event (%.0f events/s); "
      "SQLite alone, transactions of %d, %.2f us (%.0f events/s)\n",
      count, from.c_str(), reps, median(store_us), median(store_rate), batch, median(sqlite_us), median(sqlite_rate));
}

// ---- deliver ------------------------------------------------------------------------------------

void bench_deliver(int reps, int events) {
  std::vector<double> rates;
  const std::string line = R"({"type":"message","payload":{"role":"assistant","text":"a line of streamed assistant text"}})";
  for (int rep = 0; rep < reps; ++rep) {
    const auto dir = scratch("deliver");
    auto host = std::move(*runhost::Host::open(host_options(dir)));
    auto d = host->dispatch(dispatch({"sh", "-c", "yes '" + line + "' | head -n " + std::to_string(events)}, "d" + std::to_string(rep), "jsonl").dump());
    Clock::time_point first{}, last{};
    long delivered = 0;
    follow(*host, d->run.id, [&](const runhost::Event& e) {
      if (e.type == "message") {
        if (delivered++ == 0) first = Clock::now();
        last = Clock::now();
      }
    });
    rates.push_back(static_cast<double>(delivered) / std::chrono::duration<double>(last - first).count());
    host.reset();
    fs::remove_all(dir);
  }
  std::printf("deliver: %d events per run, median %.0f events/s from runtime stdout to a subscriber, durable\n", events, median(rates));
}

// ---- latency ------------------------------------------------------------------------------------

double spawn_ms() {
  char* argv[] = {const_cast<char*>("true"), nullptr};
  const auto start = Clock::now();
  pid_t pid = 0;
  posix_spawnp(&pid, "true", nullptr, nullptr, argv, environ);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  int status = 0;
  waitpid(pid, &status, 0);
  return ms;
}

void bench_latency(int reps, int folders) {
  const auto dir = scratch("latency");
  // A workspace of `folders` folders (100 per parent, as a source tree nests them), where each
  // run starts: the file watching of its working directory must not delay run.started.
  for (int i = 0; i < folders; ++i) fs::create_directories(dir / "ws" / ("d" + std::to_string(i / 100)) / std::to_string(i));
  auto host = std::move(*runhost::Host::open(host_options(dir)));
  std::vector<double> to_started, spawn, returned;
  const int runs = 50 * reps;
  for (int i = 0; i < runs; ++i) {
    spawn.push_back(spawn_ms());
    std::mutex m;
    std::condition_variable cv;
    Clock::time_point started{};
    bool seen = false;
    const auto t0 = Clock::now();
    auto d = host->dispatch(dispatch({"true"}, "l" + std::to_string(i)).dump());
    returned.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    bool ended = false;
    auto sub = host->subscribe(
        d->run.id, 0,
        [&](const runhost::Event& e) {
          if (e.type != "run.started") return;
          std::lock_guard lock(m);
          started = Clock::now();
          seen = true;
          cv.notify_all();
        },
        [&](const runhost::Status&) {
          std::lock_guard lock(m);
          ended = true;
          cv.notify_all();
        });
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return seen && ended; });  // one run at a time: each measured alone
    to_started.push_back(std::chrono::duration<double, std::milli>(started - t0).count());
  }
  std::printf("latency: %d dispatches in a workspace of %d folders: dispatch() returns (run recorded, durable) p50 %.2f ms; "
              "dispatch -> run.started delivered p50 %.2f ms, p99 %.2f ms; "
              "bare posix_spawn of the same command p50 %.2f ms; beyond process start p50 %.2f ms\n",
              runs, folders, median(returned), median(to_started), percentile(to_started, 0.99), median(spawn),
              median(to_started) - median(spawn));
  host.reset();
  fs::remove_all(dir);
}

// ---- concurrent ---------------------------------------------------------------------------------

void bench_concurrent(int runs, bool stagger) {
  const auto dir = scratch("concurrent");
  auto host = std::move(*runhost::Host::open(host_options(dir)));
  const long rss_before = status_field("VmRSS:");
  std::mutex m;
  std::condition_variable cv;
  int ended = 0;
  std::vector<double> latencies;
  std::vector<std::pair<double, double>> stamped_latency;  // (stamp, latency): split around the burst
  std::vector<std::unique_ptr<runhost::Subscription>> subs;
  long threads_peak = 0, rss_peak = 0;
  const auto start = Clock::now();
  for (int i = 0; i < runs; ++i) {
    // --stagger: each run sleeps 1-3 s (as real runs end at different times); otherwise all
    // sleep exactly 2 s and end together, the worst case for one reactor.
    char seconds_text[16];
    std::snprintf(seconds_text, sizeof seconds_text, "%.2f", stagger ? 1.0 + (i % 200) / 100.0 : 2.0);
    auto d = host->dispatch(
        dispatch({"sh", "-c", std::string("echo started; sleep ") + seconds_text + "; echo done"}, "c" + std::to_string(i)).dump());
    if (!d) {
      std::fprintf(stderr, "dispatch %d: %s\n", i, d.error().message.c_str());
      return;
    }
    auto sub = host->subscribe(
        d->run.id, 0,
        [&](const runhost::Event& e) {
          // Latency: from the event's stamp (when the host recorded it) to delivery.
          const auto j = json::parse(e.json);
          const std::string t = j["time"];
          std::tm tm{};
          strptime(t.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
          const double stamped = static_cast<double>(timegm(&tm)) + std::stod("0" + t.substr(19, 7));
          const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
          std::lock_guard lock(m);
          latencies.push_back((now - stamped) * 1000);
          stamped_latency.emplace_back(stamped, (now - stamped) * 1000);
        },
        [&](const runhost::Status&) {
          std::lock_guard lock(m);
          ++ended;
          cv.notify_all();
        });
    subs.push_back(std::move(*sub));
  }
  const double burst_end = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::unique_lock lock(m);
  while (!cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return ended == runs; })) {
    threads_peak = std::max(threads_peak, status_field("Threads:"));
    rss_peak = std::max(rss_peak, status_field("VmRSS:"));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> during, after;
  for (const auto& [stamp, latency] : stamped_latency) (stamp < burst_end ? during : after).push_back(latency);
  auto finished = host->runs({.tenant_id = "bench", .status = "succeeded", .limit = static_cast<size_t>(runs)});
  std::printf("concurrent%s: %d runs of `echo; sleep %s; echo` in %.1f s, %zu succeeded; host threads peak %ld; "
              "RSS %ld MiB before, peak %ld MiB; event latency (stamp -> delivery) p50 %.1f ms, p99 %.1f ms over %zu events; "
              "while the %d dispatches were still being made: p99 %.1f ms (%zu events); after: p50 %.1f ms, p99 %.1f ms (%zu events)\n",
              stagger ? " --stagger" : "", runs, stagger ? "1-3" : "2", seconds, finished ? finished->size() : 0, threads_peak, rss_before / 1024, rss_peak / 1024,
              percentile(latencies, 0.5), percentile(latencies, 0.99), latencies.size(), runs, percentile(during, 0.99),
              during.size(), percentile(after, 0.5), percentile(after, 0.99), after.size());
  lock.unlock();
  subs.clear();
  host.reset();
  fs::remove_all(dir);
}

}  // namespace

// ---- follow -------------------------------------------------------------------------------------

// The event's `time` (stamped as the host made it, before it was stored) as wall-clock seconds.
double event_time(const runhost::Event& e) {
  const auto t = json::parse(e.json).at("time").get<std::string>();  // 2026-12-03T21:07:47.232920Z
  std::tm tm{};
  double seconds = 0;
  if (std::sscanf(t.c_str(), "%d-%d-%dT%d:%d:%lfZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &seconds) != 6) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) + seconds;
}

double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// One line every 20 ms: each becomes a command.output event, stored, then delivered.
const std::vector<std::string> kTicker = {"sh", "-c", "for i in $(seq 40); do sleep 0.02; echo tick $i; done"};

// Milliseconds from each command.output's time stamp to its delivery, following `id` on `host`
// from `after` (events stamped before `since` are skipped: they were stored before we looked).
std::vector<double> delivery_ms(runhost::Host& host, const std::string& id, double since) {
  std::vector<double> out;
  follow(host, id, [&](const runhost::Event& e) {
    const double now = wall_now();
    if (e.type != "command.output") return;
    const double stamped = event_time(e);
    if (stamped >= since) out.push_back((now - stamped) * 1000);
  });
  return out;
}

void report(const char* what, const std::vector<double>& ms) {
  std::printf("follow %-14s %4zu events: median %.2f ms, p90 %.2f ms, max %.2f ms\n", what, ms.size(), median(ms),
              percentile(ms, 0.9), ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end()));
}

void bench_follow(int reps) {
  std::vector<double> local;
  std::vector<double> remote;
  for (int rep = 0; rep < reps; ++rep) {
    const auto dir = scratch("follow");
    std::string local_id;
    {
      auto host = std::move(*runhost::Host::open(host_options(dir)));
      auto run = host->dispatch(dispatch(kTicker, "local-" + std::to_string(rep)).dump());
      local_id = run->run.id;
      const auto ms = delivery_ms(*host, local_id, 0);
      local.insert(local.end(), ms.begin(), ms.end());
    }
    // Another process owns the run (runhost run); this one follows it through the store.
    auto host = std::move(*runhost::Host::open(host_options(dir)));
    const std::string store = (dir / "runhost.db").string();
    const std::string root = (dir / "ws").string();
    std::vector<std::string> argv = {RUNHOST_BENCH_CLI, "run", "--store", store, "--workspace-root", root,
                                     "--plugin-dir", RUNHOST_BENCH_PLUGIN_DIR, "--json", "--"};
    argv.insert(argv.end(), kTicker.begin(), kTicker.end());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t quiet;
    posix_spawn_file_actions_init(&quiet);
    posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    if (posix_spawn(&pid, args[0], &quiet, nullptr, args.data(), environ) != 0) {
      std::fprintf(stderr, "follow: cannot start %s\n", RUNHOST_BENCH_CLI);
      std::exit(1);
    }
    posix_spawn_file_actions_destroy(&quiet);
    std::string id;
    while (id.empty()) {  // setup, not measured: wait for the other process's run to exist
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (auto runs = host->runs({}); runs && !runs->empty() && runs->front().id != local_id) id = runs->front().id;
    }
    const auto ms = delivery_ms(*host, id, wall_now());
    remote.insert(remote.end(), ms.begin(), ms.end());
    int status = 0;
    waitpid(pid, &status, 0);
    host.reset();
    fs::remove_all(dir);
  }
  report("in-process", local);
  report("cross-process", remote);
}

int main(int argc, char** argv) {
  std::string what = argc > 1 ? argv[1] : "";
  int reps = 5, runs = 1000, events = 200000, folders = 0, batch = 512;
  bool stagger = false;
  std::string from;
  for (int i = 2; i < argc; ++i) {
    if (std::string(argv[i]) == "--stagger") {
      stagger = true;
      continue;
    }
    if (i + 1 >= argc) break;
    const std::string flag = argv[i++];
    if (flag == "--from") from = argv[i];
    const int value = std::atoi(argv[i]);
    if (flag == "--batch") batch = std::max(1, value);
    if (flag == "--reps") reps = value;
    if (flag == "--runs") runs = value;
    if (flag == "--events") events = value;
    if (flag == "--folders") folders = value;
  }
  if (what == "append") {
    bench_append(reps, events);
  } else if (what == "deliver") {
    bench_deliver(reps, std::min(events, 100000));
  } else if (what == "latency") {
    bench_latency(reps, folders);
  } else if (what == "concurrent") {
    bench_concurrent(runs, stagger);
  } else if (what == "follow") {
    bench_follow(reps);
  } else if (what == "floor") {
    bench_floor(reps, from, batch);
  } else {
    std::fprintf(stderr, "usage: runhost_bench_runs append|deliver|latency|concurrent|follow|floor [--reps N] [--runs N] [--events N] "
                 "[--folders N] [--from EVENTS.jsonl] [--batch N]\n");
    return 2;
  }
  return 0;
}
