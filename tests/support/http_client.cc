#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

namespace sidecar::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxHeadBytes = 1 << 20;
constexpr size_t kMaxChunkLine = 4096;
constexpr size_t kReadChunk = 64 * 1024;
constexpr auto kPollInterval = std::chrono::milliseconds(20);

std::string errnoText(int err) {
  return std::string(std::strerror(err));
}

char lowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), lowerAscii);
  return out;
}

std::string_view trimOws(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

// tchar, RFC 9110 §5.6.2.
bool isTokenChar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
    return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

// Milliseconds left until `deadline`, rounded up so poll() never spins on a sub-millisecond rest.
int pollTimeout(Clock::time_point deadline) {
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero())
    return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<long long>(ms, 1 << 30));
}

// Splits a comma-separated header value into trimmed, non-empty elements.
std::vector<std::string_view> splitList(std::string_view value) {
  std::vector<std::string_view> out;
  while (true) {
    size_t comma = value.find(',');
    std::string_view item = trimOws(value.substr(0, comma));
    if (!item.empty())
      out.push_back(item);
    if (comma == std::string_view::npos)
      break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

// Parses one "name: value" field line (no CRLF). Returns false on bad syntax.
bool parseField(std::string_view line, Headers& out) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return false;
  std::string_view name = line.substr(0, colon);
  // No whitespace between name and colon (RFC 9112 §5.1).
  if (!std::all_of(name.begin(), name.end(), isTokenChar))
    return false;
  out.emplace_back(std::string(name), std::string(trimOws(line.substr(colon + 1))));
  return true;
}

} // namespace

double timeoutScale() {
  static const double scale = [] {
    const char* text = std::getenv("MCP_SIDECAR_TEST_TIMEOUT_SCALE");
    if (text == nullptr || *text == '\0')
      return 1.0;
    char* end = nullptr;
    double value = std::strtod(text, &end);
    return end != nullptr && *end == '\0' && value > 0 ? value : 1.0;
  }();
  return scale;
}

std::chrono::milliseconds scaled(std::chrono::milliseconds base) {
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(
      static_cast<double>(base.count()) * timeoutScale()));
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (condition())
      return true;
    auto now = Clock::now();
    if (now >= deadline)
      return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(kPollInterval, deadline - now));
  }
}

uint16_t unusedLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lowerAscii(x) == lowerAscii(y);
         });
}

std::optional<std::string> Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (equalsIgnoreCase(key, name))
      return value;
  }
  return std::nullopt;
}

std::vector<std::string> Response::headerValues(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [key, value] : headers) {
    if (equalsIgnoreCase(key, name))
      out.push_back(value);
  }
  return out;
}

std::string Response::summary() const {
  constexpr size_t kMaxBody = 2048;
  std::ostringstream out;
  if (!error.empty())
    out << "error: " << error << "\n";
  out << rawHead;
  out << body.substr(0, kMaxBody);
  if (body.size() > kMaxBody)
    out << "[... " << (body.size() - kMaxBody) << " more bytes]";
  return out.str();
}

RawConnectionPtr RawConnection::connect(uint16_t port, std::chrono::milliseconds timeout,
                                        std::string* error) {
  auto setError = [&](std::string message) {
    if (error != nullptr)
      *error = std::move(message);
  };
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    setError("socket: " + errnoText(errno));
    return nullptr;
  }
  RawConnectionPtr conn(new RawConnection(fd));
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
    return conn;
  if (errno != EINPROGRESS) {
    setError("connect to 127.0.0.1:" + std::to_string(port) + ": " + errnoText(errno));
    return nullptr;
  }
  const auto deadline = Clock::now() + timeout;
  pollfd pfd{fd, POLLOUT, 0};
  int rc;
  while ((rc = ::poll(&pfd, 1, pollTimeout(deadline))) < 0 && errno == EINTR) {
  }
  if (rc == 0) {
    setError("connect to 127.0.0.1:" + std::to_string(port) + ": timed out");
    return nullptr;
  }
  int soError = 0;
  socklen_t len = sizeof soError;
  if (rc < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len) != 0 || soError != 0) {
    setError("connect to 127.0.0.1:" + std::to_string(port) + ": " +
             errnoText(soError != 0 ? soError : errno));
    return nullptr;
  }
  return conn;
}

RawConnection::~RawConnection() {
  if (fd_ >= 0)
    ::close(fd_);
}

bool RawConnection::fail(std::string message) {
  std::lock_guard<std::mutex> lock(errorMutex_);
  error_ = std::move(message);
  return false;
}

RawConnection::DecodeResult RawConnection::decodeFail(std::string message) {
  fail(std::move(message));
  return DecodeResult::Error;
}

void RawConnection::clearError() {
  std::lock_guard<std::mutex> lock(errorMutex_);
  error_.clear();
}

std::string RawConnection::lastError() const {
  std::lock_guard<std::mutex> lock(errorMutex_);
  return error_;
}

bool RawConnection::sendAll(std::string_view data, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      return fail("send: " + errnoText(errno));
    }
    pollfd pfd{fd_, POLLOUT, 0};
    int rc = ::poll(&pfd, 1, pollTimeout(deadline));
    if (rc < 0 && errno != EINTR)
      return fail("poll: " + errnoText(errno));
    if (rc == 0) {
      return fail("send timed out with " + std::to_string(data.size()) + " bytes unsent");
    }
  }
  return true;
}

bool RawConnection::sendSlowly(std::string_view data, std::chrono::milliseconds perByte) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (i > 0)
      std::this_thread::sleep_for(perByte);
    if (!sendAll(data.substr(i, 1)))
      return false;
  }
  return true;
}

void RawConnection::shutdownWrite() {
  ::shutdown(fd_, SHUT_WR);
}

RawConnection::ReadResult RawConnection::readMore(Clock::time_point deadline) {
  if (eof_)
    return ReadResult::Closed;
  char buffer[kReadChunk];
  for (;;) {
    pollfd pfd{fd_, POLLIN, 0};
    int rc = ::poll(&pfd, 1, pollTimeout(deadline));
    if (rc < 0) {
      if (errno == EINTR)
        continue;
      fail("poll: " + errnoText(errno));
      return ReadResult::Error;
    }
    if (rc == 0)
      return ReadResult::Timeout;
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n > 0) {
      in_.append(buffer, static_cast<size_t>(n));
      return ReadResult::Data;
    }
    if (n == 0) {
      eof_ = true;
      return ReadResult::Closed;
    }
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
      continue;
    eof_ = true;
    if (errno == ECONNRESET) {
      reset_ = true;
      return ReadResult::Closed;
    }
    fail("recv: " + errnoText(errno));
    return ReadResult::Error;
  }
}

bool RawConnection::parseHead(size_t headLength, bool headRequest, Response& out) {
  out.rawHead = in_.substr(0, headLength);
  // The head ends with CRLF CRLF; lines are separated by CRLF only (RFC 9112 §2.2: a bare CR or
  // LF from a server we test is a bug, not something to tolerate).
  std::string_view head(out.rawHead);
  head.remove_suffix(4);
  std::vector<std::string_view> lines;
  for (;;) {
    size_t crlf = head.find("\r\n");
    lines.push_back(head.substr(0, crlf));
    if (crlf == std::string_view::npos)
      break;
    head.remove_prefix(crlf + 2);
  }
  for (std::string_view line : lines) {
    if (line.find_first_of("\r\n") != std::string_view::npos) {
      return fail("bare CR or LF in response head");
    }
  }

  // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4).
  std::string_view status = lines[0];
  if (status.size() < 12 || status.substr(0, 5) != "HTTP/" || status[8] != ' ' ||
      !std::isdigit(static_cast<unsigned char>(status[5])) || status[6] != '.' ||
      !std::isdigit(static_cast<unsigned char>(status[7])) ||
      !std::all_of(status.begin() + 9, status.begin() + 12,
                   [](char c) { return c >= '0' && c <= '9'; }) ||
      (status.size() > 12 && status[12] != ' ')) {
    return fail("bad status line: " + std::string(status));
  }
  out.version = std::string(status.substr(0, 8));
  out.status = std::stoi(std::string(status.substr(9, 3)));
  out.reason = status.size() > 13 ? std::string(status.substr(13)) : std::string();

  for (size_t i = 1; i < lines.size(); ++i) {
    if (!lines[i].empty() && (lines[i][0] == ' ' || lines[i][0] == '\t')) {
      return fail("obsolete line folding in response head");
    }
    if (!parseField(lines[i], out.headers)) {
      return fail("bad header line: " + std::string(lines[i]));
    }
  }
  in_.erase(0, headLength);

  // Message body length, RFC 9112 §6.3.
  body_ = BodyState{};
  body_.active = true;
  if (headRequest || out.status / 100 == 1 || out.status == 204 || out.status == 304) {
    out.framing = Response::Framing::None;
    body_.active = false;
    return true;
  }
  std::vector<std::string> te = out.headerValues("transfer-encoding");
  if (!te.empty()) {
    std::string joined;
    for (const auto& value : te)
      joined += value + ",";
    std::vector<std::string_view> codings = splitList(joined);
    bool chunked = !codings.empty() && lower(codings.back()) == "chunked";
    out.framing = chunked ? Response::Framing::Chunked : Response::Framing::UntilClose;
  } else if (std::vector<std::string> cl = out.headerValues("content-length"); !cl.empty()) {
    std::optional<uint64_t> length;
    for (const auto& value : cl) {
      for (std::string_view item : splitList(value)) {
        if (item.size() > 18 ||
            !std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; })) {
          return fail("bad Content-Length: " + value);
        }
        uint64_t parsed = std::stoull(std::string(item));
        if (length && *length != parsed)
          return fail("conflicting Content-Length values");
        length = parsed;
      }
    }
    if (!length)
      return fail("empty Content-Length");
    out.framing = Response::Framing::ContentLength;
    body_.remaining = *length;
  } else {
    out.framing = Response::Framing::UntilClose;
  }
  body_.framing = out.framing;
  if (out.framing == Response::Framing::ContentLength && body_.remaining == 0) {
    body_.active = false;
  }
  return true;
}

std::optional<Response> RawConnection::readHeadUntil(Clock::time_point deadline, bool headRequest) {
  if (body_.active) {
    fail("the previous response's body is not finished");
    return std::nullopt;
  }
  for (;;) {
    size_t end = in_.find("\r\n\r\n");
    if (end != std::string::npos) {
      Response out;
      if (!parseHead(end + 4, headRequest, out))
        return std::nullopt;
      return out;
    }
    // A head terminated by bare LFs would otherwise only show up as a timeout.
    for (size_t lf = in_.find('\n'); lf != std::string::npos; lf = in_.find('\n', lf + 1)) {
      if (lf == 0 || in_[lf - 1] != '\r') {
        fail("bare LF in response head: " + in_.substr(0, std::min<size_t>(lf + 1, 200)));
        return std::nullopt;
      }
    }
    if (in_.size() > kMaxHeadBytes) {
      fail("response head larger than " + std::to_string(kMaxHeadBytes) + " bytes");
      return std::nullopt;
    }
    switch (readMore(deadline)) {
    case ReadResult::Data:
      break;
    case ReadResult::Closed:
      fail(in_.empty() ? "connection closed before a response"
                       : "connection closed inside the response head (" +
                             std::to_string(in_.size()) + " bytes)");
      return std::nullopt;
    case ReadResult::Timeout:
      fail(in_.empty() ? "timed out waiting for a response"
                       : "timed out inside the response head: " + in_.substr(0, 200));
      return std::nullopt;
    case ReadResult::Error:
      return std::nullopt;
    }
  }
}

RawConnection::DecodeResult RawConnection::decodeBody(std::string& decoded, std::string* raw,
                                                      Headers* trailers) {
  auto take = [&](size_t n, bool data) {
    if (data)
      decoded.append(in_, 0, n);
    if (raw != nullptr)
      raw->append(in_, 0, n);
    in_.erase(0, n);
  };
  auto finish = [&] {
    body_.active = false;
    return DecodeResult::Done;
  };
  if (!body_.active)
    return DecodeResult::Done;

  switch (body_.framing) {
  case Response::Framing::None:
    return finish();
  case Response::Framing::UntilClose:
    take(in_.size(), true);
    return eof_ ? finish() : DecodeResult::NeedMore;
  case Response::Framing::ContentLength: {
    size_t n = static_cast<size_t>(std::min<uint64_t>(body_.remaining, in_.size()));
    take(n, true);
    body_.remaining -= n;
    return body_.remaining == 0 ? finish() : DecodeResult::NeedMore;
  }
  case Response::Framing::Chunked:
    break;
  }

  // Chunked transfer coding, RFC 9112 §7.1.
  for (;;) {
    switch (body_.chunk) {
    case ChunkState::Size: {
      size_t crlf = in_.find("\r\n");
      if (crlf == std::string::npos) {
        if (in_.size() > kMaxChunkLine)
          return decodeFail("chunk size line too long");
        return DecodeResult::NeedMore;
      }
      std::string_view line(in_.data(), crlf);
      size_t digits = 0;
      uint64_t size = 0;
      while (digits < line.size() && std::isxdigit(static_cast<unsigned char>(line[digits]))) {
        if (digits == 15)
          return decodeFail("chunk size too large");
        char c = lowerAscii(line[digits]);
        size = size * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
        ++digits;
      }
      // chunk-size [ BWS ";" chunk-ext ] CRLF
      std::string_view rest = trimOws(line.substr(digits));
      if (digits == 0 || (!rest.empty() && rest.front() != ';') ||
          line.find_first_of("\r\n") != std::string_view::npos) {
        return decodeFail("bad chunk size line: " + std::string(line));
      }
      take(crlf + 2, false);
      body_.remaining = size;
      body_.chunk = size == 0 ? ChunkState::Trailer : ChunkState::Data;
      break;
    }
    case ChunkState::Data: {
      if (in_.empty())
        return DecodeResult::NeedMore;
      size_t n = static_cast<size_t>(std::min<uint64_t>(body_.remaining, in_.size()));
      take(n, true);
      body_.remaining -= n;
      if (body_.remaining == 0)
        body_.chunk = ChunkState::DataEnd;
      break;
    }
    case ChunkState::DataEnd:
      if (in_.size() < 2)
        return DecodeResult::NeedMore;
      if (in_.compare(0, 2, "\r\n") != 0) {
        return decodeFail("chunk data not followed by CRLF");
      }
      take(2, false);
      body_.chunk = ChunkState::Size;
      break;
    case ChunkState::Trailer: {
      size_t crlf = in_.find("\r\n");
      if (crlf == std::string::npos) {
        if (in_.size() > kMaxHeadBytes)
          return decodeFail("trailer too long");
        return DecodeResult::NeedMore;
      }
      std::string_view line(in_.data(), crlf);
      if (line.empty()) {
        take(2, false);
        body_.chunk = ChunkState::Done;
        return finish();
      }
      Headers parsed;
      if (line.find('\n') != std::string_view::npos || !parseField(line, parsed)) {
        return decodeFail("bad trailer line: " + std::string(line));
      }
      if (trailers != nullptr)
        trailers->push_back(std::move(parsed.front()));
      take(crlf + 2, false);
      break;
    }
    case ChunkState::Done:
      return finish();
    }
  }
}

bool RawConnection::readBodyUntil(Clock::time_point deadline, Response& out) {
  for (;;) {
    switch (decodeBody(out.body, &out.rawBody, &out.trailers)) {
    case DecodeResult::Done:
      return true;
    case DecodeResult::Error:
      body_.active = false;
      return false;
    case DecodeResult::NeedMore:
      break;
    }
    switch (readMore(deadline)) {
    case ReadResult::Data:
      break;
    case ReadResult::Closed:
      if (body_.framing == Response::Framing::UntilClose)
        continue; // decodeBody finishes it
      body_.active = false;
      return fail("connection closed inside the body after " + std::to_string(out.body.size()) +
                  " bytes");
    case ReadResult::Timeout:
      return fail("timed out inside the body after " + std::to_string(out.body.size()) + " bytes");
    case ReadResult::Error:
      body_.active = false;
      return false;
    }
  }
}

std::optional<Response> RawConnection::readResponse(std::chrono::milliseconds timeout,
                                                    bool headRequest) {
  clearError();
  const auto deadline = Clock::now() + timeout;
  std::optional<Response> out = readHeadUntil(deadline, headRequest);
  if (!out)
    return std::nullopt;
  if (!readBodyUntil(deadline, *out))
    return std::nullopt;
  return out;
}

std::optional<Response> RawConnection::readResponseHead(std::chrono::milliseconds timeout,
                                                        bool headRequest) {
  clearError();
  return readHeadUntil(Clock::now() + timeout, headRequest);
}

std::string RawConnection::readBodySome(std::chrono::milliseconds timeout) {
  clearError();
  const auto deadline = Clock::now() + timeout;
  std::string decoded;
  for (;;) {
    DecodeResult result = decodeBody(decoded, nullptr, nullptr);
    if (result == DecodeResult::Error) {
      body_.active = false;
      return decoded;
    }
    if (result == DecodeResult::Done || !decoded.empty())
      return decoded;
    switch (readMore(deadline)) {
    case ReadResult::Data:
      break;
    case ReadResult::Closed:
      if (body_.framing == Response::Framing::UntilClose)
        continue;
      body_.active = false;
      fail("connection closed inside the body");
      return decoded;
    case ReadResult::Timeout:
      return decoded;
    case ReadResult::Error:
      body_.active = false;
      return decoded;
    }
  }
}

std::optional<std::string> RawConnection::readBodyRest(std::chrono::milliseconds timeout) {
  clearError();
  Response scratch;
  if (!readBodyUntil(Clock::now() + timeout, scratch))
    return std::nullopt;
  return std::move(scratch.body);
}

bool RawConnection::bodyComplete() const {
  return !body_.active;
}

bool RawConnection::waitClosed(std::chrono::milliseconds timeout) {
  clearError();
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (eof_)
      return true;
    ReadResult result = readMore(deadline);
    if (result == ReadResult::Timeout)
      return false;
    if (result == ReadResult::Error)
      return eof_;
  }
}

std::string RawConnection::readRaw(std::chrono::milliseconds timeout) {
  clearError();
  if (in_.empty())
    readMore(Clock::now() + timeout);
  return std::exchange(in_, std::string());
}

std::string RawConnection::readUntilClose(std::chrono::milliseconds timeout) {
  waitClosed(timeout);
  return std::exchange(in_, std::string());
}

Response request(uint16_t port, std::string method, std::string path, Headers headers,
                 std::string body, std::chrono::milliseconds timeout) {
  Response failed;
  std::string error;
  RawConnectionPtr conn = RawConnection::connect(port, timeout, &error);
  if (!conn) {
    failed.error = error;
    return failed;
  }
  auto has = [&](std::string_view name) {
    return std::any_of(headers.begin(), headers.end(),
                       [&](const auto& kv) { return equalsIgnoreCase(kv.first, name); });
  };
  std::string wire = method + " " + path + " HTTP/1.1\r\n";
  if (!has("host"))
    wire += "Host: 127.0.0.1:" + std::to_string(port) + "\r\n";
  const bool bodyMethod = method == "POST" || method == "PUT" || method == "PATCH";
  if ((!body.empty() || bodyMethod) && !has("content-length") && !has("transfer-encoding")) {
    wire += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  if (!has("connection"))
    wire += "Connection: close\r\n";
  for (const auto& [name, value] : headers)
    wire += name + ": " + value + "\r\n";
  wire += "\r\n";
  wire += body;
  if (!conn->sendAll(wire, timeout)) {
    failed.error = conn->lastError();
    return failed;
  }
  std::optional<Response> response = conn->readResponse(timeout, method == "HEAD");
  if (!response) {
    failed.error = conn->lastError();
    return failed;
  }
  return std::move(*response);
}

} // namespace sidecar::test
