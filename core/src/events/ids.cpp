#include "events/ids.hpp"

#include <pthread.h>
#include <sys/random.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>

namespace runhost::events {
namespace {

// Random bytes from the kernel, a few KiB at a time instead of a getrandom() per id (which was
// ~3 % of the event pipeline's time). Per thread; a forked child starts with an empty pool, so
// it never repeats its parent's ids.
struct RandomPool {
  std::array<unsigned char, 4096> bytes{};
  size_t used = bytes.size();

  void take(unsigned char* out, size_t n) {
    if (bytes.size() - used < n) refill();
    std::memcpy(out, bytes.data() + used, n);
    used += n;
  }

  void refill() {
    size_t got = 0;
    while (got < bytes.size()) {
      const ssize_t n = getrandom(bytes.data() + got, bytes.size() - got, 0);
      if (n > 0) got += static_cast<size_t>(n);
    }
    used = 0;
  }
};

thread_local RandomPool pool;

void empty_pool_after_fork() {
  pool.used = pool.bytes.size();
}

[[maybe_unused]] const int kAtFork = pthread_atfork(nullptr, nullptr, &empty_pool_after_fork);

}  // namespace

std::string new_ulid() {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const auto ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::array<unsigned char, 10> random{};
  pool.take(random.data(), random.size());
  // 128 bits, hi:lo: 48 of time then 80 of randomness, written 5 bits at a time from the top;
  // the first character has the 3 top bits (the 2 above them are padding).
  uint64_t hi = (ms & 0xFFFFFFFFFFFFull) << 16 | uint64_t{random[0]} << 8 | random[1];
  uint64_t lo = 0;
  for (size_t i = 2; i < random.size(); ++i) lo = lo << 8 | random[i];
  std::string out(26, '0');
  for (int c = 25; c >= 0; --c) {
    const int shift = 5 * (25 - c);  // of this character's lowest bit
    const uint64_t value = shift >= 64  ? hi >> (shift - 64)
                           : shift > 59 ? lo >> shift | hi << (64 - shift)
                                        : lo >> shift;
    out[static_cast<size_t>(c)] = kAlphabet[value & 31u];
  }
  return out;
}

std::string new_id(std::string_view prefix) {
  std::string id;
  id.reserve(prefix.size() + 27);
  id.append(prefix).append(1, '_').append(new_ulid());
  return id;
}

}  // namespace runhost::events
