#include "proxy/listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sidecar::proxy {

Result<sockaddr_storage> resolveAddress(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0 || !res)
    return Status::error("cannot resolve host '" + host + "': " + gai_strerror(rc));
  sockaddr_storage ss{};
  memcpy(&ss, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return ss;
}

Result<int> bindListenSocket(const config::HostPort& hp, bool reusePort, uint16_t& boundPort) {
  auto addr = resolveAddress(hp.host, hp.port);
  if (!addr.ok())
    return Status::error("cannot listen on " + hp.str() + ": " + addr.error());
  int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return Status::error("cannot create a socket for " + hp.str() + ": " + strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reusePort)
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  socklen_t len = addr->ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (bind(fd, reinterpret_cast<sockaddr*>(&*addr), len) != 0) {
    int e = errno;
    ::close(fd);
    std::string hint = e == EADDRINUSE ? " (another process holds this port: stop it or choose "
                                         "another address)"
                       : e == EACCES   ? " (ports below 1024 need privileges: choose a higher one)"
                       : e == EADDRNOTAVAIL ? " (this machine has no such address)"
                                            : "";
    return Status::error("cannot listen on " + hp.str() + ": " + strerror(e) + hint);
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
  boundPort = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return fd;
}

} // namespace sidecar::proxy
