// A run's life as a backend sees it: idempotency, cancel, timeout, ground truth from the
// device, floods, a host killed mid-run, bad stores and bad working directories.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include <sqlite3.h>

#include "test_host.hpp"
#include "util/sha256.hpp"

namespace runhost::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

long rss_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// Waits until the run has an event of `type` (polling the store).
bool wait_for(Host& host, const std::string& run_id, const std::string& type, std::chrono::seconds limit = 30s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    auto events = host.events(run_id, 0);
    if (events) {
      for (const auto& e : *events) {
        if (e.type == type) return true;
      }
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(Lifecycle, TheSameIdempotencyKeyGivesTheSameRunAndStartsNothingTwice) {
  TestHost host;
  const json d = custom_dispatch({"sh", "-c", "echo once"}, "key-1");
  auto first = host->dispatch(d.dump());
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->created);
  const auto f = host.follow(first->run.id);
  auto again = host->dispatch(d.dump());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->run.id, first->run.id);
  EXPECT_EQ(again->run.status, "succeeded");
  auto events = host->events(first->run.id, 0);
  ASSERT_TRUE(events);
  EXPECT_EQ(events->size(), f.events.size()) << "nothing ran a second time";
  auto runs = host->runs({});
  ASSERT_TRUE(runs);
  EXPECT_EQ(runs->size(), 1u);
}

TEST(Lifecycle, TheSameKeyWithAnotherRequestIsAConflict) {
  TestHost host;
  ASSERT_TRUE(host->dispatch(custom_dispatch({"true"}, "key-2").dump()));
  auto other = host->dispatch(custom_dispatch({"false"}, "key-2").dump());
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::idempotency_conflict);
  EXPECT_NE(other.error().message.find("key-2"), std::string::npos) << other.error().message;
  EXPECT_EQ(json::parse(other.error().recovery_json), (json{{"action", "fix_dispatch"}, {"field", "idempotencyKey"}}));
  json d = custom_dispatch({"false"}, "key-2");
  d["tenantId"] = "another-tenant";
  EXPECT_TRUE(host->dispatch(d.dump())) << "keys are per tenant";
}

TEST(Lifecycle, CancelKillsTheWholeProcessGroup) {
  TestHost host;
  auto d = host->dispatch(custom_dispatch({"sh", "-c", "sleep 300 & sleep 300"}, "cancel-1").dump());
  ASSERT_TRUE(d);
  ASSERT_TRUE(wait_for(*host, d->run.id, "run.started"));
  auto events = host->events(d->run.id, 0);
  const pid_t pid = json::parse(events->front().json)["payload"]["pid"].get<pid_t>();
  ASSERT_TRUE(host->cancel(d->run.id));
  const auto f = host.follow(d->run.id);
  expect_valid_stream(f);
  ASSERT_EQ(f.events.back().type, "run.cancelled");
  EXPECT_EQ(f.payload(f.events.size() - 1)["reason"], "cancelled by request");
  EXPECT_EQ(kill(-pid, 0), -1) << "the group is gone, the background sleep included";
  EXPECT_EQ(errno, ESRCH);
  EXPECT_EQ((*host->run(d->run.id))->status, "cancelled");
  EXPECT_TRUE(host->cancel(d->run.id)) << "cancelling a finished run is a no-op";
}

TEST(Lifecycle, TimesOut) {
  TestHost host;
  json d = custom_dispatch({"sleep", "300"}, "timeout-1");
  d["timeoutSeconds"] = 1;
  const auto f = host.run(d);
  expect_valid_stream(f);
  ASSERT_EQ(f.events.back().type, "run.failed");
  const auto error = f.payload(f.events.size() - 1)["error"];
  EXPECT_EQ(error["code"], "timeout");
  EXPECT_EQ(error["retryable"], true);
}

TEST(Lifecycle, ReportsFilesPreviewsAndArtifactsTheDeviceSaw) {
  TestHost host;
  const std::string script =
      "mkdir -p site && echo '<h1>hi</h1>' > site/index.html && printf 'a,b\\n1,2\\n' > data.csv && "
      "python3 -m http.server 0 --bind 127.0.0.1 --directory site > server.log 2>&1 & "
      "for i in $(seq 1 50); do grep -q port server.log 2>/dev/null && break; sleep 0.1; done; "
      "sleep 1; kill %1; echo done";
  const auto f = host.run(custom_dispatch({"sh", "-c", script}, "device-1"));
  expect_valid_stream(f);
  ASSERT_EQ(f.events.back().type, "run.completed") << f.events.back().json;
  std::set<std::string> changed;
  const json* artifact = nullptr;
  json artifact_payload;
  bool preview = false;
  for (size_t i = 0; i < f.events.size(); ++i) {
    const auto p = f.payload(i);
    if (f.events[i].type == "file.changed") changed.insert(p["path"].get<std::string>());
    if (f.events[i].type == "artifact.created" && p["path"] == "data.csv") {
      artifact_payload = p;
      artifact = &artifact_payload;
    }
    if (f.events[i].type == "preview.ready") {
      preview = true;
      EXPECT_EQ(p["url"].get<std::string>().rfind("http://127.0.0.1:", 0), 0u) << p.dump();
    }
  }
  EXPECT_TRUE(changed.count("site/index.html")) << ::testing::PrintToString(changed);
  EXPECT_TRUE(changed.count("data.csv"));
  ASSERT_NE(artifact, nullptr) << "data.csv matches the artifact patterns";
  EXPECT_EQ((*artifact)["sha256"], util::sha256_hex("a,b\n1,2\n"));
  EXPECT_EQ((*artifact)["size_bytes"], 8);
  EXPECT_EQ((*artifact)["content_type"], "text/csv");
  EXPECT_TRUE(preview) << ::testing::PrintToString(f.types());
}

TEST(Lifecycle, AFloodOfOutputStaysBoundedAndIsMarkedTruncated) {
  HostOptions options;
  options.max_output_bytes = 1 << 20;
  TestHost host(options);
  const long before = rss_kib();
  // 1 GB in all: 40 MB in 100-byte lines, then a single 960 MB line (under ASan, which runs
  // this 15x slower, 8 MB and 160 MB: still 168 times the limit).
#if defined(__SANITIZE_ADDRESS__)
  const std::string lines_bytes = "8000000", line_bytes = "160000000";
#else
  const std::string lines_bytes = "40000000", line_bytes = "960000000";
#endif
  const auto f = host.run(custom_dispatch(
      {"sh", "-c", "yes 012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678 | head -c " + lines_bytes + "; "
                   "head -c " + line_bytes + " /dev/zero | tr '\\0' x; echo; echo tail"},
      "flood-1"), 180s);
  ASSERT_FALSE(f.timed_out);
  expect_valid_stream(f);
  const long grown_mib = (rss_kib() - before) / 1024;
  std::printf("[ note     ] RSS grew by %ld MiB over 1 GB of output\n", grown_mib);
#if defined(__SANITIZE_ADDRESS__)
  // ASan's quarantine keeps freed memory on purpose (hundreds of MiB): RSS says nothing here.
  (void)grown_mib;
#else
  EXPECT_LT(grown_mib, 64) << "memory must stay bounded whatever the runtime prints";
#endif
  ASSERT_EQ(f.events.back().type, "run.completed");
  EXPECT_EQ(f.payload(f.events.size() - 1)["output_truncated"], true);
  const Event* marker = nullptr;
  for (const auto& e : f.events) {
    if (e.type == "command.output" && json::parse(e.json)["source"] == "host") marker = &e;
  }
  ASSERT_NE(marker, nullptr) << "the host marks where it stopped recording";
  EXPECT_EQ(json::parse(marker->json)["payload"]["truncated"], true);
  EXPECT_LT(f.events.size(), 20000u) << "output past the limit is not recorded";
}

// Runs paused because the store is behind (every run's queued events past the host's cap, here
// because another process holds the write lock) all resume once it caught up: eight runs
// flooding at once finish with every line, in order.
TEST(Lifecycle, RunsPausedForTheStoresBacklogAllResumeWithEveryLine) {
  TestHost host;
  // 240,000 events (64,000 under ASan): either is far past the host's cap of queued events.
#if defined(__SANITIZE_ADDRESS__)
  constexpr int kRuns = 8, kLines = 8000;
#else
  constexpr int kRuns = 8, kLines = 30000;
#endif
  std::vector<std::string> ids;
  for (int i = 0; i < kRuns; ++i) {
    auto d = host->dispatch(
        custom_dispatch({"sh", "-c", "yes line | head -n " + std::to_string(kLines)}, "backlog-" + std::to_string(i))
            .dump());
    ASSERT_TRUE(d) << d.error().message;
    ids.push_back(d->run.id);
  }
  // Another process's write lock for a second: nothing commits, the queue passes the cap.
  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open((host.dir() / "runhost.db").c_str(), &holder), SQLITE_OK);
  sqlite3_busy_timeout(holder, 5000);  // between two of the writer's commits
  ASSERT_EQ(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::this_thread::sleep_for(1s);
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
  for (const auto& id : ids) {
    const auto f = host.follow(id, 240s);
    ASSERT_FALSE(f.timed_out) << id << " never finished";
    expect_valid_stream(f);
    ASSERT_EQ(f.events.back().type, "run.completed");
    size_t lines = 0;
    for (const auto& e : f.events) lines += e.type == "command.output" ? 1 : 0;
    EXPECT_EQ(lines, size_t{kLines}) << id;
  }
}

TEST(Lifecycle, ACommandThatDoesNotExistIsRuntimeNotFound) {
  TestHost host;
  const auto f = host.run(custom_dispatch({"runhost-definitely-not-installed", "x"}, "missing-1"));
  expect_valid_stream(f);
  ASSERT_EQ(f.types(), std::vector<std::string>{"run.failed"});
  const auto error = f.payload(0)["error"];
  EXPECT_EQ(error["code"], "runtime_not_found");
  EXPECT_NE(error["message"].get<std::string>().find("runhost-definitely-not-installed"), std::string::npos) << error.dump();
}

TEST(Lifecycle, RefusesAWorkingDirectoryOutsideTheWorkspace) {
  TestHost host;
  std::filesystem::create_symlink("/etc", host.workspace() / "escape");
  for (const std::string cwd : {"../", "/etc", "escape", "missing-dir"}) {
    json d = custom_dispatch({"true"}, "cwd-" + cwd);
    d["cwd"] = cwd;
    auto r = host->dispatch(d.dump());
    ASSERT_FALSE(r) << cwd;
    EXPECT_EQ(r.error().code, ErrorCode::invalid_dispatch) << cwd;
    EXPECT_EQ(json::parse(r.error().recovery_json)["field"], "cwd") << cwd << ": " << r.error().message;
  }
  std::filesystem::create_directories(host.workspace() / "app");
  json ok = custom_dispatch({"pwd"}, "cwd-ok");
  ok["cwd"] = "app";
  const auto f = host.run(ok);
  ASSERT_GE(f.events.size(), 2u);
  EXPECT_EQ(f.payload(1)["text"], (std::filesystem::canonical(host.workspace()) / "app").string());
}

TEST(Lifecycle, EveryInvalidFieldIsNamed) {
  TestHost host;
  const json good = custom_dispatch({"true"}, "fields");
  const std::vector<std::pair<std::string, json>> cases = {
      {"tenantId", ""},          {"workspaceId", 7},       {"userId", nullptr},        {"deviceType", "phone"},
      {"deviceId", json::array()}, {"runtime", ""},        {"prompt", 5},              {"cwd", false},
      {"connectors", "github"},  {"approvalPolicy", "yolo"}, {"idempotencyKey", std::string(300, 'k')},
      {"command", json::array()}, {"outputMode", "xml"},   {"timeoutSeconds", -1},     {"projectId", "a\nb"},
      {"tenantID", "typo"},      {"resumeSessionId", ""},  {"resumeSessionId", 42},
      {"resumeSessionId", "s1"},  // the custom runtime cannot resume
  };
  for (const auto& [field, value] : cases) {
    json d = good;
    if (value.is_null()) {
      d.erase(field);
    } else {
      d[field] = value;
    }
    auto r = host->dispatch(d.dump());
    ASSERT_FALSE(r) << field;
    EXPECT_EQ(r.error().code, ErrorCode::invalid_dispatch) << field;
    EXPECT_NE(r.error().message.find("\"" + field), std::string::npos) << field << ": " << r.error().message;
  }
  EXPECT_FALSE(host->dispatch("{not json"));
  EXPECT_FALSE(host->dispatch("[]"));
  auto runs = host->runs({});
  EXPECT_TRUE(runs && runs->empty());
}

// A connector's MCP servers reach the runtime (claude-code: --mcp-config), naming the secret as
// ${NAME} while the secret itself travels in the environment; a server config that holds the
// secret is refused before anything is launched.
TEST(Lifecycle, AConnectorsMcpServersReachTheRuntimeWithoutItsSecret) {
  TempDir bin;
  const auto argv_file = bin / "argv.txt";
  const auto fake = bin / "fake-claude";
  write_file(fake, "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > '" + argv_file.string() +
                       "'\necho \"token:$STATIC_GRANT_TOKEN\" >> '" + argv_file.string() + "'\nread -r prompt\n"
                       "echo '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"ok\"}'\n");
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  const std::string token = "tok-mcp-7f3a9c1e5b";
  for (const bool leaky : {false, true}) {
    const json server{{"command", "github-mcp"},
                      {"env", {{"GITHUB_TOKEN", leaky ? token : std::string("${STATIC_GRANT_TOKEN}")}}}};
    HostOptions options;
    options.plugin_config["claude-code"] = json{{"executable", fake.string()}}.dump();
    options.plugin_config["static-grant"] =
        json{{"users", {"u1"}}, {"token", token}, {"mcp_servers", {{"github", server}}}}.dump();
    TestHost host(options);
    std::filesystem::remove(argv_file);
    json d = custom_dispatch({"unused"}, leaky ? "mcp-leaky" : "mcp");
    d.erase("command");
    d["runtime"] = "claude-code";
    d["connectors"] = {"static-grant"};
    const auto f = host.run(d);
    expect_valid_stream(f);
    if (leaky) {
      ASSERT_EQ(f.types(), std::vector<std::string>{"run.failed"});
      EXPECT_EQ(f.payload(0)["error"]["code"], "plugin_error");
      EXPECT_NE(f.payload(0)["error"]["message"].get<std::string>().find("MCP server 'github' holds a secret"),
                std::string::npos);
      EXPECT_FALSE(std::filesystem::exists(argv_file)) << "nothing was launched";
      continue;
    }
    ASSERT_EQ(f.types().back(), "run.completed") << f.events.back().json;
    const std::string argv = read_file(argv_file);
    EXPECT_NE(argv.find("--mcp-config\n" + json{{"mcpServers", {{"github", server}}}}.dump() + "\n"), std::string::npos)
        << argv;
    EXPECT_NE(argv.find("token:" + token), std::string::npos) << "the secret is in the environment";
    EXPECT_EQ(argv.find(token), argv.find("token:" + token) + 6) << "and nowhere in argv";
  }
}

// resumeSessionId reaches a runtime that can resume: claude-code, run as a stand-in program
// that records its argv and prints a result line.
TEST(Lifecycle, AResumeSessionIdReachesTheRuntime) {
  TempDir bin;
  const auto argv_file = bin / "argv.txt";
  const auto fake = bin / "fake-claude";
  write_file(fake, "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > '" + argv_file.string() +
                       "'\nread -r prompt\n"
                       "echo '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"ok\","
                       "\"session_id\":\"3f1c2e9a-0000-4000-8000-000000000001\"}'\n");
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  HostOptions options;
  options.plugin_config["claude-code"] = json{{"executable", fake.string()}}.dump();
  TestHost host(options);
  json d = custom_dispatch({"unused"}, "resume");
  d.erase("command");
  d["runtime"] = "claude-code";
  d["resumeSessionId"] = "3f1c2e9a-0000-4000-8000-000000000001";
  const auto f = host.run(d);
  expect_valid_stream(f);
  ASSERT_EQ(f.types().back(), "run.completed") << f.events.back().json;
  EXPECT_EQ(f.payload(f.events.size() - 1)["session_id"], "3f1c2e9a-0000-4000-8000-000000000001");
  EXPECT_NE(read_file(argv_file).find("--resume=3f1c2e9a-0000-4000-8000-000000000001\n"), std::string::npos)
      << read_file(argv_file);
}

// A runtime that reports absolute paths (codex does) gets them made relative to the run's
// working directory even when the dispatch's cwd is relative: the adapter learns the absolute
// directory from the context (ABI 1.1).
TEST(Lifecycle, AnAdapterMapsAbsolutePathsUnderARelativeCwd) {
  TempDir bin;
  const auto fake = bin / "fake-codex";
  HostOptions options;
  options.plugin_config["codex"] = json{{"executable", fake.string()}}.dump();
  TestHost host(options);
  std::filesystem::create_directories(host.workspace() / "app");
  const std::string abs = std::filesystem::canonical(host.workspace() / "app").string() + "/notes.txt";
  write_file(fake, "#!/bin/sh\ncat > /dev/null\n"
                   "echo '{\"type\":\"thread.started\",\"thread_id\":\"01a1fdf7-f273-70f0-b6b0-eadbe2e3e0b3\"}'\n"
                   "echo '{\"type\":\"item.completed\",\"item\":{\"id\":\"item_1\",\"type\":\"file_change\","
                   "\"changes\":[{\"path\":\"" + abs + "\",\"kind\":\"add\"}],\"status\":\"completed\"}}'\n"
                   "echo '{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}'\n");
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  json d = custom_dispatch({"unused"}, "abs-paths");
  d.erase("command");
  d["runtime"] = "codex";
  d["cwd"] = "app";
  const auto f = host.run(d);
  expect_valid_stream(f);
  ASSERT_EQ(f.types().back(), "run.completed") << f.events.back().json;
  const Event* changed = f.find("file.changed");
  ASSERT_NE(changed, nullptr) << "the runtime's file change was dropped";
  const auto payload = json::parse(changed->json)["payload"];
  EXPECT_EQ(payload["path"], "notes.txt") << changed->json;
}

TEST(Lifecycle, EventsReplayAfterTheHostIsClosedAndReopened) {
  TestHost host;
  const auto f = host.run(custom_dispatch({"printf", "a\\nb\\nc\\n"}, "replay-1"));
  const std::string id = host.last_run_id;
  host.close();
  host.reopen();
  auto stored = host->events(id, 0);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), f.events.size());
  for (size_t i = 0; i < stored->size(); ++i) EXPECT_EQ((*stored)[i].json, f.events[i].json);
  auto tail = host->events(id, 2);
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->front().seq, 3);
  const auto followed = host.follow(id);
  EXPECT_EQ(followed.events.size(), f.events.size()) << "following a finished run replays it and ends";
}

TEST(Lifecycle, AnotherHostOnTheSameStoreFollowsALiveRun) {
  TestHost a;
  HostOptions options;
  options.store = a.dir() / "runhost.db";
  TestHost b(options);
  auto d = a->dispatch(custom_dispatch({"sh", "-c", "for i in 1 2 3 4 5; do echo $i; sleep 0.1; done"}, "follow-1").dump());
  ASSERT_TRUE(d);
  const auto seen = b.follow(d->run.id);
  ASSERT_FALSE(seen.timed_out);
  EXPECT_EQ(seen.events.back().type, "run.completed");
  expect_valid_stream(seen);
}

TEST(Lifecycle, ASecondHostOfTheSameProcessLeavesTheFirstsLiveRunAlone) {
  // Both hosts have this process's pid as owner: the second must not take the first's running
  // run for one a dead host left (device_lost), nor write into its event sequence.
  TestHost a;
  auto d = a->dispatch(custom_dispatch({"sh", "-c", "echo one; sleep 0.5; echo two"}, "second-host-1").dump());
  ASSERT_TRUE(d);
  ASSERT_TRUE(wait_for(*a, d->run.id, "command.output"));
  HostOptions options;
  options.store = a.dir() / "runhost.db";
  TestHost b(options);
  const auto seen = a.follow(d->run.id);
  ASSERT_FALSE(seen.timed_out);
  EXPECT_EQ(seen.events.back().type, "run.completed");
  expect_valid_stream(seen);
  auto run = b->run(d->run.id);
  ASSERT_TRUE(run && *run);
  EXPECT_EQ((*run)->status, "succeeded");
}

TEST(Lifecycle, AStoreInsideTheWorkingDirectoryIsNotReportedAsTheRunsFiles) {
  // The store's own writes (the database, its -wal and -shm) happen while the run works; they
  // are the host's, so only the run's file shows up as file.changed.
  TempDir dir;
  std::filesystem::create_directories(dir / "workspace");
  HostOptions options;
  options.store = dir / "workspace" / "runhost.db";
  options.workspace_root = dir / "workspace";
  TestHost host(options);
  auto d = host->dispatch(
      custom_dispatch({"sh", "-c", "for i in 1 2 3 4 5; do echo $i; sleep 0.05; done; echo x > mine.txt; sleep 0.3"},
                      "own-store-1")
          .dump());
  ASSERT_TRUE(d);
  const auto seen = host.follow(d->run.id);
  ASSERT_FALSE(seen.timed_out);
  EXPECT_EQ(seen.events.back().type, "run.completed");
  std::set<std::string> paths;
  for (const auto& e : seen.events) {
    if (e.type == "file.changed") paths.insert(json::parse(e.json)["payload"]["path"].get<std::string>());
  }
  EXPECT_EQ(paths, std::set<std::string>{"mine.txt"});
}

TEST(Lifecycle, AKilledHostsRunIsMarkedLostOnRestartWithItsEventsKept) {
  TempDir dir;
  std::filesystem::create_directories(dir / "workspace");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    HostOptions options;
    options.store = dir / "runhost.db";
    options.workspace_root = dir / "workspace";
    options.plugins.directories = {kBundledDir};
    options.plugins.use_environment = false;
    options.plugins.use_bundled = false;
    auto host = Host::open(options);
    if (!host) _exit(3);
    auto d = (*host)->dispatch(custom_dispatch({"sh", "-c", "echo working; sleep 300"}, "lost-1").dump());
    if (!d) _exit(4);
    if (!wait_for(**host, d->run.id, "command.output")) _exit(5);
    (void)!write(fds[1], d->run.id.data(), d->run.id.size());
    close(fds[1]);
    raise(SIGKILL);
  }
  close(fds[1]);
  char buf[64] = {};
  const ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the host process was to die by SIGKILL";
  ASSERT_GT(n, 0);
  const std::string id(buf, static_cast<size_t>(n));

  HostOptions options;
  options.store = dir / "runhost.db";
  options.workspace_root = dir / "workspace";
  TestHost host(options);
  // Opening waits for no one: the dead host's run is ended by the new host's sweep, at once.
  auto run = host->run(id);
  for (int i = 0; i < 100 && run && *run && (*run)->status == "running"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    run = host->run(id);
  }
  ASSERT_TRUE(run && *run);
  EXPECT_EQ((*run)->status, "failed");
  EXPECT_EQ((*run)->error_code, "device_lost");
  auto events = host->events(id, 0);
  ASSERT_TRUE(events);
  ASSERT_GE(events->size(), 3u);
  EXPECT_EQ((*events)[0].type, "run.started");
  EXPECT_EQ((*events)[1].type, "command.output");
  EXPECT_EQ(events->back().type, "run.failed");
  EXPECT_EQ(json::parse(events->back().json)["payload"]["error"]["code"], "device_lost");
  Finished f;
  f.events = *events;
  expect_valid_stream(f);
  // The runtime did not outlive its host: the host's watchdog killed it (docs/recovery.md).
  const pid_t pid = json::parse((*events)[0].json)["payload"]["pid"].get<pid_t>();
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = kill(pid, 0) != 0 || std::ifstream("/proc/" + std::to_string(pid) + "/stat").peek() == EOF;
    std::string stat;
    std::getline(std::ifstream("/proc/" + std::to_string(pid) + "/stat"), stat);
    gone = gone || stat.find(") Z ") != std::string::npos;  // a zombie waiting for its reaper is gone too
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "the runtime (pid " << pid << ") outlived its killed host by 2 s";
  kill(-pid, SIGKILL);
}

TEST(Lifecycle, AStoreThatIsNotADatabaseIsRefusedAndLeftAlone) {
  TempDir dir;
  const std::string garbage(8192, '\x42');
  write_file(dir / "runhost.db", garbage);
  HostOptions options;
  options.store = dir / "runhost.db";
  auto host = Host::open(options);
  ASSERT_FALSE(host);
  EXPECT_EQ(host.error().code, ErrorCode::store_unavailable);
  EXPECT_NE(host.error().message.find((dir / "runhost.db").string()), std::string::npos) << host.error().message;
  EXPECT_EQ(read_file(dir / "runhost.db"), garbage) << "nothing lost or 'repaired'";
}

TEST(Lifecycle, ClosingTheHostCancelsItsRuns) {
  TestHost host;
  auto d = host->dispatch(custom_dispatch({"sleep", "300"}, "close-1").dump());
  ASSERT_TRUE(d);
  ASSERT_TRUE(wait_for(*host, d->run.id, "run.started"));
  const std::string id = d->run.id;
  host.close();
  host.reopen();
  auto events = host->events(id, 0);
  ASSERT_TRUE(events && !events->empty());
  EXPECT_EQ(events->back().type, "run.cancelled");
  EXPECT_EQ(json::parse(events->back().json)["payload"]["reason"], "the host is shutting down");
}

}  // namespace
}  // namespace runhost::testing

namespace runhost::testing {
namespace {

TEST(Lifecycle, FileEventsWorkForMoreRunsThanTheKernelGivesInotifyInstances) {
  // fs.inotify.max_user_instances is 128 by default; runs share one instance per host.
  constexpr int kRuns = 150;
  TestHost host;
  std::vector<std::string> ids;
  for (int i = 0; i < kRuns; ++i) {
    const std::string dir = "r" + std::to_string(i);
    std::filesystem::create_directories(host.workspace() / dir);
    json d = custom_dispatch({"sh", "-c", "sleep 1; echo hello > note-" + std::to_string(i) + ".txt"}, "many-" + dir);
    d["cwd"] = dir;
    auto r = host->dispatch(d.dump());
    ASSERT_TRUE(r) << r.error().message;
    ids.push_back(r->run.id);
  }
  for (int i = 0; i < kRuns; ++i) {
    const auto f = host.follow(ids[static_cast<size_t>(i)]);
    ASSERT_EQ(f.events.back().type, "run.completed") << i;
    bool seen = false;
    for (size_t e = 0; e < f.events.size(); ++e) {
      if (f.events[e].type == "file.changed") {
        const auto p = f.payload(e);
        EXPECT_EQ(p["path"], "note-" + std::to_string(i) + ".txt") << "a run sees its own files only";
        seen = true;
      }
    }
    EXPECT_TRUE(seen) << "run " << i << " reported no file.changed";
  }
}

}  // namespace
}  // namespace runhost::testing

namespace runhost::testing {
namespace {

TEST(StoreFailures, AStoreFileDeletedUnderARunningHostEndsItsRunsTyped) {
  TestHost host;
  auto d = host->dispatch(custom_dispatch({"sh", "-c", "echo $$ > leader.pid; echo working; exec sleep 300"}, "gone-1").dump());
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_TRUE(wait_for(*host, d->run.id, "command.output"));
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(host.dir() / ("runhost.db" + std::string(suffix)));
  const auto started = std::chrono::steady_clock::now();
  const auto seen = host.follow(d->run.id, std::chrono::seconds(10));
  ASSERT_FALSE(seen.timed_out) << "the run hung on a store that is gone";
  ASSERT_FALSE(seen.end);
  EXPECT_EQ(seen.end.error().code, ErrorCode::store_unavailable);
  EXPECT_NE(seen.end.error().message.find("was deleted or replaced"), std::string::npos) << seen.end.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  std::ifstream pid_file(host.workspace() / "leader.pid");
  pid_t leader = 0;
  ASSERT_TRUE(pid_file >> leader);
  for (int i = 0; i < 300 && kill(leader, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_NE(kill(leader, 0), 0) << "the runtime was left running";
  auto again = host->dispatch(custom_dispatch({"true"}, "gone-2").dump());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::store_unavailable);
}

}  // namespace
}  // namespace runhost::testing
