#include "drift/canonical_json.h"

#include <openssl/evp.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "common/json_text.h"

namespace sidecar::drift {
namespace {

using Type = JsonValue::Type;

// A SAX handler that builds the tree. Numbers arrive as raw text (kParseNumbersAsStringsFlag).
// Pointers on the stack stay valid: a container only grows while it is the innermost open one,
// so no vector holding an open container is ever reallocated.
class TreeBuilder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, TreeBuilder> {
public:
  bool Null() { return scalar(Type::Null, {}); }
  bool Bool(bool b) { return scalar(b ? Type::True : Type::False, {}); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    return scalar(Type::Number, {s, n});
  }
  bool String(const char* s, rapidjson::SizeType n, bool) { return scalar(Type::String, {s, n}); }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    key_.assign(s, n);
    return true;
  }
  bool StartObject() { return open(Type::Object); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() { return open(Type::Array); }
  bool EndArray(rapidjson::SizeType) { return close(); }

  JsonValue& root() { return root_; }
  // Why the handler stopped the parse; empty when it did not.
  const std::string& stopReason() const { return stopReason_; }

private:
  JsonValue* place(JsonValue value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    JsonValue* parent = stack_.back();
    if (parent->isObject())
      parent->keys.push_back(std::move(key_));
    parent->items.push_back(std::move(value));
    return &parent->items.back();
  }

  bool scalar(Type type, std::string_view text) {
    JsonValue v;
    v.type = type;
    v.text = text;
    place(std::move(v));
    return true;
  }

  bool open(Type type) {
    if (stack_.size() >= kMaxJsonDepth) {
      stopReason_ = "nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels";
      return false;
    }
    JsonValue v;
    v.type = type;
    stack_.push_back(place(std::move(v)));
    return true;
  }

  bool close() {
    const JsonValue* v = stack_.back();
    stack_.pop_back();
    if (v->isObject() && v->keys.size() > 1) {
      std::vector<std::string_view> names(v->keys.begin(), v->keys.end());
      std::sort(names.begin(), names.end());
      auto dup = std::adjacent_find(names.begin(), names.end());
      if (dup != names.end()) {
        stopReason_ = "an object has two members named " + jsonString(*dup);
        return false;
      }
    }
    return true;
  }

  JsonValue root_;
  std::vector<JsonValue*> stack_;
  std::string key_;
  std::string stopReason_;
};

void appendHex(const unsigned char* bytes, size_t n, std::string& out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0x0f];
  }
}

} // namespace

const JsonValue* JsonValue::find(std::string_view key) const {
  if (!isObject())
    return nullptr;
  for (size_t i = 0; i < keys.size(); ++i)
    if (keys[i] == key)
      return &items[i];
  return nullptr;
}

Result<JsonValue> parseJson(std::string_view text) {
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag |
                              rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseValidateEncodingFlag;
  TreeBuilder builder;
  rapidjson::MemoryStream stream(text.data(), text.size());
  rapidjson::Reader reader;
  rapidjson::ParseResult r = reader.Parse<kFlags>(stream, builder);
  if (r.IsError()) {
    std::string why =
        builder.stopReason().empty() ? rapidjson::GetParseError_En(r.Code()) : builder.stopReason();
    return Status::error(why + " (at byte " + std::to_string(r.Offset()) + ")");
  }
  // The reader takes a NUL byte for the end of the input.
  if (stream.Tell() != text.size())
    return Status::error("a NUL byte after the JSON text (at byte " +
                         std::to_string(stream.Tell()) + ")");
  return std::move(builder.root());
}

void appendCanonical(const JsonValue& value, std::string& out) {
  switch (value.type) {
  case Type::Null:
    out += "null";
    return;
  case Type::False:
    out += "false";
    return;
  case Type::True:
    out += "true";
    return;
  case Type::Number:
    out += value.text;
    return;
  case Type::String:
    appendJsonString(value.text, out);
    return;
  case Type::Array:
    out += '[';
    for (size_t i = 0; i < value.items.size(); ++i) {
      if (i)
        out += ',';
      appendCanonical(value.items[i], out);
    }
    out += ']';
    return;
  case Type::Object: {
    // std::string compares through char_traits<char>, i.e. as unsigned bytes: UTF-8 byte order,
    // which is also code point order.
    std::vector<size_t> order(value.keys.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return value.keys[a] < value.keys[b]; });
    out += '{';
    for (size_t i = 0; i < order.size(); ++i) {
      if (i)
        out += ',';
      appendJsonString(value.keys[order[i]], out);
      out += ':';
      appendCanonical(value.items[order[i]], out);
    }
    out += '}';
    return;
  }
  }
}

std::string canonical(const JsonValue& value) {
  std::string out;
  appendCanonical(value, out);
  return out;
}

Result<std::string> canonicalJson(std::string_view text) {
  Result<JsonValue> parsed = parseJson(text);
  if (!parsed.ok())
    return parsed.status();
  return canonical(*parsed);
}

void appendJsonString(std::string_view text, std::string& out) {
  sidecar::appendJsonString(out, text, HexCase::Lower); // the escaping in the header comment
}

std::string jsonString(std::string_view text) {
  std::string out;
  appendJsonString(text, out);
  return out;
}

std::string sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
    std::abort(); // SHA-256 cannot fail short of a broken OpenSSL
  std::string out;
  appendHex(md, len, out);
  return out;
}

} // namespace sidecar::drift
