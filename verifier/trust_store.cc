#include "verifier/trust_store.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "verifier/verifier.h"

namespace sidecar::verifier {
namespace {

constexpr const char* kFields = "id, public_key, expires, revoked, tools, aim_agent_id";

bool digits(std::string_view s, size_t pos, size_t n, int& value) {
  if (pos + n > s.size())
    return false;
  value = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    value = value * 10 + (s[i] - '0');
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (the usual era-based computation).
int64_t daysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;                                   // [0, 399]
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; // [0, 365]
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           // [0, 146096]
  return era * 146097 + doe - 719468;
}

int daysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

bool isBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; });
}

// RFC 3339 date-time: 2027-01-01T00:00:00Z, with optional fractional seconds (dropped) and a
// "Z" or ±hh:mm offset; "t", "z" and a space separator are accepted as RFC 3339 allows.
std::optional<int64_t> parseRfc3339(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, sec))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || sec > 60)
    return std::nullopt;
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9')
      ++pos;
    if (pos == start)
      return std::nullopt;
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size())
    return std::nullopt;
  return daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
}

} // namespace

bool TrustedKey::allowsTool(std::string_view tool) const {
  if (!tools)
    return true;
  return std::find(tools->begin(), tools->end(), tool) != tools->end();
}

Result<std::shared_ptr<const TrustStore>> TrustStore::parse(std::string_view yamlText,
                                                            const std::string& source) {
  const std::string where = "trust store " + source + ": ";
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yamlText));
  } catch (const YAML::Exception& e) {
    return Status::error(where + "not valid YAML at line " + std::to_string(e.mark.line + 1) +
                         ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!root.IsMap())
    return Status::error(where + "expected a map with a 'keys:' list at the top, e.g. "
                                 "keys: [{id: alice, public_key: \"...\"}]");

  auto store = std::make_shared<TrustStore>();
  try {
    YAML::Node keys;
    bool haveKeys = false;
    for (auto it = root.begin(); it != root.end(); ++it) {
      std::string name = it->first.Scalar();
      if (name != "keys")
        return Status::error(where + "unknown top-level field '" + name +
                             "'; the file holds only 'keys:', a list of entries with " + kFields);
      keys = it->second;
      haveKeys = true;
    }
    if (!haveKeys)
      return Status::error(where + "no 'keys:' list; expected keys: followed by entries with " +
                           kFields + " (an empty list 'keys: []' accepts no caller)");
    if (!keys.IsNull() && !keys.IsSequence())
      return Status::error(where + "'keys' must be a list of entries with " + kFields);

    for (size_t i = 0; keys.IsSequence() && i < keys.size(); ++i) {
      const YAML::Node entry = keys[i];
      std::string at = where + "keys[" + std::to_string(i) + "]";
      if (!entry.IsMap())
        return Status::error(at + ": expected an entry with the fields " + kFields);
      // The id first, so that every later error can name the entry by it.
      if (const YAML::Node id = entry["id"]; id && !id.IsNull()) {
        if (!id.IsScalar())
          return Status::error(at + ": id: must be a string");
        at += " (id " + id.Scalar() + ")";
      }
      auto fieldError = [&at](const std::string& field, const std::string& what) {
        return Status::error(at + ": " + field + ": " + what);
      };

      TrustedKey key;
      bool haveId = false, havePublicKey = false;
      std::vector<std::string> seen;
      for (auto it = entry.begin(); it != entry.end(); ++it) {
        const std::string field = it->first.Scalar();
        const YAML::Node value = it->second;
        if (std::find(seen.begin(), seen.end(), field) != seen.end())
          return fieldError(field, "given twice in the same entry");
        seen.push_back(field);
        auto scalar = [&](std::string& out) {
          if (!value.IsScalar() || isBlank(value.Scalar()))
            return false;
          out = value.Scalar();
          return true;
        };
        if (field == "id") {
          if (value.IsNull())
            continue; // "id:" with no value: the fingerprint, as when absent
          if (!scalar(key.id) || !isValidKeyId(key.id))
            return fieldError(field, "must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ / + = "
                                     "- (it is sent as X-MCP-Key-Id); leave it out to use the "
                                     "key's fingerprint");
          haveId = true;
        } else if (field == "public_key") {
          std::string text;
          if (!scalar(text))
            return fieldError(field, "must be a string holding the caller's public key");
          auto pub = parsePublicKey(text);
          if (!pub.ok())
            return fieldError(field, pub.error());
          key.key = *pub;
          havePublicKey = true;
        } else if (field == "expires") {
          std::string text;
          std::optional<int64_t> when;
          if (scalar(text))
            when = parseRfc3339(text);
          if (!when)
            return fieldError(field, "'" + (value.IsScalar() ? value.Scalar() : std::string()) +
                                         "' is not an RFC 3339 date-time; expected e.g. "
                                         "2027-01-01T00:00:00Z or 2027-01-01T02:00:00+02:00");
          key.expiresUnix = when;
        } else if (field == "revoked") {
          bool revoked = false;
          if (!value.IsScalar() || !YAML::convert<bool>::decode(value, revoked))
            return fieldError(field, "must be true or false");
          key.revoked = revoked;
        } else if (field == "tools") {
          if (!value.IsSequence())
            return fieldError(field, "must be a list of tool names: [] allows no tool; leave "
                                     "the field out to allow every tool");
          std::vector<std::string> tools;
          for (size_t t = 0; t < value.size(); ++t) {
            const YAML::Node item = value[t];
            if (!item.IsScalar() || item.Scalar().empty())
              return fieldError(field + "[" + std::to_string(t) + "]",
                                "must be a tool name (a non-empty string)");
            tools.push_back(item.Scalar());
          }
          key.tools = std::move(tools);
        } else if (field == "aim_agent_id") {
          if (value.IsNull())
            continue;
          if (!scalar(key.aimAgentId))
            return fieldError(field, "must be a string");
        } else {
          return fieldError(field, std::string("unknown field; an entry has only ") + kFields);
        }
      }
      if (!havePublicKey)
        return Status::error(at + ": public_key: missing; every entry needs the caller's key");
      if (!haveId)
        key.id = fingerprint(key.key);
      if (auto [it, inserted] = store->byId_.emplace(key.id, store->keys_.size()); !inserted)
        return Status::error(at + ": id: '" + key.id + "' is already the id of keys[" +
                             std::to_string(it->second) +
                             "]; ids must be unique (an entry without an id takes its key's "
                             "fingerprint as id)");
      store->keys_.push_back(std::move(key));
    }
  } catch (const YAML::Exception& e) {
    return Status::error(where + "unexpected structure at line " + std::to_string(e.mark.line + 1) +
                         ": " + e.msg);
  }
  return std::shared_ptr<const TrustStore>(std::move(store));
}

Result<std::shared_ptr<const TrustStore>> TrustStore::load(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f)
    return Status::error("trust store " + path + ": cannot open: " + std::strerror(errno) +
                         " (check --trust-store)");
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    text.append(buf, n);
  bool failed = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (failed)
    return Status::error("trust store " + path + ": read error: " + std::strerror(err));
  return parse(text, path);
}

const TrustedKey* TrustStore::find(std::string_view id) const {
  auto it = byId_.find(id);
  return it == byId_.end() ? nullptr : &keys_[it->second];
}

} // namespace sidecar::verifier
