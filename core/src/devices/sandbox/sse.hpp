// Server-sent events as the MIOSA SDK (miosa 2.19.2) reads them, fed incrementally.
//
// The sandbox device reads MIOSA's streams (exec/stream, files/watch, readiness/stream) through
// this parser, so that it sees the frames the official SDK would see, byte for byte:
// - lines end where httpx's iter_lines() ends them: LF, CR, CRLF (also across two feeds), and
//   the other line breaks of Python's str.splitlines() (VT, FF, FS, GS, RS, U+0085, U+2028,
//   U+2029);
// - "event:", "data:" and "id:" lines set the frame's fields, their values stripped at both ends
//   like Python's str.strip() (every Unicode space); lines starting with ':' are comments; any
//   other line is ignored;
// - several data lines are joined with "\n"; a blank line dispatches the frame only when it has
//   a data line (an empty one counts), and always clears type, id and data;
// - the type is "message" when no (or an empty) event: line was seen;
// - at EOF, a last line without a line break is still a line; a frame that no blank line ended
//   is dispatched only when finish() is asked to flush (stream_sse does, Sandbox._iter_sse
//   does not).
// Bytes pass through as they are: httpx decodes UTF-8 first, so invalid UTF-8 is where the two
// differ (httpx shows U+FFFD). A frame larger than the limit is an error rather than memory.
//
//   SseParser parser;
//   std::vector<SseEvent> events;
//   if (auto st = parser.feed(chunk, events); !st) return fail(st.error());
//   for (const auto& e : events) handle(e.type, e.data);
//   (void)parser.finish(/*flush=*/true, events);   // at a clean end of the response
//
// Thread rules: none of its own; one parser belongs to one stream on one thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runhost/error.hpp"

namespace runhost::devices::sandbox {

struct SseEvent {
  std::string type = "message";
  std::string data;               // the data lines, joined with "\n"
  std::optional<std::string> id;  // the last id: line of the frame, if any (may be empty)
};

class SseParser {
 public:
  static constexpr size_t kDefaultMaxFrameBytes = size_t{8} << 20;

  // `max_frame_bytes` bounds one frame: its pending line plus the type, id and data gathered.
  explicit SseParser(size_t max_frame_bytes = kDefaultMaxFrameBytes) : max_frame_bytes_(max_frame_bytes) {}

  // Parses `bytes` and appends the frames they complete to `out`. Fails (device_unavailable,
  // naming the limit) once a frame goes over the limit; every later call fails the same way.
  Status feed(std::string_view bytes, std::vector<SseEvent>& out);

  // The response ended cleanly: the last line is taken as a line even without a line break,
  // and with `flush` a frame still open that has data is dispatched. The parser is then empty.
  Status finish(bool flush, std::vector<SseEvent>& out);

 private:
  Status line_ended(std::vector<SseEvent>& out);  // line_ holds the line, its break removed
  void dispatch(std::vector<SseEvent>& out);
  void reset_frame();
  size_t frame_bytes() const noexcept { return line_.size() + type_.size() + data_.size() + (id_ ? id_->size() : 0); }
  Status too_large();

  size_t max_frame_bytes_;
  std::string line_;       // the current line, so far
  bool after_cr_ = false;  // the last line ended with CR: a LF right after belongs to it
  std::string type_;
  std::string data_;
  bool has_data_ = false;
  std::optional<std::string> id_;
  bool failed_ = false;
};

// Python's str.strip() over UTF-8: removes every character Python calls whitespace from both
// ends. Exposed for the tests.
std::string_view strip_like_python(std::string_view s) noexcept;

}  // namespace runhost::devices::sandbox
