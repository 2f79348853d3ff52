// The flags every command that opens a Host shares: --store, --plugin-dir, --workspace-root,
// --plugin-config ID=JSON.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "args.hpp"
#include "runhost/host.hpp"

namespace runhost::cli {

// Adds the shared flags to a command's spec.
ArgSpec with_host_flags(ArgSpec spec);

// Opens the host the flags describe; on failure prints the reason and returns null.
std::unique_ptr<Host> open_host(const Args& args);

}  // namespace runhost::cli
