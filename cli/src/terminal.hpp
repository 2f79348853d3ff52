// Colour on a terminal, plain text elsewhere (and when NO_COLOR is set).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace runhost::cli {

enum class Colour { none, red, green, yellow, blue, magenta, cyan, dim, bold };

bool colour_enabled(std::FILE* stream);
std::string paint(std::FILE* stream, Colour colour, std::string_view text);

}  // namespace runhost::cli
