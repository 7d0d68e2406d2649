// The fast path of scanMessage(): a JSON-RPC message read in place.
//
// Why by hand, beside RapidJSON: RapidJSON's SAX reader copies every string it reads onto its own
// stack, one character at a time, for a handler that keeps only a few of them. On the HTTP
// pass-through that copying was the largest single cost of observing a call (bench/README.md).
// The skimmer reads strings where they lie and hands the message back to the RapidJSON scanner
// (returns false) whenever it meets something it does not decode itself — a \u escape, an
// escaped key or kept string, a number it would have to convert to judge (an exponent, more than
// 18 integer digits) — or something that is not valid JSON. So RapidJSON still decides every hard
// case and words every error; the skimmer only ever accepts plain valid JSON, and
// tests/unit/mcp/message_skim_test.cc checks that it then finds exactly what RapidJSON finds, on
// generated and mutated messages.

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "common/utf8.h"
#include "mcp/message_facts.h"

namespace sidecar::mcp::detail {
namespace {

struct SkimFrame {
  Where where;
  bool object;
  std::string_view key; // the member being read (objects)
  size_t start;         // offset of the opening bracket
};

// A string whose text (not only its span) goes into MessageInfo.
bool keptString(Where where, std::string_view key) {
  return (where == Where::Root && key == "method") ||
         (where == Where::Params && (key == "name" || key == "protocolVersion"));
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

bool isSpace(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

// Whether any byte of `v` is below 0x20, '"' or '\\' (the bytes that end a run of plain string
// text), tested on eight bytes at once (the classic "has zero byte" bit trick).
bool hasStop(uint64_t v) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  auto hasZero = [](uint64_t x) { return (x - kOnes) & ~x & kHigh; };
  uint64_t below20 = (v - kOnes * 0x20) & ~v & kHigh;
  return (below20 | hasZero(v ^ (kOnes * '"')) | hasZero(v ^ (kOnes * '\\'))) != 0;
}

// The end of the run of plain string text at q: the first '"', '\\' or control byte, or e.
// Strings are most of a message's bytes; a local pointer, eight bytes at a time, instead of
// a member advanced byte by byte (which char aliasing made the compiler store on each step).
const char* plainRun(const char* q, const char* e) {
  while (e - q >= 8) {
    uint64_t v;
    std::memcpy(&v, q, sizeof v);
    if (hasStop(v))
      break;
    q += 8;
  }
  while (q < e && static_cast<unsigned char>(*q) >= 0x20 && *q != '"' && *q != '\\')
    ++q;
  return q;
}

class Skimmer {
public:
  Skimmer(std::string_view json, ScanMode mode, MessageInfo& info)
      : b_(json.data()), p_(json.data()), e_(json.data() + json.size()),
        validate_(mode == ScanMode::Validate), info_(info) {
    stack_.clear(); // a skim that gave up half-way leaves its frames
  }

  // True when the whole text is one valid JSON value the skimmer read to the end.
  bool run() {
    ws();
    for (;;) {
      if (p_ >= e_)
        return false;
      bool completed = false;
      if (!value(completed))
        return false;
      if (!completed)
        continue; // a container was opened: its first value is next
      for (;;) {  // after a complete value: a separator, a closing bracket or the end
        if (stack_.empty()) {
          ws();
          return p_ == e_;
        }
        ws();
        if (p_ >= e_)
          return false;
        const SkimFrame& f = stack_.back();
        if (*p_ == ',') {
          ++p_;
          ws();
          if (f.object && !key())
            return false;
          break;
        }
        if (*p_ != (f.object ? '}' : ']'))
          return false;
        ++p_;
        if (!closeTop())
          return false;
      }
    }
  }

  RootFacts facts;
  std::vector<Span> items;

private:
  size_t off(const char* q) const { return static_cast<size_t>(q - b_); }

  void ws() {
    while (p_ < e_ && isSpace(*p_))
      ++p_;
  }

  // One value at p_. `completed`: false when it opened a non-empty container.
  bool value(bool& completed) {
    const char* start = p_;
    char c = *p_;
    if (c == '{' || c == '[') {
      bool object = c == '{';
      Where where = Where::Other;
      if (stack_.empty())
        where = object ? Where::Root : Where::Other;
      else if (stack_.back().object)
        where = childWhere(stack_.back().where, stack_.back().key, object);
      stack_.push_back({where, object, {}, off(start)});
      ++p_;
      ws();
      if (p_ >= e_)
        return false;
      if (*p_ == (object ? '}' : ']')) {
        ++p_;
        completed = true;
        return closeTop();
      }
      completed = false;
      return !object || key();
    }
    completed = true;
    ValueType t;
    std::string_view text;
    bool escaped = false;
    if (c == '"') {
      if (!string(text, escaped))
        return false;
      t = ValueType::String;
    } else if (c == '-' || isDigit(c)) {
      if (!number())
        return false;
      t = ValueType::Number;
      text = {start, static_cast<size_t>(p_ - start)};
    } else if (literal("true")) {
      t = ValueType::True;
    } else if (literal("false")) {
      t = ValueType::False;
    } else if (literal("null")) {
      t = ValueType::Null;
    } else {
      return false;
    }
    return member(t, text, {off(start), off(p_) - off(start)}, escaped);
  }

  // A member's key at p_, then its colon: p_ is left at the value.
  bool key() {
    if (p_ >= e_ || *p_ != '"')
      return false;
    std::string_view k;
    bool escaped = false;
    if (!string(k, escaped) || escaped) // an escaped key: RapidJSON decodes it
      return false;
    stack_.back().key = k;
    ws();
    if (p_ >= e_ || *p_ != ':')
      return false;
    ++p_;
    ws();
    return true;
  }

  // p_ at the opening quote. `body`: the raw text between the quotes.
  bool string(std::string_view& body, bool& escaped) {
    const char* s = ++p_;
    for (;;) {
      p_ = plainRun(p_, e_);
      if (p_ >= e_)
        return false; // not terminated
      if (*p_ == '"')
        break;
      if (*p_ != '\\')
        return false; // a raw control character
      escaped = true;
      if (++p_ >= e_)
        return false;
      switch (*p_) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        ++p_;
        break;
      default:
        return false; // \u (with its surrogate rules) or not an escape: RapidJSON's to judge
      }
    }
    body = {s, static_cast<size_t>(p_ - s)};
    ++p_;
    return !validate_ || validUtf8(body);
  }

  // -?(0|[1-9][0-9]{0,17})(.[0-9]+)? — longer integers and exponents are left to RapidJSON,
  // which refuses numbers beyond a double's range.
  bool number() {
    if (*p_ == '-')
      ++p_;
    if (p_ >= e_)
      return false;
    if (*p_ == '0') {
      ++p_;
    } else if (isDigit(*p_)) {
      const char* s = p_;
      while (p_ < e_ && isDigit(*p_))
        ++p_;
      if (p_ - s > 18)
        return false;
    } else {
      return false;
    }
    if (p_ < e_ && *p_ == '.') {
      ++p_;
      const char* s = p_;
      while (p_ < e_ && isDigit(*p_))
        ++p_;
      if (p_ == s)
        return false;
    }
    return p_ >= e_ || (*p_ != 'e' && *p_ != 'E');
  }

  bool literal(std::string_view word) {
    if (static_cast<size_t>(e_ - p_) < word.size() || std::string_view(p_, word.size()) != word)
      return false;
    p_ += word.size();
    return true;
  }

  // The innermost container closed at p_: it is a value of the one around it.
  bool closeTop() {
    size_t start = stack_.back().start;
    stack_.pop_back();
    if (stack_.empty())
      return true;
    Span span{start, off(p_) - start};
    if (stack_.size() == 1 && !stack_.back().object)
      items.push_back(span); // a batch element
    return member(ValueType::Container, {}, span, false);
  }

  bool member(ValueType t, std::string_view text, Span span, bool escaped) {
    if (stack_.empty() || !stack_.back().object || stack_.back().where == Where::Other)
      return true; // (no member of an `Other` object matters: most of a message's members)
    const SkimFrame& f = stack_.back();
    if (escaped && keptString(f.where, f.key))
      return false; // its text must be decoded: RapidJSON's
    noteMember(f.where, f.key, t, text, span, info_, facts);
    return true;
  }

  const char* b_;
  const char* p_;
  const char* e_;
  bool validate_;
  MessageInfo& info_;
  // Per thread and kept between messages, as the RapidJSON scanner's.
  static thread_local std::vector<SkimFrame> tlStack;
  std::vector<SkimFrame>& stack_ = tlStack;
};

thread_local std::vector<SkimFrame> Skimmer::tlStack;

} // namespace

bool skimMessage(std::string_view json, ScanMode mode, MessageInfo& info) {
  Skimmer s(json, mode, info);
  if (!s.run()) {
    info = MessageInfo{};
    return false;
  }
  if (mode == ScanMode::Observe)
    keepValidUtf8(info);
  classify(json, info, s.facts, std::move(s.items));
  return true;
}

} // namespace sidecar::mcp::detail
