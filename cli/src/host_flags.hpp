// The flags every command that opens a Host shares: --store, --plugin-dir, --workspace-root,
// --plugin-config ID=JSON | ID=@FILE | ID=@- (stdin; a config holding a secret only these two),
// --limits FILE|JSON (budgets and quotas; default $RUNHOST_LIMITS).
#pragma once

#include <memory>
#include <set>
#include <string>

#include "args.hpp"
#include "runhost/host.hpp"

namespace runhost::cli {

// Adds the shared flags to a command's spec.
ArgSpec with_host_flags(ArgSpec spec);

// Opens the host the flags describe; on failure prints the reason and returns null. Throws
// UsageError for a --plugin-config that cannot be read or holds a secret inline. Every config's
// secrets join util::secrets() before the host opens.
std::unique_ptr<Host> open_host(const Args& args);

// --tenant T as a Scope (the operator's, unscoped, without it).
Scope scope_of(const Args& args);
// Prints the one message for a run that does not exist or is not the acting tenant's, and
// returns its exit status.
int no_run(const char* command, const std::string& id);
// Who this command acts as, for the record: $USER, else "local-user".
std::string default_actor();

// Delivers the run's events after `after_seq` to `on_event` and blocks until the terminal one
// has been delivered; the error if delivery stopped.
Status follow_run(Host& host, const std::string& run_id, int64_t after_seq, const EventCallback& on_event,
                  const Scope& scope = {});

}  // namespace runhost::cli
