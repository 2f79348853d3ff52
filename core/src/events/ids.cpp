#include "events/ids.hpp"

#include <sys/random.h>

#include <array>
#include <chrono>
#include <cstdint>

namespace runhost::events {

std::string new_ulid() {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const auto ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::array<unsigned char, 10> random{};
  size_t got = 0;
  while (got < random.size()) {
    const ssize_t n = getrandom(random.data() + got, random.size() - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  // 128 bits: 48 of time then 80 of randomness, written 5 bits at a time from the top.
  std::array<unsigned char, 16> bits{};
  for (int i = 0; i < 6; ++i) bits[static_cast<size_t>(i)] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  for (size_t i = 0; i < random.size(); ++i) bits[6 + i] = random[i];
  std::string out(26, '0');
  for (int c = 0; c < 26; ++c) {
    const int bit = 128 - 5 * (26 - c);  // position of this character's lowest bit from the top; the first has 3 bits
    unsigned value = 0;
    for (int b = 0; b < 5; ++b) {
      const int pos = bit + b;  // may be negative for the 2 padding bits of the first character
      if (pos < 0) continue;
      const unsigned byte = bits[static_cast<size_t>(pos / 8)];
      value = (value << 1) | ((byte >> (7 - pos % 8)) & 1u);
    }
    out[static_cast<size_t>(c)] = kAlphabet[value];
  }
  return out;
}

std::string new_id(std::string_view prefix) {
  return std::string(prefix) + "_" + new_ulid();
}

}  // namespace runhost::events
