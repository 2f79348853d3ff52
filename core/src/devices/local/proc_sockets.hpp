// What /proc says about listening TCP sockets and who holds them.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace runhost::devices::local {

struct ListeningSocket {
  uint64_t inode = 0;
  int port = 0;
  std::string address;  // "127.0.0.1", "0.0.0.0", "::", "::1"
};

// The LISTEN (st 0A) rows of /proc/net/tcp (`ipv6` false) or /proc/net/tcp6 text. Addresses
// there are hex words in host byte order.
std::vector<ListeningSocket> parse_listening_sockets(std::string_view table, bool ipv6);

// The listening sockets of this network namespace, IPv4 and IPv6: from sock_diag, or from
// /proc/net/tcp{,6} where netlink is not available.
std::vector<ListeningSocket> listening_sockets();
std::vector<ListeningSocket> listening_sockets_from_proc();

// listening_sockets() as of at most `max_age` ago: one dump serves every port watcher of the
// process (1,000 runs polling every 200 ms would otherwise make 5,000 dumps a second, and the
// dump was the host's largest own cost). Thread-safe.
std::shared_ptr<const std::vector<ListeningSocket>> recent_listening_sockets(std::chrono::milliseconds max_age);

// Live processes whose process group is `pgid` (from /proc/[pid]/stat).
std::vector<pid_t> processes_in_group(pid_t pgid);

// Which of `wanted` socket inodes `pid` holds open (its /proc/[pid]/fd links "socket:[N]").
std::vector<uint64_t> sockets_held(pid_t pid, const std::unordered_set<uint64_t>& wanted);

// The processes holding the `wanted` listening socket inodes, whatever their group: from one
// pass over /proc shared by every caller (a process-wide memo of inode -> holder, so a new
// listener is looked up once however many runs ask about it; inodes no longer wanted by anyone
// are forgotten when the memo grows). Inodes nobody holds (or we may not see) are absent.
// Blocks on /proc for the pass; cheap when the memo knows them. Thread-safe.
std::unordered_map<uint64_t, pid_t> socket_holders(const std::unordered_set<uint64_t>& wanted);

}  // namespace runhost::devices::local
