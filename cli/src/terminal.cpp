#include "terminal.hpp"

#include <unistd.h>

#include <cstdlib>
#include <ctime>

namespace runhost::cli {

bool colour_enabled(std::FILE* stream) {
  const char* no_colour = std::getenv("NO_COLOR");
  return (no_colour == nullptr || *no_colour == '\0') && isatty(fileno(stream)) == 1;
}

std::string paint(std::FILE* stream, Colour colour, std::string_view text) {
  if (colour == Colour::none || !colour_enabled(stream)) return std::string(text);
  const char* code = "";
  switch (colour) {
    case Colour::red: code = "\x1b[31m"; break;
    case Colour::green: code = "\x1b[32m"; break;
    case Colour::yellow: code = "\x1b[33m"; break;
    case Colour::blue: code = "\x1b[34m"; break;
    case Colour::magenta: code = "\x1b[35m"; break;
    case Colour::cyan: code = "\x1b[36m"; break;
    case Colour::dim: code = "\x1b[2m"; break;
    case Colour::bold: code = "\x1b[1m"; break;
    case Colour::none: break;
  }
  return std::string(code) + std::string(text) + "\x1b[0m";
}

std::string local_time(int64_t unix_us) {
  const std::time_t t = static_cast<std::time_t>(unix_us / 1'000'000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

}  // namespace runhost::cli
