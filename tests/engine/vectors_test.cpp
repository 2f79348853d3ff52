// The shared vectors (tests/vectors): dispatch in, events out. The bindings run the same files.
#include <fstream>

#include "test_host.hpp"

namespace runhost::testing {
namespace {

using nlohmann::json;

// Whether `expected` is a subset of `actual`: objects key by key, recursively; the rest exactly.
bool subset(const json& expected, const json& actual, std::string& where) {
  if (expected.is_object()) {
    if (!actual.is_object()) return false;
    for (const auto& [key, value] : expected.items()) {
      if (!actual.contains(key)) {
        where = key + " (missing)";
        return false;
      }
      if (!subset(value, actual[key], where)) {
        where = key + (where.empty() ? "" : "/" + where);
        return false;
      }
    }
    return true;
  }
  return expected == actual;
}

std::vector<std::filesystem::path> vector_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(kSourceDir / "tests" / "vectors")) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class Vectors : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(Vectors, DispatchGivesTheExpectedEvents) {
  std::ifstream in(GetParam());
  const json vector = json::parse(in);
  const json& expect = vector.at("expect");
  TestHost host;
  auto dispatched = host->dispatch(vector.at("dispatch").dump());

  if (expect.contains("error")) {
    ASSERT_FALSE(dispatched) << "the dispatch was accepted: " << dispatched->run.id;
    const auto& e = dispatched.error();
    EXPECT_EQ(to_string(e.code), expect["error"]["code"].get<std::string>());
    if (expect["error"].contains("field")) {
      EXPECT_EQ(json::parse(e.recovery_json).value("field", ""), expect["error"]["field"].get<std::string>()) << e.message;
    }
    if (expect["error"].contains("message_contains")) {
      EXPECT_NE(e.message.find(expect["error"]["message_contains"].get<std::string>()), std::string::npos) << e.message;
    }
    auto runs = host->runs({});
    ASSERT_TRUE(runs);
    EXPECT_TRUE(runs->empty()) << "a refused dispatch creates no run";
    return;
  }

  ASSERT_TRUE(dispatched) << dispatched.error().message;
  const Finished f = host.follow(dispatched->run.id);
  ASSERT_FALSE(f.timed_out);
  ASSERT_TRUE(f.end) << f.end.error().message;
  expect_valid_stream(f);
  const auto& want = expect.at("events");
  ASSERT_EQ(f.events.size(), want.size()) << ::testing::PrintToString(f.types());
  for (size_t i = 0; i < want.size(); ++i) {
    const json actual = json::parse(f.events[i].json);
    EXPECT_EQ(actual["type"], want[i]["type"]) << "event " << i + 1;
    for (const char* part : {"payload", "source"}) {
      if (!want[i].contains(part)) continue;
      std::string where;
      EXPECT_TRUE(subset(want[i][part], actual[part], where))
          << "event " << i + 1 << " (" << want[i]["type"] << ") " << part << " differs at " << where << ": " << actual[part].dump();
    }
  }
  auto run = host->run(dispatched->run.id);
  ASSERT_TRUE(run && *run);
  EXPECT_EQ((*run)->status, expect.at("status").get<std::string>());
}

INSTANTIATE_TEST_SUITE_P(Shared, Vectors, ::testing::ValuesIn(vector_files()),
                         [](const auto& param_info) {
                           std::string name = param_info.param.stem().string();
                           for (auto& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace runhost::testing
