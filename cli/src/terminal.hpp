// Colour on a terminal, plain text elsewhere (and when NO_COLOR is set); times as people read them.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace runhost::cli {

enum class Colour { none, red, green, yellow, blue, magenta, cyan, dim, bold };

bool colour_enabled(std::FILE* stream);
std::string paint(std::FILE* stream, Colour colour, std::string_view text);

// Microseconds since the epoch as local "YYYY-MM-DD HH:MM:SS".
std::string local_time(int64_t unix_us);

}  // namespace runhost::cli
