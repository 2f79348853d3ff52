// How deep JSON text nests, found by scanning the text before anything parses it.
//
// nlohmann::json parses deep documents without recursion but serialises (dump) and compares them
// recursively: a dispatch or an event payload nested 100,000 deep would overflow the stack of
// whoever serialises it again. Every JSON that reaches the host from outside (dispatches, event
// payloads from adapters, plugin answers) is checked against kMaxJsonDepth first, and refused
// with an error that names the limit.
#pragma once

#include <cstddef>
#include <string_view>

namespace runhost::util {

// Far deeper than any dispatch (2 levels) or event payload the schema describes needs, far
// shallower than what a thread's stack can serialise.
inline constexpr size_t kMaxJsonDepth = 128;

// True when no array or object in `text` is nested more than `limit` levels deep. Brackets
// inside strings do not count. Invalid JSON is not diagnosed here (the parser does that).
bool json_depth_within(std::string_view text, size_t limit = kMaxJsonDepth) noexcept;

}  // namespace runhost::util
