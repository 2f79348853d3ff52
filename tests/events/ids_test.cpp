// Ids: ULIDs (docs/events.md), sortable by time, unique, from random bytes a forked child does
// not share with its parent.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "events/ids.hpp"

namespace {

using runhost::events::new_id;
using runhost::events::new_ulid;

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

uint64_t time_of(const std::string& ulid) {
  uint64_t ms = 0;
  for (size_t i = 0; i < 10; ++i) ms = ms << 5 | kAlphabet.find(ulid[i]);
  return ms;
}

TEST(Ids, AreCrockfordBase32WithTheMillisecondFirst) {
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::string id = new_ulid();
  const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  ASSERT_EQ(id.size(), 26u);
  for (char c : id) EXPECT_NE(kAlphabet.find(c), std::string_view::npos) << id;
  EXPECT_LE(id[0], '7') << "the first character holds 3 bits";
  EXPECT_GE(time_of(id), static_cast<uint64_t>(before)) << id;
  EXPECT_LE(time_of(id), static_cast<uint64_t>(after)) << id;
  EXPECT_EQ(new_id("evt").rfind("evt_", 0), 0u);
}

TEST(Ids, SortByTimeAndNeverRepeat) {
  std::set<std::string> seen;
  std::string previous = new_ulid();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  for (int i = 0; i < 200000; ++i) {
    std::string id = new_ulid();
    ASSERT_TRUE(seen.insert(id).second) << "repeated: " << id;
    if (i == 0) {
      EXPECT_LT(previous, id) << "a later millisecond sorts after";
    }
  }
  // The 80 random bits differ: no two of a millisecond share their random part.
  std::set<std::string> random_parts;
  for (const auto& id : seen) random_parts.insert(id.substr(10));
  EXPECT_EQ(random_parts.size(), seen.size());
}

TEST(Ids, AForkedChildDoesNotRepeatItsParentsIds) {
  (void)new_ulid();  // the parent's pool is filled
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  if (child == 0) {
    const std::string id = new_ulid();
    (void)!write(fds[1], id.data(), id.size());
    _exit(0);
  }
  close(fds[1]);
  const std::string mine = new_ulid();
  char buf[26];
  ASSERT_EQ(read(fds[0], buf, sizeof buf), 26);
  close(fds[0]);
  waitpid(child, nullptr, 0);
  EXPECT_NE(std::string(buf + 10, 16), mine.substr(10)) << "the child took the same random bytes";
}

}  // namespace
