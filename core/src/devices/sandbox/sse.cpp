#include "devices/sandbox/sse.hpp"

#include <array>

namespace runhost::devices::sandbox {
namespace {

// Whitespace as Python's str.isspace() has it, as UTF-8 (U+0009-000D, U+001C-0020, U+0085,
// U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000). The length of the one
// starting at the front of `s`, or 0.
size_t leading_space(std::string_view s) noexcept {
  if (s.empty()) return 0;
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) return 1;
  if (c == 0xC2 && s.size() >= 2 && (b(1) == 0x85 || b(1) == 0xA0)) return 2;
  if (s.size() < 3) return 0;
  if (c == 0xE1 && b(1) == 0x9A && b(2) == 0x80) return 3;
  if (c == 0xE2 && b(1) == 0x80 && (b(2) <= 0x8A || b(2) == 0xA8 || b(2) == 0xA9 || b(2) == 0xAF)) return 3;
  if (c == 0xE2 && b(1) == 0x81 && b(2) == 0x9F) return 3;
  if (c == 0xE3 && b(1) == 0x80 && b(2) == 0x80) return 3;
  return 0;
}

// The same for the end of `s`. UTF-8 never has a lead byte inside a continuation run, so a
// space's bytes at the end are always that space.
size_t trailing_space(std::string_view s) noexcept {
  for (size_t len = 1; len <= 3 && len <= s.size(); ++len) {
    if (leading_space(s.substr(s.size() - len)) == len) return len;
  }
  return 0;
}

// Bytes that may end a line: the single-byte breaks, and the last byte of U+0085 (C2 85),
// U+2028 (E2 80 A8) and U+2029 (E2 80 A9).
constexpr std::array<bool, 256> kBreakBytes = [] {
  std::array<bool, 256> table{};
  for (const unsigned char c : {'\n', '\r', '\x0b', '\x0c', '\x1c', '\x1d', '\x1e'}) table[c] = true;
  for (const unsigned char c : {0x85, 0xA8, 0xA9}) table[c] = true;
  return table;
}();

// How many bytes at the end of `line` (which ends in a break byte) form a line break; 0 when
// that byte is part of something else.
size_t break_length(std::string_view line) noexcept {
  const auto last = static_cast<unsigned char>(line.back());
  if (last < 0x80) return 1;
  if (last == 0x85) return line.size() >= 2 && static_cast<unsigned char>(line[line.size() - 2]) == 0xC2 ? 2 : 0;
  return line.size() >= 3 && static_cast<unsigned char>(line[line.size() - 3]) == 0xE2 &&
                 static_cast<unsigned char>(line[line.size() - 2]) == 0x80
             ? 3
             : 0;
}

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string_view strip_like_python(std::string_view s) noexcept {
  while (const size_t n = leading_space(s)) s.remove_prefix(n);
  while (const size_t n = trailing_space(s)) s.remove_suffix(n);
  return s;
}

Status SseParser::too_large() {
  failed_ = true;
  line_.clear();
  reset_frame();
  return Error(ErrorCode::device_unavailable,
               "an SSE frame is larger than " + std::to_string(max_frame_bytes_) + " bytes; the stream was abandoned");
}

Status SseParser::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  if (failed_) return too_large();
  size_t i = 0;
  while (i < bytes.size()) {
    if (after_cr_) {
      after_cr_ = false;
      if (bytes[i] == '\n') {
        ++i;
        continue;
      }
    }
    // Everything up to the next byte that may end a line goes in at once.
    size_t end = i;
    while (end < bytes.size() && !kBreakBytes[static_cast<unsigned char>(bytes[end])]) ++end;
    line_.append(bytes.substr(i, end - i));
    if (frame_bytes() > max_frame_bytes_) return too_large();
    if (end == bytes.size()) break;
    line_ += bytes[end];
    i = end + 1;
    const size_t len = break_length(line_);
    if (len == 0) continue;
    after_cr_ = line_.back() == '\r';
    line_.resize(line_.size() - len);
    if (auto st = line_ended(out); !st) return st;
  }
  return {};
}

Status SseParser::finish(bool flush, std::vector<SseEvent>& out) {
  if (failed_) return too_large();
  after_cr_ = false;
  if (!line_.empty()) {
    if (auto st = line_ended(out); !st) return st;
  }
  if (flush && has_data_) dispatch(out);
  reset_frame();
  return {};
}

Status SseParser::line_ended(std::vector<SseEvent>& out) {
  const std::string_view line = line_;
  if (line.empty()) {
    if (has_data_) dispatch(out);
    reset_frame();
  } else if (line.front() == ':') {
    // a comment: keep-alives look like this
  } else if (starts_with(line, "event:")) {
    type_ = strip_like_python(line.substr(6));
  } else if (starts_with(line, "data:")) {
    if (has_data_) data_ += '\n';
    data_ += strip_like_python(line.substr(5));
    has_data_ = true;
  } else if (starts_with(line, "id:")) {
    id_ = std::string(strip_like_python(line.substr(3)));
  }
  line_.clear();
  if (frame_bytes() > max_frame_bytes_) return too_large();
  return {};
}

void SseParser::dispatch(std::vector<SseEvent>& out) {
  SseEvent event;
  if (!type_.empty()) event.type = std::move(type_);
  event.data = std::move(data_);
  event.id = std::move(id_);
  out.push_back(std::move(event));
}

void SseParser::reset_frame() {
  type_.clear();
  data_.clear();
  has_data_ = false;
  id_.reset();
}

}  // namespace runhost::devices::sandbox
