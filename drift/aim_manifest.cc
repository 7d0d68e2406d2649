#include "drift/aim_manifest.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <numeric>
#include <system_error>

namespace sidecar::drift {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr char32_t kReplacement = 0xFFFD;

// ---- UTF-8 as Go's unicode/utf8 reads and writes it ----

struct Rune {
  char32_t value;
  size_t size; // bytes consumed; 1 for an invalid byte (value kReplacement)
};

// utf8.DecodeRune: the rune at the start of `s` (not empty), or (U+FFFD, 1) for an invalid
// sequence: a stray continuation byte, C0/C1/F5-FF, a truncated sequence, an overlong form, a
// surrogate (ED A0-BF), or beyond U+10FFFF. Go replaces each invalid byte separately.
Rune decodeRune(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char b0 = byte(0);
  if (b0 < 0x80)
    return {b0, 1};
  size_t need = 0;
  char32_t value = 0;
  unsigned char lo = 0x80, hi = 0xBF; // the range the second byte must be in
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    value = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    value = b0 & 0x0F;
    if (b0 == 0xE0)
      lo = 0xA0; // no overlong forms
    else if (b0 == 0xED)
      hi = 0x9F; // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    value = b0 & 0x07;
    if (b0 == 0xF0)
      lo = 0x90; // no overlong forms
    else if (b0 == 0xF4)
      hi = 0x8F; // nothing beyond U+10FFFF
  } else {
    return {kReplacement, 1};
  }
  if (s.size() < need + 1)
    return {kReplacement, 1};
  for (size_t i = 1; i <= need; ++i) {
    unsigned char b = byte(i);
    if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
      return {kReplacement, 1};
    value = (value << 6) | (b & 0x3F);
  }
  return {value, need + 1};
}

// utf8.AppendRune of a valid scalar value.
void appendUtf8(char32_t r, std::string& out) {
  if (r < 0x80) {
    out += static_cast<char>(r);
  } else if (r < 0x800) {
    out += static_cast<char>(0xC0 | (r >> 6));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    out += static_cast<char>(0xE0 | (r >> 12));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (r >> 18));
    out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  }
}

// ---- the decoded value: Go's interface{} tree, held in one arena ----
//
// Nodes refer to their children by index, so nothing recurses: not the parser, not the writer,
// not the destructor (a document may nest kGoMaxJsonDepth levels deep).

struct Node {
  enum class Kind : uint8_t { Null, False, True, Number, String, Array, Object };
  Kind kind = Kind::Null;
  double number = 0;
  std::string text;              // String: the decoded UTF-8
  std::vector<uint32_t> items;   // Array: elements; Object: member values
  std::vector<std::string> keys; // Object: decoded member names, parallel to items
};
using Kind = Node::Kind;

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int hexValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return c - 'A' + 10;
}

// Go's decoder: the scanner's grammar (scanner.go) and the conversions of literalInterface
// (decode.go: unquote, strconv.ParseFloat).
class GoDecoder {
public:
  explicit GoDecoder(std::string_view in) : in_(in) {}

  // False where json.Unmarshal returns an error.
  bool decode() {
    skipSpace();
    if (!value())
      return false;
    for (;;) {
      skipSpace();
      if (open_.empty())
        return pos_ == in_.size(); // nothing but whitespace after the value
      bool object = nodes_[open_.back()].kind == Kind::Object;
      char close = object ? '}' : ']';
      if (peek() == close) {
        ++pos_;
        open_.pop_back();
        justOpened_ = false;
        continue;
      }
      if (justOpened_) {
        justOpened_ = false; // the first member or element follows
      } else {
        if (peek() != ',')
          return false;
        ++pos_;
        skipSpace();
      }
      if (object && !memberName())
        return false;
      skipSpace();
      if (!value())
        return false;
    }
  }

  std::vector<Node>& nodes() { return nodes_; }
  uint32_t root() const { return root_; }

private:
  char peek() const { return pos_ < in_.size() ? in_[pos_] : '\0'; }
  bool atEnd() const { return pos_ >= in_.size(); }

  void skipSpace() {
    while (pos_ < in_.size() &&
           (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r'))
      ++pos_;
  }

  // Appends a node and hangs it under the innermost open container (or makes it the root).
  uint32_t add(Kind kind) {
    uint32_t index = static_cast<uint32_t>(nodes_.size());
    nodes_.emplace_back();
    nodes_.back().kind = kind;
    if (open_.empty()) {
      root_ = index;
    } else {
      Node& parent = nodes_[open_.back()];
      if (parent.kind == Kind::Object)
        parent.keys.push_back(std::move(key_));
      parent.items.push_back(index);
    }
    return index;
  }

  // A member name and its colon (the whitespace before the name is already skipped).
  bool memberName() {
    if (peek() != '"' || !quoted(key_))
      return false;
    skipSpace();
    if (peek() != ':')
      return false;
    ++pos_;
    return true;
  }

  bool value() {
    if (atEnd())
      return false;
    char c = in_[pos_];
    switch (c) {
    case '{':
    case '[': {
      if (open_.size() >= kGoMaxJsonDepth)
        return false; // "exceeded max depth"
      ++pos_;
      open_.push_back(add(c == '{' ? Kind::Object : Kind::Array));
      justOpened_ = true;
      return true;
    }
    case '"': {
      std::string text;
      if (!quoted(text))
        return false;
      uint32_t i = add(Kind::String);
      nodes_[i].text = std::move(text);
      return true;
    }
    case 't':
      return literal("true", Kind::True);
    case 'f':
      return literal("false", Kind::False);
    case 'n':
      return literal("null", Kind::Null);
    default:
      return number();
    }
  }

  bool literal(std::string_view word, Kind kind) {
    if (in_.substr(pos_, word.size()) != word)
      return false;
    pos_ += word.size();
    add(kind);
    return true;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, then strconv.ParseFloat(s, 64).
  bool number() {
    size_t start = pos_;
    auto digits = [&] {
      size_t from = pos_;
      while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9')
        ++pos_;
      return pos_ - from;
    };
    if (peek() == '-')
      ++pos_;
    if (peek() == '0')
      ++pos_;
    else if (peek() < '1' || peek() > '9' || digits() == 0)
      return false;
    if (peek() == '.') {
      ++pos_;
      if (digits() == 0)
        return false;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-')
        ++pos_;
      if (digits() == 0)
        return false;
    }
    std::string_view token = in_.substr(start, pos_ - start);
    double parsed = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), parsed);
    if (ec == std::errc::result_out_of_range) {
      // from_chars says so for overflow and for underflow alike. Go fails on overflow only; an
      // underflow is 0 (with the token's sign).
      if (!belowOne(token))
        return false; // "cannot unmarshal number 1e400 into Go value of type float64"
      parsed = token[0] == '-' ? -0.0 : 0.0;
    } else if (ec != std::errc() || end != token.data() + token.size()) {
      return false; // cannot happen for a token of the grammar above
    }
    uint32_t i = add(Kind::Number);
    nodes_[i].number = parsed;
    return true;
  }

  // True when the magnitude of a (grammatical) number token is below 1: its first significant
  // digit stands after the decimal point once the exponent is applied.
  static bool belowOne(std::string_view token) {
    auto isDigit = [&](size_t at) {
      return at < token.size() && token[at] >= '0' && token[at] <= '9';
    };
    size_t i = token[0] == '-' ? 1 : 0;
    bool found = false;
    long long position = 0; // the power of ten of the first significant digit, before the exponent
    size_t intStart = i;
    while (isDigit(i))
      ++i;
    for (size_t j = intStart; j < i && !found; ++j)
      if (token[j] != '0') {
        found = true;
        position = static_cast<long long>(i - 1 - j);
      }
    if (i < token.size() && token[i] == '.') {
      size_t fracStart = ++i;
      while (isDigit(i))
        ++i;
      for (size_t j = fracStart; j < i && !found; ++j)
        if (token[j] != '0') {
          found = true;
          position = -static_cast<long long>(j - fracStart + 1);
        }
    }
    if (!found)
      return true; // zero
    long long exponent = 0;
    if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
      ++i;
      bool negative = token[i] == '-';
      if (token[i] == '+' || token[i] == '-')
        ++i;
      for (; isDigit(i); ++i)
        exponent = std::min(exponent * 10 + (token[i] - '0'), 1000000000LL); // saturates
      if (negative)
        exponent = -exponent;
    }
    return position + exponent < 0;
  }

  // A string token decoded as Go's unquote does (the opening quote at pos_).
  bool quoted(std::string& out) {
    out.clear();
    ++pos_;
    for (;;) {
      if (atEnd())
        return false;
      unsigned char c = static_cast<unsigned char>(in_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20)
        return false; // a control character must be escaped
      if (c == '\\') {
        if (!escape(out))
          return false;
        continue;
      }
      if (c < 0x80) {
        out += static_cast<char>(c);
        ++pos_;
        continue;
      }
      Rune r = decodeRune(in_.substr(pos_));
      if (r.value == kReplacement && r.size == 1)
        appendUtf8(kReplacement, out);
      else
        out.append(in_, pos_, r.size);
      pos_ += r.size;
    }
  }

  // The four hex digits of a \u escape at `at` ("\uXXXX" starting at at-2), or -1.
  int hex4(size_t at) const {
    if (at + 4 > in_.size())
      return -1;
    int v = 0;
    for (size_t i = at; i < at + 4; ++i) {
      if (!isHex(in_[i]))
        return -1;
      v = v * 16 + hexValue(in_[i]);
    }
    return v;
  }

  bool escape(std::string& out) {
    ++pos_; // the backslash
    if (atEnd())
      return false;
    char e = in_[pos_++];
    switch (e) {
    case '"':
    case '\\':
    case '/':
      out += e;
      return true;
    case 'b':
      out += '\b';
      return true;
    case 'f':
      out += '\f';
      return true;
    case 'n':
      out += '\n';
      return true;
    case 'r':
      out += '\r';
      return true;
    case 't':
      out += '\t';
      return true;
    case 'u':
      break;
    default:
      return false;
    }
    int r = hex4(pos_);
    if (r < 0)
      return false;
    pos_ += 4;
    if (r >= 0xD800 && r <= 0xDFFF) {
      // utf16.DecodeRune: a high surrogate and a low one escaped right after it make one
      // character; anything else is U+FFFD, and the second escape (if any) is read on its own.
      int low =
          (peek() == '\\' && pos_ + 1 < in_.size() && in_[pos_ + 1] == 'u') ? hex4(pos_ + 2) : -1;
      if (r < 0xDC00 && low >= 0xDC00 && low <= 0xDFFF) {
        pos_ += 6;
        appendUtf8(0x10000 + ((static_cast<char32_t>(r) - 0xD800) << 10) +
                       (static_cast<char32_t>(low) - 0xDC00),
                   out);
        return true;
      }
      appendUtf8(kReplacement, out);
      return true;
    }
    appendUtf8(static_cast<char32_t>(r), out);
    return true;
  }

  std::string_view in_;
  size_t pos_ = 0;
  std::vector<Node> nodes_;
  std::vector<uint32_t> open_; // the containers not closed yet, outermost first
  std::string key_;            // the name of the member whose value comes next
  uint32_t root_ = 0;
  bool justOpened_ = false;
};

// floatEncoder.encode: strconv.AppendFloat(f, 'f' or 'e', -1, 64) with the 'e' cut-offs of
// ECMAScript and Go's exponent clean-up.
void appendGoFloat(double f, std::string& out) {
  // The shortest digits that read back to f, from to_chars' scientific form "d.ddde±XX".
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  (void)ec; // 64 bytes always suffice for a double
  std::string_view sci(buf, static_cast<size_t>(end - buf));
  bool negative = !sci.empty() && sci[0] == '-';
  if (negative)
    sci.remove_prefix(1);
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e))
    if (c != '.')
      digits += c;
  int exp10 = 0;
  std::string_view expText = sci.substr(e + 1);
  if (!expText.empty() && expText[0] == '+')
    expText.remove_prefix(1);
  if (std::from_chars(expText.data(), expText.data() + expText.size(), exp10).ec != std::errc())
    exp10 = 0; // cannot happen: to_chars wrote it

  if (negative)
    out += '-';
  double magnitude = f < 0 ? -f : f;
  if (magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21)) {
    // %e: d[.ddd]e±XX, at least two exponent digits; then e-0X becomes e-X (not e+0X).
    out += digits[0];
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1, std::string::npos);
    }
    out += 'e';
    out += exp10 < 0 ? '-' : '+';
    int a = exp10 < 0 ? -exp10 : exp10;
    std::string expDigits = std::to_string(a);
    if (expDigits.size() < 2 && exp10 >= 0)
      expDigits.insert(0, 1, '0');
    out += expDigits;
    return;
  }
  if (magnitude == 0) {
    out += '0';
    return;
  }
  // %f with the shortest digits: the integer part (zero-padded past the digits), then the
  // fraction's remaining digits, if any.
  long dp = exp10 + 1; // digits[0..dp) is the integer part
  long n = static_cast<long>(digits.size());
  if (dp <= 0) {
    out += '0';
  } else {
    for (long i = 0; i < dp; ++i)
      out += i < n ? digits[static_cast<size_t>(i)] : '0';
  }
  if (n > dp) {
    out += '.';
    for (long i = dp; i < 0; ++i)
      out += '0';
    out.append(digits, static_cast<size_t>(std::max(dp, 0L)), std::string::npos);
  }
}

// encodeState.marshal of the decoded tree, iteratively.
std::string goMarshal(std::vector<Node>& nodes, uint32_t root) {
  struct Frame {
    uint32_t node;
    std::vector<uint32_t> order; // Object: member indices to write, in order
    size_t next = 0;
  };
  std::string out;
  std::vector<Frame> stack;
  auto write = [&](uint32_t index) {
    Node& n = nodes[index];
    switch (n.kind) {
    case Kind::Null:
      out += "null";
      return;
    case Kind::False:
      out += "false";
      return;
    case Kind::True:
      out += "true";
      return;
    case Kind::Number:
      appendGoFloat(n.number, out);
      return;
    case Kind::String:
      appendGoJsonString(n.text, out);
      return;
    case Kind::Array:
      out += '[';
      stack.push_back({index, {}, 0});
      return;
    case Kind::Object: {
      // A Go map: one value per name, the last one decoded; written sorted by the name's bytes.
      std::vector<uint32_t> order(n.keys.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](uint32_t a, uint32_t b) { return n.keys[a] < n.keys[b]; });
      std::vector<uint32_t> unique;
      unique.reserve(order.size());
      for (size_t i = 0; i < order.size(); ++i)
        if (i + 1 == order.size() || n.keys[order[i]] != n.keys[order[i + 1]])
          unique.push_back(order[i]); // the last of a run of equal names
      out += '{';
      stack.push_back({index, std::move(unique), 0});
      return;
    }
    }
  };
  write(root);
  while (!stack.empty()) {
    Frame& f = stack.back();
    const Node& n = nodes[f.node];
    bool object = n.kind == Kind::Object;
    size_t count = object ? f.order.size() : n.items.size();
    if (f.next == count) {
      out += object ? '}' : ']';
      stack.pop_back();
      continue;
    }
    if (f.next > 0)
      out += ',';
    uint32_t child;
    if (object) {
      uint32_t member = f.order[f.next];
      appendGoJsonString(n.keys[member], out);
      out += ':';
      child = n.items[member];
    } else {
      child = n.items[f.next];
    }
    ++f.next;
    write(child); // may push: `f` is not used after this
  }
  return out;
}

// ---- stored schemas ----

// A definition's member, decoded as Go decodes it.
struct Member {
  std::vector<Node> nodes;
  uint32_t root = 0;
  const Node& value() const { return nodes[root]; }
  const Node& at(uint32_t index) const { return nodes[index]; }
};

// nullopt when the definition has no such member.
std::optional<Member> decodeMember(const Definition& def, std::string_view name) {
  const std::string* text = def.field(name);
  if (!text)
    return std::nullopt;
  GoDecoder d(*text);
  if (!d.decode())
    return std::nullopt; // cannot happen: canonical() wrote the text
  return Member{std::move(d.nodes()), d.root()};
}

// Go's decoder matches an object member to a struct field by exact name, else by Unicode case
// folding (encoding/json foldName). The fields here are ASCII, and the only characters outside
// ASCII that fold onto ASCII letters are U+017F (ſ, onto s) and U+212A (K, onto k).
bool goFieldNameMatches(std::string_view key, std::string_view field) {
  auto lower = [](char32_t c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; };
  size_t j = 0;
  for (size_t i = 0; i < key.size();) {
    Rune r = decodeRune(key.substr(i));
    i += r.size;
    char32_t c = r.value == 0x017F ? U's' : r.value == 0x212A ? U'k' : r.value;
    if (c >= 0x80 || j >= field.size() || lower(c) != lower(static_cast<unsigned char>(field[j])))
      return false;
    ++j;
  }
  return j == field.size();
}

std::string stringOr(const Node& n, std::string_view fallback = "") {
  return n.kind == Kind::String ? n.text : std::string(fallback);
}

// Go-canonical JSON of a JSON text that canonical() wrote (so always decodable).
std::string goCanonical(std::string_view text) {
  std::optional<std::string> out = goJsonMarshal(text);
  return out ? *out : std::string(text);
}

bool entryLess(const AimEntry& a, const AimEntry& b) {
  if (a.type != b.type)
    return a.type < b.type;
  if (a.name != b.name)
    return a.name < b.name;
  return a.schemaHash < b.schemaHash;
}

} // namespace

std::optional<std::string> goJsonMarshal(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  GoDecoder d(text);
  if (!d.decode())
    return std::nullopt;
  return goMarshal(d.nodes(), d.root());
}

void appendGoJsonString(std::string_view text, std::string& out) {
  out += '"';
  for (size_t i = 0; i < text.size();) {
    unsigned char b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      ++i;
      switch (b) {
      case '"':
      case '\\':
        out += '\\';
        out += static_cast<char>(b);
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (b < 0x20 || b == '<' || b == '>' || b == '&') {
          out += "\\u00";
          out += kHex[b >> 4];
          out += kHex[b & 0xF];
        } else {
          out += static_cast<char>(b);
        }
      }
      continue;
    }
    Rune r = decodeRune(text.substr(i));
    if (r.value == kReplacement && r.size == 1)
      out += "\\ufffd";
    else if (r.value == 0x2028 || r.value == 0x2029)
      out += r.value == 0x2028 ? "\\u2028" : "\\u2029";
    else
      out.append(text, i, r.size);
    i += r.size;
  }
  out += '"';
}

std::string aimSchemaHash(std::string_view schema) {
  std::optional<std::string> canonicalText = goJsonMarshal(schema);
  return sha256Hex(canonicalText ? std::string_view(*canonicalText) : schema);
}

std::string aimToolSchema(const ToolDefinition& tool) {
  const std::string* schema = tool.field("inputSchema");
  return schema ? goCanonical(*schema) : "null";
}

std::string aimResourceSchema(const ResourceDefinition& resource) {
  std::string out = "{\"mimeTypes\":";
  std::optional<Member> types = decodeMember(resource, "mimeTypes");
  std::optional<Member> type = decodeMember(resource, "mimeType");
  if (types && types->value().kind == Kind::Array) {
    // Go's []string: an element of another type decodes to "" (and fails AIM's whole document).
    out += '[';
    const std::vector<uint32_t>& items = types->value().items;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i)
        out += ',';
      appendGoJsonString(stringOr(types->at(items[i])), out);
    }
    out += ']';
  } else if (type && type->value().kind == Kind::String) {
    out += '[';
    appendGoJsonString(type->value().text, out);
    out += ']';
  } else {
    out += "null";
  }
  out += ",\"uri\":";
  appendGoJsonString(resource.name, out);
  out += '}';
  return out;
}

std::string aimPromptSchema(const PromptDefinition& prompt) {
  std::optional<Member> args = decodeMember(prompt, "arguments");
  if (!args || args->value().kind != Kind::Array)
    return "{\"arguments\":null}";
  std::string out = "{\"arguments\":[";
  const std::vector<uint32_t>& items = args->value().items;
  for (size_t i = 0; i < items.size(); ++i) {
    const Node& arg = args->at(items[i]);
    // MCPPromptArgument{Name, Description string; Required bool}: members in (canonical) order,
    // each matching one overwriting the last; a value of another type leaves the zero value.
    std::string name, description;
    bool required = false;
    if (arg.kind == Kind::Object) {
      for (size_t m = 0; m < arg.keys.size(); ++m) {
        const Node& v = args->at(arg.items[m]);
        if (goFieldNameMatches(arg.keys[m], "name"))
          name = stringOr(v, name);
        else if (goFieldNameMatches(arg.keys[m], "description"))
          description = stringOr(v, description);
        else if (goFieldNameMatches(arg.keys[m], "required") &&
                 (v.kind == Kind::True || v.kind == Kind::False))
          required = v.kind == Kind::True;
      }
    }
    if (i)
      out += ',';
    out += "{\"description\":";
    appendGoJsonString(description, out);
    out += ",\"name\":";
    appendGoJsonString(name, out);
    out += ",\"required\":";
    out += required ? "true" : "false";
    out += '}';
  }
  out += "]}";
  return out;
}

AimEntry aimToolEntry(const ToolDefinition& tool) {
  return {std::string(kAimTool), tool.name, aimSchemaHash(aimToolSchema(tool))};
}

AimEntry aimResourceEntry(const ResourceDefinition& resource) {
  std::string name;
  if (std::optional<Member> n = decodeMember(resource, "name"))
    name = stringOr(n->value());
  return {std::string(kAimResource), std::move(name), aimSchemaHash(aimResourceSchema(resource))};
}

AimEntry aimPromptEntry(const PromptDefinition& prompt) {
  return {std::string(kAimPrompt), prompt.name, aimSchemaHash(aimPromptSchema(prompt))};
}

std::string aimManifestHash(std::vector<AimEntry> entries) {
  std::sort(entries.begin(), entries.end(), entryLess);
  std::string concat;
  for (const AimEntry& e : entries) {
    concat += e.type;
    concat += '\x1f';
    concat += e.name;
    concat += '\x1f';
    concat += e.schemaHash;
    concat += '\x1e';
  }
  return sha256Hex(concat);
}

AimManifest aimManifest(const ToolManifest& tools, const ResourceManifest* resources,
                        const PromptManifest* prompts) {
  AimManifest m;
  for (const auto& [name, tool] : tools.tools())
    m.entries.push_back(aimToolEntry(tool));
  if (resources) {
    std::map<std::string, AimEntry> byName; // the first resource (by URI) with each name
    for (const auto& [uri, resource] : resources->resources()) {
      AimEntry e = aimResourceEntry(resource);
      std::string name = e.name;
      byName.emplace(std::move(name), std::move(e));
    }
    for (auto& [name, e] : byName)
      m.entries.push_back(std::move(e));
  }
  if (prompts)
    for (const auto& [name, prompt] : prompts->prompts())
      m.entries.push_back(aimPromptEntry(prompt));
  std::sort(m.entries.begin(), m.entries.end(), entryLess);
  m.hash = aimManifestHash(m.entries);
  return m;
}

AimDiff aimDiff(const std::vector<AimEntry>& previous, const std::vector<AimEntry>& next) {
  std::map<std::string, std::string> before, after; // key → schemaHash; the last entry wins
  for (const AimEntry& e : previous)
    before[e.key()] = e.schemaHash;
  for (const AimEntry& e : next)
    after[e.key()] = e.schemaHash;
  AimDiff d;
  for (const auto& [key, hash] : after) {
    auto it = before.find(key);
    if (it == before.end())
      d.added.push_back(key);
    else if (it->second != hash)
      d.changed.push_back(key);
  }
  for (const auto& [key, hash] : before)
    if (!after.count(key))
      d.removed.push_back(key);
  return d; // std::map iterates in byte order: each list is sorted as Go's sort.Strings sorts
}

bool aimRiskyName(std::string_view name) {
  static constexpr std::string_view kHints[] = {
      "exec",      "shell",      "command",    "spawn", "eval",  "file",    "fs",
      "read_file", "write_file", "delete",     "http",  "fetch", "request", "network",
      "socket",    "secret",     "credential", "token", "env"};
  // strings.ToLower, as far as it can matter: the hints are ASCII, and the only characters that
  // lowercase to ASCII are A-Z, U+0130 (to i) and U+212A (to k). Everything else stays as it is:
  // its lowercase (or Go's U+FFFD for an invalid byte) is not ASCII either, so it matches no hint
  // before or after.
  std::string lower;
  lower.reserve(name.size());
  for (size_t i = 0; i < name.size();) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x80) {
      lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
      ++i;
      continue;
    }
    Rune r = decodeRune(name.substr(i));
    if (r.value == 0x0130)
      lower += 'i';
    else if (r.value == 0x212A)
      lower += 'k';
    else
      lower.append(name, i, r.size);
    i += r.size;
  }
  for (std::string_view hint : kHints)
    if (lower.find(hint) != std::string::npos)
      return true;
  return false;
}

const char* aimDriftSeverity(const AimDiff& diff) {
  for (const auto* keys : {&diff.added, &diff.changed})
    for (const std::string& key : *keys)
      if (aimRiskyName(key))
        return "high";
  if (!diff.removed.empty() || !diff.changed.empty())
    return "medium";
  return "low";
}

} // namespace sidecar::drift
