#pragma once
// Collects the header fields of one HTTP message from llhttp's span callbacks, which may split a
// name or a value across reads: names and values are appended back to back into one buffer and
// indexed, so a message's headers cost one growing string and one vector, both reused.
// Used by the request parser and by the upstream response parser.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar::proxy {

class HeaderCollector {
public:
  void clear() {
    buf_.clear();
    headers_.clear();
    inField_ = false;
  }

  // A piece of a field name (on_header_field); the first piece starts a new header.
  void fieldPiece(const char* at, size_t len) {
    if (!inField_) {
      inField_ = true;
      cur_ = {static_cast<uint32_t>(buf_.size()), 0, 0, 0};
    }
    buf_.append(at, len);
    cur_.nameLen += static_cast<uint32_t>(len);
  }
  // on_header_field_complete: the value starts here.
  void fieldDone() {
    inField_ = false;
    cur_.valueOff = static_cast<uint32_t>(buf_.size());
    cur_.valueLen = 0;
  }
  // A piece of a field value (on_header_value).
  void valuePiece(const char* at, size_t len) {
    buf_.append(at, len);
    cur_.valueLen += static_cast<uint32_t>(len);
  }
  // on_header_value_complete: the header is whole.
  void valueDone() {
    headers_.push_back(cur_);
    inField_ = false;
  }

  size_t count() const { return headers_.size(); }
  size_t bytes() const { return buf_.size(); }
  std::string_view name(size_t i) const {
    return {buf_.data() + headers_[i].nameOff, headers_[i].nameLen};
  }
  std::string_view value(size_t i) const {
    return {buf_.data() + headers_[i].valueOff, headers_[i].valueLen};
  }

private:
  struct Pos {
    uint32_t nameOff, nameLen, valueOff, valueLen;
  };
  std::string buf_;
  std::vector<Pos> headers_;
  Pos cur_{};
  bool inField_ = false;
};

} // namespace sidecar::proxy
