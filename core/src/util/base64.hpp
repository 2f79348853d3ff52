// Base64 (RFC 4648, standard alphabet, padded), for bytes that travel inside JSON: the MIOSA
// API's file contents, the sandbox reader's output chunks.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace runhost::util {

std::string base64_encode(std::string_view bytes);
// nullopt when `text` is not base64 (a character outside the alphabet, bad padding or length).
// Whitespace is not accepted: callers strip what their framing adds.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace runhost::util
