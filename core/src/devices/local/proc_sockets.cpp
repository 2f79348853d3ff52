#include "devices/local/proc_sockets.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <memory>
#include <mutex>

#include "devices/local/sock_diag.hpp"
#include "devices/local/unique_fd.hpp"

namespace runhost::devices::local {
namespace {

// Whole small /proc file (their size reads as 0, so read until EOF).
std::string read_proc_file(const char* path) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  std::string text;
  if (!fd) return text;
  char buffer[16 * 1024];
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<size_t>(n));
  return text;
}

std::string_view next_field(std::string_view& line) {
  const size_t start = line.find_first_not_of(' ');
  if (start == std::string_view::npos) return line = {};
  const size_t end = line.find(' ', start);
  const std::string_view field =
      line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  line.remove_prefix(end == std::string_view::npos ? line.size() : end);
  return field;
}

template <class Number>
bool parse_number(std::string_view text, Number& out, int base = 10) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// "0100007F" (IPv4) or 32 hex digits (IPv6): 32-bit words printed from memory in host order,
// so each word goes back into memory as the integer it reads as.
bool format_address(std::string_view hex, bool ipv6, std::string& out) {
  unsigned char bytes[16];
  const size_t words = ipv6 ? 4 : 1;
  if (hex.size() != words * 8) return false;
  for (size_t i = 0; i < words; ++i) {
    uint32_t word = 0;
    if (!parse_number(hex.substr(i * 8, 8), word, 16)) return false;
    std::memcpy(bytes + i * 4, &word, 4);
  }
  char text[INET6_ADDRSTRLEN];
  if (::inet_ntop(ipv6 ? AF_INET6 : AF_INET, bytes, text, sizeof text) == nullptr) return false;
  out = text;
  return true;
}

}  // namespace

std::vector<ListeningSocket> parse_listening_sockets(std::string_view table, bool ipv6) {
  std::vector<ListeningSocket> sockets;
  size_t at = table.find('\n');  // the header
  while (at != std::string_view::npos && at + 1 < table.size()) {
    const size_t end = table.find('\n', at + 1);
    std::string_view line = table.substr(at + 1, end == std::string_view::npos ? std::string_view::npos : end - at - 1);
    at = end;
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    std::string_view fields[10];
    for (auto& field : fields) field = next_field(line);
    if (fields[3] != "0A") continue;
    const std::string_view local = fields[1];
    const size_t colon = local.find(':');
    ListeningSocket socket;
    if (colon == std::string_view::npos || !parse_number(local.substr(colon + 1), socket.port, 16) ||
        !format_address(local.substr(0, colon), ipv6, socket.address) || !parse_number(fields[9], socket.inode)) {
      continue;
    }
    sockets.push_back(std::move(socket));
  }
  return sockets;
}

std::vector<ListeningSocket> listening_sockets() {
  if (auto fast = listening_sockets_from_sock_diag()) return std::move(*fast);
  return listening_sockets_from_proc();
}

std::shared_ptr<const std::vector<ListeningSocket>> recent_listening_sockets(std::chrono::milliseconds max_age) {
  static std::mutex mutex;
  static std::shared_ptr<const std::vector<ListeningSocket>> snapshot;
  static std::chrono::steady_clock::time_point taken;
  std::lock_guard lock(mutex);
  const auto now = std::chrono::steady_clock::now();
  if (!snapshot || now - taken > max_age) {
    snapshot = std::make_shared<const std::vector<ListeningSocket>>(listening_sockets());
    taken = now;
  }
  return snapshot;
}

std::vector<ListeningSocket> listening_sockets_from_proc() {
  auto sockets = parse_listening_sockets(read_proc_file("/proc/net/tcp"), false);
  auto v6 = parse_listening_sockets(read_proc_file("/proc/net/tcp6"), true);
  sockets.insert(sockets.end(), std::make_move_iterator(v6.begin()), std::make_move_iterator(v6.end()));
  return sockets;
}

std::vector<pid_t> processes_in_group(pid_t pgid) {
  std::vector<pid_t> pids;
  std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir("/proc"), ::closedir);
  if (!proc) return pids;
  while (const dirent* entry = ::readdir(proc.get())) {
    pid_t pid = 0;
    if (!parse_number(std::string_view(entry->d_name), pid)) continue;
    const std::string stat = read_proc_file(("/proc/" + std::string(entry->d_name) + "/stat").c_str());
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so from the last ')'.
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::string_view rest = std::string_view(stat).substr(paren + 1);
    const std::string_view state = next_field(rest);
    next_field(rest);  // ppid
    pid_t pgrp = 0;
    if (state != "Z" && parse_number(next_field(rest), pgrp) && pgrp == pgid) pids.push_back(pid);
  }
  return pids;
}

std::vector<uint64_t> sockets_held(pid_t pid, const std::unordered_set<uint64_t>& wanted) {
  std::vector<uint64_t> held;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  std::unique_ptr<DIR, int (*)(DIR*)> fds(::opendir(dir.c_str()), ::closedir);
  if (!fds) return held;
  char target[64];
  while (const dirent* entry = ::readdir(fds.get())) {
    const ssize_t n = ::readlinkat(::dirfd(fds.get()), entry->d_name, target, sizeof target);
    if (n <= 0) continue;
    const std::string_view link(target, static_cast<size_t>(n));
    constexpr std::string_view kPrefix = "socket:[";
    if (link.size() <= kPrefix.size() + 1 || link.substr(0, kPrefix.size()) != kPrefix || link.back() != ']') continue;
    uint64_t inode = 0;
    if (parse_number(link.substr(kPrefix.size(), link.size() - kPrefix.size() - 1), inode) && wanted.count(inode)) {
      held.push_back(inode);
    }
  }
  return held;
}

std::unordered_map<uint64_t, pid_t> socket_holders(const std::unordered_set<uint64_t>& wanted) {
  static std::mutex mutex;
  static std::unordered_map<uint64_t, pid_t> memo;  // inode -> holder, from earlier passes
  std::unordered_map<uint64_t, pid_t> found;
  std::lock_guard lock(mutex);
  std::unordered_set<uint64_t> missing;
  for (const uint64_t inode : wanted) {
    if (auto it = memo.find(inode); it != memo.end() && ::kill(it->second, 0) == 0) {
      found.emplace(inode, it->second);
    } else {
      missing.insert(inode);
    }
  }
  if (missing.empty()) return found;
  if (memo.size() > 4096) memo.clear();  // bounded: what is still wanted is found again
  std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir("/proc"), ::closedir);
  if (!proc) return found;
  while (const dirent* entry = ::readdir(proc.get())) {
    pid_t pid = 0;
    if (!parse_number(std::string_view(entry->d_name), pid)) continue;
    for (const uint64_t inode : sockets_held(pid, missing)) {
      memo[inode] = pid;
      found.emplace(inode, pid);
      missing.erase(inode);
    }
    if (missing.empty()) break;
  }
  return found;
}

}  // namespace runhost::devices::local
