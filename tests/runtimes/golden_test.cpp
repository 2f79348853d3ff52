// Golden tests: every recorded transcript of every bundled adapter, fed in-process in four
// chunkings (whole, 1 byte, 7 bytes, random sizes), maps to exactly the events in its golden file,
// and every event matches docs/events.schema.json.
//
// Transcripts: tests/fixtures/runtimes/<id>/<scenario>.stdout.jsonl (recorded from the real CLIs
// by tests/e2e/record.py) and tests/runtimes/transcripts/<id>/ (more cases, see the README
// there), each with <scenario>.stderr.txt and <scenario>.meta.json (exit status) beside it.
// Goldens: tests/runtimes/golden/<id>/<scenario>.events.jsonl, one {"type", "payload"} per line.
//
// Regenerate after a deliberate mapping change, then review every changed line before committing:
//   RUNHOST_REGEN_GOLDEN=1 ctest -R RuntimeGolden      (or run runhost_runtimes_tests directly)
#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>

#include <gtest/gtest.h>

#include "adapter_harness.hpp"

namespace runhost::testing {
namespace {

using nlohmann::json;

struct Transcript {
  std::string adapter;
  std::string scenario;
  std::filesystem::path stdout_path;
};

void PrintTo(const Transcript& t, std::ostream* os) { *os << t.adapter << "/" << t.scenario; }

std::vector<Transcript> transcripts() {
  std::vector<Transcript> out;
  for (const auto& id : golden_adapter_ids()) {
    for (const auto& dir : {kRuntimeFixtureDir / id, kTranscriptDir / id}) {
      if (!std::filesystem::is_directory(dir)) continue;
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(dir)) files.push_back(entry.path());
      std::sort(files.begin(), files.end());
      for (const auto& path : files) {
        const std::string name = path.filename().string();
        const std::string suffix = ".stdout.jsonl";
        if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
          out.push_back({id, name.substr(0, name.size() - suffix.size()), path});
      }
    }
  }
  return out;
}

std::filesystem::path sibling(const Transcript& t, const std::string& suffix) {
  return t.stdout_path.parent_path() / (t.scenario + suffix);
}

int signal_number(const json& v) {
  if (v.is_number_integer()) return v.get<int>();
  const std::string name = v.is_string() ? v.get<std::string>() : "";
  return name == "SIGKILL" ? SIGKILL : name == "SIGINT" ? SIGINT : SIGTERM;
}

// How the recorded process ended, as the host would report it: a run the recorder killed is
// one the host cancelled.
rh_exit exit_of(const json& meta) {
  const json e = meta.value("exit", json::object());
  uint32_t flags = 0;
  if (!meta.value("killed", json()).is_null()) flags |= RH_EXIT_FLAG_CANCELLED;
  if (meta.value("timed_out", false)) flags |= RH_EXIT_FLAG_TIMED_OUT;
  if (!e.value("signal", json()).is_null()) return signaled(signal_number(e["signal"]), flags);
  return exited(e.value("code", 0), flags);
}

class RuntimeGolden : public ::testing::TestWithParam<Transcript> {};

TEST_P(RuntimeGolden, MapsToItsGoldenEventsInEveryChunking) {
  const Transcript& t = GetParam();
  const std::string out = read_text(t.stdout_path);
  const std::string err = std::filesystem::exists(sibling(t, ".stderr.txt")) ? read_text(sibling(t, ".stderr.txt")) : "";
  const json meta = json::parse(read_text(sibling(t, ".meta.json")));
  const AdapterSpec spec = adapter_spec(t.adapter);
  AdapterHarness harness(t.adapter);
  AdapterHarness::Options options;
  options.config = spec.config;

  auto drive = [&](const std::function<void(AdapterSession&, rh_stream, const std::string&)>& feed) {
    // Where the run was recorded: the runtime's absolute paths are relative to it (ACP agents).
    json d = AdapterHarness::dispatch();
    if (meta.contains("cwd") && meta.value("recorded_by", "") == "tests/e2e/record_acp.py") d["cwd"] = meta["cwd"];
    AdapterSession s = harness.start(d, options);
    feed(s, RH_STREAM_STDOUT, out);
    feed(s, RH_STREAM_STDERR, err);
    s.finish(exit_of(meta));
    EXPECT_TRUE(s.run().refusals.empty()) << s.run().refusals.front();
    EXPECT_TRUE(s.run().envelope_errors.empty()) << s.run().envelope_errors.front();
    return s.run().events;
  };
  const auto whole = drive([](AdapterSession& s, rh_stream st, const std::string& b) { s.feed(st, b); });
  const std::string golden_text = to_golden(whole);

  const auto golden_path = kGoldenDir / t.adapter / (t.scenario + ".events.jsonl");
  if (std::getenv("RUNHOST_REGEN_GOLDEN")) {
    std::filesystem::create_directories(golden_path.parent_path());
    std::ofstream(golden_path, std::ios::binary | std::ios::trunc) << golden_text;
    std::cout << "[ regenerated ] " << golden_path << ": review every line before committing\n";
  }
  ASSERT_TRUE(std::filesystem::exists(golden_path))
      << "no golden file " << golden_path << "; generate it with RUNHOST_REGEN_GOLDEN=1 and review it";
  const auto expected = split_lines(read_text(golden_path));
  const auto actual = split_lines(golden_text);
  for (size_t i = 0; i < std::max(expected.size(), actual.size()); ++i) {
    ASSERT_LT(i, expected.size()) << "extra event " << i << ": " << actual[i];
    ASSERT_LT(i, actual.size()) << "missing event " << i << ": " << expected[i];
    ASSERT_EQ(json::parse(actual[i]), json::parse(expected[i])) << "event " << i << " of " << golden_path;
  }

  // The terminal event is last, and there is exactly one.
  ASSERT_FALSE(whole.empty());
  size_t terminals = 0;
  for (const auto& e : whole) terminals += e.type == "run.completed" || e.type == "run.failed" || e.type == "run.cancelled";
  EXPECT_EQ(terminals, 1u);
  EXPECT_TRUE(whole.back().type == "run.completed" || whole.back().type == "run.failed" || whole.back().type == "run.cancelled");

  // Any chunking gives the same events.
  const auto want = golden_events(whole);
  for (size_t chunk : {size_t{1}, size_t{7}}) {
    const auto got = drive([chunk](AdapterSession& s, rh_stream st, const std::string& b) { s.feed_chunked(st, b, chunk); });
    EXPECT_EQ(golden_events(got), want) << "fed in " << chunk << "-byte chunks";
  }
  const auto random = drive([](AdapterSession& s, rh_stream st, const std::string& b) { s.feed_random(st, b, 4096, 20261121); });
  EXPECT_EQ(golden_events(random), want) << "fed in random chunks";
}

std::string test_name(const ::testing::TestParamInfo<Transcript>& info) {
  std::string name = info.param.adapter + "_" + info.param.scenario;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Transcripts, RuntimeGolden, ::testing::ValuesIn(transcripts()), test_name);

// Every adapter of the bundled set has transcripts, and no two transcripts share a golden.
TEST(RuntimeGoldenSet, EveryAdapterHasTranscriptsAndNamesAreUnique) {
  const auto all = transcripts();
  for (const auto& id : golden_adapter_ids()) {
    size_t n = 0;
    std::set<std::string> names;
    for (const auto& t : all) {
      if (t.adapter != id) continue;
      ++n;
      EXPECT_TRUE(names.insert(t.scenario).second) << id << ": two transcripts named " << t.scenario;
    }
    EXPECT_GT(n, 0u) << id << " has no transcripts in " << kRuntimeFixtureDir / id << " or " << kTranscriptDir / id;
  }
}

}  // namespace
}  // namespace runhost::testing
