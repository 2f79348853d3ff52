// Listening TCP sockets through NETLINK_SOCK_DIAG, asking the kernel for LISTEN state only.
//
// Why not /proc/net/tcp alone: reading it walks every bucket of the established-connection
// hash, which costs about a millisecond per read even on an idle machine; a sock_diag dump
// filtered to LISTEN walks the listening table only.
#pragma once

#include <optional>
#include <vector>

#include "devices/local/proc_sockets.hpp"

namespace runhost::devices::local {

// IPv4 and IPv6 listening sockets of this network namespace; nullopt when sock_diag is not
// available (then /proc/net/tcp{,6} is the way).
std::optional<std::vector<ListeningSocket>> listening_sockets_from_sock_diag();

}  // namespace runhost::devices::local
