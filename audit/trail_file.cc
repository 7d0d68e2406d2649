#include "audit/trail_file.h"

#include <rapidjson/document.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace sidecar::audit {
namespace {

constexpr size_t kChunk = 64 * 1024;

Status preadAll(int fd, uint64_t offset, size_t len, char* out) {
  while (len > 0) {
    ssize_t n = ::pread(fd, out, len, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return Status::error(std::string("read failed: ") + std::strerror(errno));
    if (n == 0)
      return Status::error("the file shrank while it was being read");
    out += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

} // namespace

std::string errnoMessage(std::string_view what, const std::string& path, int err) {
  return std::string(what) + " " + path + ": " + std::strerror(err);
}

std::string rotatedPath(const std::string& path, unsigned index) {
  return path + "." + std::to_string(index);
}

std::vector<std::pair<unsigned, std::string>> listRotated(const std::string& path) {
  namespace fs = std::filesystem;
  std::vector<std::pair<unsigned, std::string>> out;
  fs::path p(path);
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::string prefix = p.filename().string() + ".";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0)
      continue;
    std::string_view digits = std::string_view(name).substr(prefix.size());
    if (digits.size() > 9 || digits[0] == '0' ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    out.emplace_back(static_cast<unsigned>(std::strtoul(std::string(digits).c_str(), nullptr, 10)),
                     path + "." + std::string(digits));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<LineHead> parseLineHead(std::string_view line) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(line.data(), line.size());
  if (d.HasParseError() || !d.IsObject())
    return std::nullopt;
  // HasMember, not FindMember() != MemberEnd(): comparing RapidJSON member iterators is
  // ambiguous under clang's C++20 rules (-Wambiguous-reversed-operator).
  if (!d.HasMember("seq") || !d["seq"].IsUint64())
    return std::nullopt;
  LineHead head;
  head.seq = d["seq"].GetUint64();
  if (d.HasMember("kind") && d["kind"].IsString())
    head.knownKind =
        parseKind(std::string_view(d["kind"].GetString(), d["kind"].GetStringLength()), head.kind);
  return head;
}

Result<uint64_t> completeLinesEnd(int fd, uint64_t size) {
  std::string buf;
  uint64_t end = size;
  while (end > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, end));
    buf.resize(n);
    Status s = preadAll(fd, end - n, n, buf.data());
    if (!s.ok())
      return s;
    size_t nl = buf.rfind('\n');
    if (nl != std::string::npos)
      return end - n + nl + 1;
    end -= n;
  }
  return uint64_t{0};
}

Status forEachLineReverse(int fd, uint64_t end, const std::function<bool(std::string_view)>& fn) {
  if (end == 0)
    return {};
  // `data` holds the bytes [offset, offset + data.size()) not yet handed out, without the line
  // feed that ends its last line.
  uint64_t offset = end;
  std::string data;
  bool first = true;
  for (;;) {
    size_t nl = data.rfind('\n');
    if (nl != std::string::npos) {
      if (!fn(std::string_view(data).substr(nl + 1)))
        return {};
      data.resize(nl);
      continue;
    }
    if (offset == 0) {
      fn(data);
      return {};
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, offset));
    std::string chunk(n, '\0');
    Status s = preadAll(fd, offset - n, n, chunk.data());
    if (!s.ok())
      return s;
    offset -= n;
    if (first) {
      first = false;
      if (chunk.back() != '\n')
        return Status::error("the file does not end with a line feed");
      chunk.pop_back();
    }
    data.insert(0, chunk);
  }
}

LineReader::~LineReader() {
  if (file_)
    std::fclose(file_);
  std::free(buf_);
}

Status LineReader::open(const std::string& path) {
  path_ = path;
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_)
    return Status::error(errnoMessage("cannot open", path, errno));
  return {};
}

bool LineReader::next(std::string& line, bool& terminated) {
  if (!file_)
    return false;
  errno = 0;
  ssize_t n = ::getline(&buf_, &cap_, file_);
  if (n < 0) {
    if (std::ferror(file_))
      error_ = errnoMessage("cannot read", path_, errno);
    return false;
  }
  terminated = n > 0 && buf_[n - 1] == '\n';
  line.assign(buf_, static_cast<size_t>(terminated ? n - 1 : n));
  return true;
}

} // namespace sidecar::audit
