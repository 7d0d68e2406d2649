#include "aim/usage_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "common/log.h"

namespace sidecar::aim {

namespace {

constexpr const char* kSnapshot = "usage.json";

Status sysError(std::string_view what, const std::string& path, int err) {
  return Status::error("AIM usage counts: " + std::string(what) + " " + path + ": " +
                       strerror(err));
}

bool readWhole(const std::string& path, std::string& out, int& err) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    err = errno;
    return false;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

Status writeSnapshot(const std::string& dir, uint64_t generation, const UsageTotals& totals) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("generation");
  w.Uint64(generation);
  w.Key("tools");
  w.StartObject();
  for (const auto& [tool, u] : totals) {
    w.Key(tool.data(), static_cast<rapidjson::SizeType>(tool.size()));
    w.StartObject();
    w.Key("count");
    w.Uint64(u.count);
    w.Key("firstUsed");
    w.String(u.firstUsed.data(), static_cast<rapidjson::SizeType>(u.firstUsed.size()));
    w.Key("lastUsed");
    w.String(u.lastUsed.data(), static_cast<rapidjson::SizeType>(u.lastUsed.size()));
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  std::string data(buf.GetString(), buf.GetSize());
  data += '\n';

  std::string tmp = dir + "/.usage.json.tmp";
  std::string final = dir + "/" + kSnapshot;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return sysError("cannot create", tmp, errno);
  std::string_view rest = data;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return sysError("cannot write", tmp, err);
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return sysError("cannot fsync", tmp, err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), final.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return sysError("cannot rename into", final, err);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

// Journal generations present in `dir`.
std::vector<uint64_t> journalGenerations(const std::string& dir) {
  std::vector<uint64_t> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return out;
  while (struct dirent* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    constexpr std::string_view kPrefix = "journal-", kSuffix = ".log";
    if (name.size() <= kPrefix.size() + kSuffix.size() || name.rfind(kPrefix, 0) != 0 ||
        name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
      continue;
    std::string digits = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
    if (digits.empty() || digits.size() > 19 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    out.push_back(std::stoull(digits));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

void UsageStore::add(UsageTotals& totals, const std::string& tool, const std::string& when) {
  ToolUsage& u = totals[tool];
  ++u.count;
  if (u.firstUsed.empty() || when < u.firstUsed)
    u.firstUsed = when;
  if (u.lastUsed.empty() || when > u.lastUsed)
    u.lastUsed = when;
}

std::string UsageStore::journalPath(uint64_t generation) const {
  return dir_ + "/journal-" + std::to_string(generation) + ".log";
}

Result<UsageStorePtr> UsageStore::open(std::string dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return sysError("cannot create", dir, errno);
  UsageStorePtr store(new UsageStore(std::move(dir)));
  const std::string& d = store->dir_;

  uint64_t generation = 0;
  std::string text;
  int err = 0;
  std::string snapshotPath = d + "/" + kSnapshot;
  if (readWhole(snapshotPath, text, err)) {
    rapidjson::Document doc;
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("generation") ||
        !doc["generation"].IsUint64() || !doc.HasMember("tools") || !doc["tools"].IsObject())
      return Status::error("AIM usage counts: " + snapshotPath +
                           " is not a usage snapshot; restore it or move it away to restart "
                           "the totals from zero");
    generation = doc["generation"].GetUint64();
    const rapidjson::Value& tools = doc["tools"];
    for (rapidjson::SizeType i = 0; i < tools.MemberCount(); ++i) {
      auto it = tools.MemberBegin() + i;
      const rapidjson::Value& v = it->value;
      if (!v.IsObject() || !v.HasMember("count") || !v["count"].IsUint64())
        return Status::error("AIM usage counts: " + snapshotPath + " has an invalid entry for " +
                             std::string(it->name.GetString(), it->name.GetStringLength()));
      ToolUsage u;
      u.count = v["count"].GetUint64();
      if (v.HasMember("firstUsed") && v["firstUsed"].IsString())
        u.firstUsed = v["firstUsed"].GetString();
      if (v.HasMember("lastUsed") && v["lastUsed"].IsString())
        u.lastUsed = v["lastUsed"].GetString();
      store->totals_[std::string(it->name.GetString(), it->name.GetStringLength())] = u;
    }
  } else if (err != ENOENT) {
    return sysError("cannot read", snapshotPath, err);
  }

  uint64_t maxGeneration = generation;
  for (uint64_t g : journalGenerations(d)) {
    maxGeneration = std::max(maxGeneration, g);
    if (g < generation)
      continue; // already in the snapshot; deleted below
    std::string path = store->journalPath(g);
    std::string journal;
    if (!readWhole(path, journal, err))
      return sysError("cannot read", path, err);
    size_t pos = 0;
    while (pos < journal.size()) {
      size_t nl = journal.find('\n', pos);
      if (nl == std::string::npos) {
        // The last write of a crashed process, cut short: that call's answer never left either.
        log::warn("AIM usage counts: ignoring an incomplete last journal line", {{"path", path}});
        break;
      }
      rapidjson::Document line;
      line.Parse(journal.data() + pos, nl - pos);
      pos = nl + 1;
      if (line.HasParseError() || !line.IsArray() || line.Size() != 2 || !line[0].IsString() ||
          !line[1].IsString()) {
        log::warn("AIM usage counts: ignoring an invalid journal line", {{"path", path}});
        continue;
      }
      add(store->totals_, std::string(line[0].GetString(), line[0].GetStringLength()),
          std::string(line[1].GetString(), line[1].GetStringLength()));
    }
  }
  // Start a fresh journal generation and fold everything into the snapshot.
  store->generation_ = maxGeneration + 1;
  store->journalFd_ = ::open(store->journalPath(store->generation_).c_str(),
                             O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (store->journalFd_ < 0)
    return sysError("cannot create", store->journalPath(store->generation_), errno);
  if (Status st = writeSnapshot(d, store->generation_, store->totals_); !st.ok())
    return st;
  for (uint64_t g : journalGenerations(d))
    if (g < store->generation_)
      ::unlink(store->journalPath(g).c_str());
  return store;
}

UsageStore::~UsageStore() {
  if (journalFd_ >= 0)
    ::close(journalFd_);
}

Status UsageStore::record(std::string_view tool, std::chrono::system_clock::time_point when) {
  std::string ts = rfc3339Utc(when);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  w.String(tool.data(), static_cast<rapidjson::SizeType>(tool.size()));
  w.String(ts.data(), static_cast<rapidjson::SizeType>(ts.size()));
  w.EndArray();
  std::string line(buf.GetString(), buf.GetSize());
  line += '\n';

  std::lock_guard<std::mutex> lock(mu_);
  add(totals_, std::string(tool), ts);
  ++version_;
  // One write(2) with O_APPEND: the line lands whole or, if the process dies inside the call,
  // as a cut-short tail that open() ignores.
  ssize_t n;
  do {
    n = ::write(journalFd_, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(line.size()))
    return sysError("cannot append to", journalPath(generation_), n < 0 ? errno : EIO);
  return {};
}

UsageTotals UsageStore::totals() const {
  std::lock_guard<std::mutex> lock(mu_);
  return totals_;
}

uint64_t UsageStore::version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return version_;
}

Status UsageStore::compact() {
  std::lock_guard<std::mutex> compactLock(compactMu_);
  uint64_t newGeneration;
  UsageTotals snapshot;
  int oldFd;
  {
    std::lock_guard<std::mutex> lock(mu_);
    newGeneration = generation_ + 1;
    int fd =
        ::open(journalPath(newGeneration).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
      return sysError("cannot create", journalPath(newGeneration), errno);
    oldFd = journalFd_;
    journalFd_ = fd;
    generation_ = newGeneration;
    snapshot = totals_;
  }
  ::close(oldFd);
  // Until the snapshot is renamed into place, the old snapshot plus both journals still add up to
  // the totals; afterwards the snapshot alone covers the older journals.
  if (Status st = writeSnapshot(dir_, newGeneration, snapshot); !st.ok())
    return st;
  for (uint64_t g : journalGenerations(dir_))
    if (g < newGeneration)
      ::unlink(journalPath(g).c_str());
  return {};
}

} // namespace sidecar::aim
