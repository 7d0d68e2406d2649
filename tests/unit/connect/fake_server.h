#pragma once
// A scripted HTTP/1.1 server on 127.0.0.1 for the session tests: a thread per connection, so a
// slow answer never holds up another; every answer ends with the connection (Connection: close),
// which lets a handler stream an event stream for as long as it likes. Header-only.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sidecar::connect::testing {

struct FakeRequest {
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers; // names lower case

  std::string header(const std::string& lowerName) const {
    for (const auto& [n, v] : headers)
      if (n == lowerName)
        return v;
    return {};
  }
};

// What a handler writes back.
class FakeResponse {
public:
  explicit FakeResponse(int fd) : fd_(fd) {}
  // The status line and headers; `contentLength` < 0: the body runs until the connection closes.
  void head(int status, const std::vector<std::pair<std::string, std::string>>& headers,
            long contentLength = -1) {
    std::string h = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
    for (const auto& [n, v] : headers)
      h += n + ": " + v + "\r\n";
    if (contentLength >= 0)
      h += "Content-Length: " + std::to_string(contentLength) + "\r\n";
    h += "Connection: close\r\n\r\n";
    write(h);
  }
  void write(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        failed_ = true;
        return;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Whole answer with a Content-Length.
  void full(int status, std::vector<std::pair<std::string, std::string>> headers,
            std::string_view body) {
    head(status, headers, static_cast<long>(body.size()));
    write(body);
  }

  // False once a write failed (the client went away).
  bool alive() const { return !failed_; }

private:
  int fd_;
  bool failed_ = false;
};

class FakeServer {
public:
  using Handler = std::function<void(const FakeRequest&, FakeResponse&)>;

  explicit FakeServer(Handler handler) : handler_(std::move(handler)) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_, 64);
    socklen_t len = sizeof a;
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }

  ~FakeServer() {
    stopping_ = true;
    ::shutdown(listen_, SHUT_RDWR);
    ::close(listen_);
    acceptor_.join(); // no worker starts after this
    std::list<std::thread> workers;
    {
      std::lock_guard<std::mutex> g(mu_);
      workers.swap(workers_);
    }
    for (auto& t : workers)
      t.join();
  }

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/mcp") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // Every request received so far, in arrival order.
  std::vector<FakeRequest> requests() const {
    std::lock_guard<std::mutex> g(mu_);
    return requests_;
  }

  bool stopping() const { return stopping_; }

private:
  void acceptLoop() {
    while (!stopping_) {
      pollfd p{listen_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      int fd = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0)
        continue;
      std::lock_guard<std::mutex> g(mu_);
      workers_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    std::string in;
    char buf[8192];
    size_t headEnd = std::string::npos;
    while ((headEnd = in.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        ::close(fd);
        return;
      }
      in.append(buf, static_cast<size_t>(n));
    }
    FakeRequest r;
    std::string head = in.substr(0, headEnd);
    size_t lineEnd = head.find("\r\n");
    std::string first = head.substr(0, lineEnd);
    r.method = first.substr(0, first.find(' '));
    r.target = first.substr(r.method.size() + 1, first.rfind(' ') - r.method.size() - 1);
    size_t p = lineEnd == std::string::npos ? head.size() : lineEnd + 2;
    while (p < head.size()) {
      size_t e = head.find("\r\n", p);
      if (e == std::string::npos)
        e = head.size();
      std::string line = head.substr(p, e - p);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t v = line.find_first_not_of(' ', colon + 1);
      r.headers.emplace_back(name, v == std::string::npos ? "" : line.substr(v));
      p = e + 2;
    }
    size_t length = 0;
    if (!r.header("content-length").empty())
      length = std::stoul(r.header("content-length"));
    r.body = in.substr(headEnd + 4);
    while (r.body.size() < length) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0)
        break;
      r.body.append(buf, static_cast<size_t>(n));
    }
    {
      std::lock_guard<std::mutex> g(mu_);
      requests_.push_back(r);
    }
    FakeResponse out(fd);
    handler_(r, out);
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
  }

  Handler handler_;
  int listen_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::list<std::thread> workers_;
  std::vector<FakeRequest> requests_;
};

} // namespace sidecar::connect::testing
