#include "clients/json_tree.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace sidecar::clients {

namespace {

constexpr size_t kMaxDepth = 256;
constexpr std::string_view kBom = "\xEF\xBB\xBF";

// Receives RapidJSON's events and builds the tree. RapidJSON reports a value once it has read
// it, with the stream just past its last byte (past the opening bracket for StartObject and
// StartArray), so ends come from the stream; a value's start is the first byte after the previous
// token that is not whitespace, a comment, ':' or ','.
class TreeBuilder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, TreeBuilder> {
public:
  TreeBuilder(std::string_view text, size_t base, const rapidjson::MemoryStream& ms)
      : text_(text), base_(base), ms_(ms) {}

  bool Null() { return scalar(JsonNode::Kind::Null, "null"); }
  bool Bool(bool b) { return scalar(JsonNode::Kind::Bool, b ? "true" : "false"); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    return scalar(JsonNode::Kind::Number, std::string_view(s, n));
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    return scalar(JsonNode::Kind::String, std::string_view(s, n));
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    Frame& f = stack_.back();
    f.keyBegin = tokenStart();
    f.keyEnd = cursor_ = pos();
    f.key.assign(s, n);
    return true;
  }
  bool StartObject() { return open(JsonNode::Kind::Object); }
  bool StartArray() { return open(JsonNode::Kind::Array); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool EndArray(rapidjson::SizeType) { return close(); }

  bool tooDeep() const { return tooDeep_; }
  JsonNode takeRoot() { return std::move(root_); }

private:
  struct Frame {
    JsonNode node;
    std::string key;
    size_t keyBegin = 0;
    size_t keyEnd = 0;
  };

  size_t pos() const { return base_ + ms_.Tell(); }

  // The first byte at or after cursor_ that starts a token.
  size_t tokenStart() const {
    size_t p = cursor_;
    while (p < text_.size()) {
      char c = text_[p];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':' || c == ',') {
        ++p;
      } else if (c == '/' && p + 1 < text_.size() && text_[p + 1] == '/') {
        while (p < text_.size() && text_[p] != '\n')
          ++p;
      } else if (c == '/' && p + 1 < text_.size() && text_[p + 1] == '*') {
        size_t close = text_.find("*/", p + 2);
        p = close == std::string_view::npos ? text_.size() : close + 2;
      } else {
        break;
      }
    }
    return p;
  }

  void attach(JsonNode node) {
    if (stack_.empty()) {
      root_ = std::move(node);
      return;
    }
    Frame& parent = stack_.back();
    if (parent.node.kind == JsonNode::Kind::Object) {
      JsonNode::Member m;
      m.key = std::move(parent.key);
      m.keyBegin = parent.keyBegin;
      m.keyEnd = parent.keyEnd;
      m.value = std::move(node);
      parent.node.members.push_back(std::move(m));
    } else {
      parent.node.elements.push_back(std::move(node));
    }
  }

  bool scalar(JsonNode::Kind kind, std::string_view text) {
    JsonNode n;
    n.kind = kind;
    n.begin = tokenStart();
    n.end = cursor_ = pos();
    n.text.assign(text);
    attach(std::move(n));
    return true;
  }

  bool open(JsonNode::Kind kind) {
    if (stack_.size() >= kMaxDepth) {
      tooDeep_ = true;
      return false;
    }
    Frame f;
    f.node.kind = kind;
    f.node.begin = pos() - 1; // the bracket just read
    cursor_ = pos();
    stack_.push_back(std::move(f));
    return true;
  }

  bool close() {
    JsonNode n = std::move(stack_.back().node);
    stack_.pop_back();
    // The closing bracket: RapidJSON has read it, except after a trailing comma, where it reports
    // the end of the container just before.
    n.end = cursor_ = tokenStart() + 1;
    attach(std::move(n));
    return true;
  }

  std::string_view text_;
  size_t base_;
  const rapidjson::MemoryStream& ms_;
  size_t cursor_ = 0;
  std::vector<Frame> stack_;
  JsonNode root_;
  bool tooDeep_ = false;
};

template <unsigned kFlags> void runParse(std::string_view text, size_t base, JsonParse& out) {
  rapidjson::MemoryStream ms(text.data() + base, text.size() - base);
  TreeBuilder builder(text, base, ms);
  rapidjson::Reader reader;
  rapidjson::ParseResult r = reader.Parse<kFlags>(ms, builder);
  if (r) {
    out.ok = true;
    out.root = builder.takeRoot();
    return;
  }
  out.errorOffset = base + r.Offset();
  out.error = builder.tooDeep() ? "nested deeper than " + std::to_string(kMaxDepth) + " levels"
                                : rapidjson::GetParseError_En(r.Code());
  // RapidJSON's messages end with a full stop; ours are embedded in longer sentences.
  while (!out.error.empty() && out.error.back() == '.')
    out.error.pop_back();
}

} // namespace

const JsonNode::Member* JsonNode::findMember(std::string_view key) const {
  const Member* found = nullptr;
  if (kind == Kind::Object)
    for (const Member& m : members)
      if (m.key == key)
        found = &m;
  return found;
}

const JsonNode* JsonNode::find(std::string_view key) const {
  const Member* m = findMember(key);
  return m ? &m->value : nullptr;
}

JsonParse parseJsonTree(std::string_view text, bool jsonc) {
  JsonParse out;
  const size_t base = text.substr(0, kBom.size()) == kBom ? kBom.size() : 0;
  // RapidJSON stops at a NUL byte as at the end of the input, so text after one would be
  // ignored rather than refused.
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
    out.errorOffset = nul;
    out.error = "a NUL byte (not text)";
    return out;
  }
  constexpr unsigned kStrict =
      rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseValidateEncodingFlag;
  constexpr unsigned kWithComments =
      kStrict | rapidjson::kParseCommentsFlag | rapidjson::kParseTrailingCommasFlag;
  if (jsonc)
    runParse<kWithComments>(text, base, out);
  else
    runParse<kStrict>(text, base, out);
  return out;
}

LineColumn lineColumnAt(std::string_view text, size_t offset) {
  LineColumn lc;
  if (offset > text.size())
    offset = text.size();
  // The byte order mark adds no column.
  const size_t start = text.substr(0, kBom.size()) == kBom ? kBom.size() : 0;
  for (size_t i = start; i < offset; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++lc.line;
      lc.column = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++lc.column; // characters, not bytes: UTF-8 continuation bytes (10xxxxxx) add none
    }
  }
  return lc;
}

std::string jsonQuote(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

} // namespace sidecar::clients
