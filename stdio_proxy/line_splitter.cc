#include "stdio_proxy/line_splitter.h"

#include <cstring>

namespace sidecar::stdio_proxy {

void LineSplitter::feed(const char* data, size_t n,
                        const std::function<void(std::string_view)>& onLine) {
  const char* p = data;
  const char* end = data + n;
  while (p < end) {
    const char* nl = static_cast<const char*>(memchr(p, '\n', static_cast<size_t>(end - p)));
    size_t take = static_cast<size_t>((nl ? nl : end) - p);
    if (!skipping_) {
      if (buf_.size() + take > maxLine_) {
        ++oversized_;
        buf_.clear();
        buf_.shrink_to_fit();
        skipping_ = true;
      } else if (nl && buf_.empty()) {
        // The whole line is in this chunk: no copy.
        if (take > 0)
          onLine(std::string_view(p, take));
      } else {
        buf_.append(p, take);
        if (nl) {
          if (!buf_.empty())
            onLine(buf_);
          buf_.clear();
        }
      }
    }
    if (!nl)
      return;
    skipping_ = false;
    p = nl + 1;
  }
}

void LineSplitter::finish(const std::function<void(std::string_view)>& onLine) {
  if (!skipping_ && !buf_.empty())
    onLine(buf_);
  buf_.clear();
  skipping_ = false;
}

} // namespace sidecar::stdio_proxy
