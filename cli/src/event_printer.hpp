// Printing events: one readable, coloured line per event on a terminal, or the envelope as one
// JSON line each (--json).
#pragma once

#include <cstdio>
#include <string>

#include "runhost/host.hpp"

namespace runhost::cli {

class EventPrinter {
 public:
  EventPrinter(std::FILE* out, bool json) : out_(out), json_(json) {}
  void print(const Event& event);

 private:
  std::FILE* out_;
  bool json_;
};

// "12 B", "3.4 KiB", "1.2 MiB".
std::string human_bytes(long long bytes);

}  // namespace runhost::cli
