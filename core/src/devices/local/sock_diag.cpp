#include "devices/local/sock_diag.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "devices/local/unique_fd.hpp"

namespace runhost::devices::local {
namespace {

constexpr size_t align(size_t len) {
  return (len + NLMSG_ALIGNTO - 1) & ~size_t{NLMSG_ALIGNTO - 1};
}

struct DumpRequest {
  nlmsghdr header;
  inet_diag_req_v2 body;
};

// One dump of `family`'s listening TCP sockets into `out`; false when netlink fails.
bool dump_family(int fd, uint8_t family, std::vector<ListeningSocket>& out) {
  DumpRequest request{};
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.body.sdiag_family = family;
  request.body.sdiag_protocol = IPPROTO_TCP;
  request.body.idiag_states = 1u << TCP_LISTEN;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &request, sizeof request, 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) < 0) {
    return false;
  }
  alignas(nlmsghdr) char buffer[32 * 1024];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    // The NLMSG_* macros cast C-style; walk the messages by hand.
    const size_t received = static_cast<size_t>(n);
    for (size_t at = 0; at + sizeof(nlmsghdr) <= received;) {
      nlmsghdr header;
      std::memcpy(&header, buffer + at, sizeof header);
      if (header.nlmsg_len < sizeof header || at + header.nlmsg_len > received) return false;
      if (header.nlmsg_type == NLMSG_DONE) return true;
      if (header.nlmsg_type == NLMSG_ERROR) return false;
      const size_t payload = at + align(sizeof header);
      if (header.nlmsg_type == SOCK_DIAG_BY_FAMILY && payload + sizeof(inet_diag_msg) <= at + header.nlmsg_len) {
        inet_diag_msg diag;
        std::memcpy(&diag, buffer + payload, sizeof diag);
        char text[INET6_ADDRSTRLEN];
        if (::inet_ntop(diag.idiag_family, diag.id.idiag_src, text, sizeof text) != nullptr) {
          out.push_back(ListeningSocket{diag.idiag_inode, ntohs(diag.id.idiag_sport), text});
        }
      }
      at += align(header.nlmsg_len);
    }
  }
}

}  // namespace

std::optional<std::vector<ListeningSocket>> listening_sockets_from_sock_diag() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd) return std::nullopt;
  std::vector<ListeningSocket> sockets;
  if (!dump_family(fd.get(), AF_INET, sockets) || !dump_family(fd.get(), AF_INET6, sockets)) return std::nullopt;
  return sockets;
}

}  // namespace runhost::devices::local
