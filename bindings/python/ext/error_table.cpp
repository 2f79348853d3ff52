// Prints the core's error table, RUNHOST_ERROR_CODES, one "code retryable" line per code, for
// tools/gen_codes.py, which writes runhost/_codes.py from it. The compiler expands the table, so
// the Python exception classes can never drift from the C++ codes.
#include <cstdio>

#include "runhost/error.hpp"

int main() {
#define RUNHOST_X(name, retryable) std::printf("%s %d\n", #name, (retryable) ? 1 : 0);
  RUNHOST_ERROR_CODES(RUNHOST_X)
#undef RUNHOST_X
  return 0;
}
