// The one error for a working directory the local device will not use.
#pragma once

#include <string>

#include "runhost/error.hpp"

namespace runhost::devices::local {

// invalid_dispatch naming field "cwd", with a fix_dispatch recovery.
Error invalid_cwd(const std::string& problem);

}  // namespace runhost::devices::local
