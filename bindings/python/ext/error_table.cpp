// Prints the core's error table, RUNHOST_ERROR_CODES, one "code retryable action" line per code, for
// tools/gen_codes.py, which writes runhost/_codes.py from it. The compiler expands the table, so
// the Python exception classes can never drift from the C++ codes.
#include <cstdio>

#include "runhost/error.hpp"

int main() {
#define RUNHOST_X(name, retryable, action) std::printf("%s %d %s\n", #name, (retryable) ? 1 : 0, #action);
  RUNHOST_ERROR_CODES(RUNHOST_X)
#undef RUNHOST_X
  return 0;
}
