#include "drift/baseline.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sidecar::drift {
namespace {

// A baseline is a few KB per tool; anything this large is not one.
constexpr off_t kMaxFileBytes = 64 << 20;

std::string sysError(std::string_view what, const std::string& path, int err) {
  return std::string(what) + " " + path + ": " + std::strerror(err);
}

std::string directoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

const JsonValue* member(const JsonValue& object, std::string_view key, JsonValue::Type type) {
  const JsonValue* v = object.find(key);
  return v && v->type == type ? v : nullptr;
}

// `"<member>":[` + one line per item `{"<key>":…,"sha256":…,"definition":…}` + `\n]`.
void appendItems(const DefinitionManifest& m, std::string& out) {
  out += '"';
  out += m.kind().member;
  out += "\":[";
  bool first = true;
  for (const auto& [key, item] : m.items()) {
    out += first ? "\n" : ",\n";
    first = false;
    out += "{\"";
    out += m.kind().key;
    out += "\":";
    appendJsonString(key, out);
    out += ",\"sha256\":";
    appendJsonString(item.hash, out);
    out += ",\"definition\":";
    out += item.form;
    out += '}';
  }
  out += "\n]";
}

// Reads `items`, the array of `kind` (`tools`, `resources`, `prompts`), into `out`, checking
// each item's hash against its definition.
Status readItems(const ListKind& kind, const JsonValue& items, DefinitionManifest& out) {
  using Type = JsonValue::Type;
  for (size_t i = 0; i < items.items.size(); ++i) {
    const JsonValue& entry = items.items[i];
    std::string where = std::string(kind.member) + "[" + std::to_string(i) + "]";
    const JsonValue* key = member(entry, kind.key, Type::String);
    const JsonValue* sha = member(entry, "sha256", Type::String);
    const JsonValue* definition = entry.find("definition");
    if (!key || !sha || !definition)
      return Status::error(where + " needs " + jsonString(kind.key) +
                           ", \"sha256\" and \"definition\"");
    Result<Definition> def = makeDefinition(kind, *definition);
    if (!def.ok())
      return Status::error(where + ": " + def.error());
    if (def->name != key->text)
      return Status::error(where + ": " + jsonString(kind.key) + " " + jsonString(key->text) +
                           " differs from the definition's " + jsonString(def->name));
    if (def->hash != sha->text)
      return Status::error(where + " (" + jsonString(key->text) +
                           "): \"sha256\" does not match the definition, which hashes to " +
                           def->hash);
    Status added = out.addDefinition(std::move(*def));
    if (!added.ok())
      return Status::error(where + ": " + added.message());
  }
  return Status();
}

} // namespace

std::string Baseline::toJson() const {
  std::string out = "{\"format\":";
  appendJsonString(kBaselineFormat, out);
  out += ",\"learned_at\":";
  appendJsonString(learnedAt, out);
  out += ",\"origin\":";
  appendJsonString(origin, out);
  out += ",\"manifest_hash\":";
  appendJsonString(manifest.hash(), out);
  out += ',';
  appendItems(manifest, out);
  for (const std::optional<DefinitionManifest>* list : {&resources, &prompts}) {
    if (!*list)
      continue;
    out += ",\"";
    out += (*list)->kind().member;
    out += "_hash\":";
    appendJsonString((*list)->hash(), out);
    out += ',';
    appendItems(**list, out);
  }
  out += "}\n";
  return out;
}

Result<Baseline> Baseline::fromJson(std::string_view text) {
  using Type = JsonValue::Type;
  Result<JsonValue> doc = parseJson(text);
  if (!doc.ok())
    return Status::error("not valid JSON: " + doc.error());
  if (!doc->isObject())
    return Status::error("not a JSON object");
  const JsonValue* format = member(*doc, "format", Type::String);
  if (!format || format->text != kBaselineFormat)
    return Status::error("\"format\" is not " + jsonString(kBaselineFormat));
  const JsonValue* learned = member(*doc, "learned_at", Type::String);
  const JsonValue* origin = member(*doc, "origin", Type::String);
  const JsonValue* hash = member(*doc, "manifest_hash", Type::String);
  const JsonValue* tools = member(*doc, "tools", Type::Array);
  if (!learned || !origin || !hash || !tools)
    return Status::error(
        "\"learned_at\", \"origin\", \"manifest_hash\" (strings) and \"tools\" (array) are needed");

  Baseline b;
  b.learnedAt = learned->text;
  b.origin = origin->text;
  if (Status st = readItems(kToolList, *tools, b.manifest); !st.ok())
    return st;
  if (b.manifest.hash() != hash->text)
    return Status::error("\"manifest_hash\" " + jsonString(hash->text) +
                         " does not match the tools, which hash to " + b.manifest.hash());
  // Resources and prompts: a file written before they were compared has neither.
  for (const ListKind* kind : {&kResourceList, &kPromptList}) {
    std::string array(kind->member), hashName = array + "_hash";
    const JsonValue* items = doc->find(array);
    const JsonValue* listHash = doc->find(hashName);
    if (!items && !listHash)
      continue;
    if (!items || items->type != Type::Array || !listHash || listHash->type != Type::String)
      return Status::error(jsonString(array) + " (array) and " + jsonString(hashName) +
                           " (string) go together");
    DefinitionManifest m(*kind);
    if (Status st = readItems(*kind, *items, m); !st.ok())
      return st;
    if (m.hash() != listHash->text)
      return Status::error(jsonString(hashName) + " " + jsonString(listHash->text) +
                           " does not match the " + array + ", which hash to " + m.hash());
    (kind == &kResourceList ? b.resources : b.prompts) = std::move(m);
  }
  return b;
}

Status Baseline::save(const std::string& path) const {
  std::string data = toJson();
  std::string tmp = path + ".tmp-XXXXXX";
  // mkostemp creates the file with mode 0600 whatever the umask; fchmod makes that explicit.
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0)
    return Status::error(
        sysError("cannot create a temporary file for the drift baseline", tmp, errno));
  Status st;
  if (::fchmod(fd, 0600) != 0)
    st = Status::error(sysError("cannot set mode 0600 on", tmp, errno));
  else if (!writeAll(fd, data))
    st = Status::error(sysError("cannot write", tmp, errno));
  else if (::fsync(fd) != 0)
    st = Status::error(sysError("cannot fsync", tmp, errno));
  if (::close(fd) != 0 && st.ok())
    st = Status::error(sysError("cannot close", tmp, errno));
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    st = Status::error(sysError("cannot rename " + tmp + " to", path, errno));
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  // The rename is durable once the directory entry is: fsync the directory.
  std::string dir = directoryOf(path);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return Status::error(sysError("cannot open the directory", dir, errno));
  int rc = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  if (rc != 0)
    return Status::error(sysError("cannot fsync the directory", dir, err));
  return Status();
}

Result<std::optional<Baseline>> Baseline::load(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return std::optional<Baseline>();
    return Status::error(sysError("cannot open the drift baseline", path, errno));
  }
  struct stat st {};
  std::string data;
  std::string error;
  if (::fstat(fd, &st) != 0) {
    error = sysError("cannot stat the drift baseline", path, errno);
  } else if (!S_ISREG(st.st_mode)) {
    error = "the drift baseline " + path + " is not a regular file";
  } else if (st.st_size > kMaxFileBytes) {
    error = "the drift baseline " + path + " is larger than 64 MiB";
  } else {
    data.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < data.size()) {
      ssize_t n = ::read(fd, data.data() + got, data.size() - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        if (n < 0)
          error = sysError("cannot read the drift baseline", path, errno);
        break;
      }
      got += static_cast<size_t>(n);
    }
    data.resize(got);
  }
  ::close(fd);
  if (!error.empty())
    return Status::error(error);
  Result<Baseline> b = fromJson(data);
  if (!b.ok())
    return Status::error("the drift baseline " + path + " is corrupt: " + b.error() +
                         "; restore it, or remove it to learn the server's tools afresh");
  return std::optional<Baseline>(std::move(*b));
}

} // namespace sidecar::drift
