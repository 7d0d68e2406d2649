#pragma once
// Reference-counted read buffers for upstream responses. A response body is written to the client
// straight from the buffer it was read into (no copy): each pending client write holds a reference,
// and the buffer returns to its worker's free list when the last one is released. One pool per
// worker; not thread-safe.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sidecar::proxy {

class BufferPool;

struct ReadBuffer {
  static constexpr size_t kSize = 64 * 1024;
  uint32_t refs = 0;
  BufferPool* pool = nullptr;
  char data[kSize];
};

class BufferPool {
public:
  explicit BufferPool(size_t maxFree = 64) : maxFree_(maxFree) {}
  ~BufferPool() {
    for (ReadBuffer* b : free_)
      delete b;
  }
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer with one reference, owned by the caller.
  ReadBuffer* take() {
    ReadBuffer* b;
    if (!free_.empty()) {
      b = free_.back();
      free_.pop_back();
    } else {
      b = new ReadBuffer();
      b->pool = this;
    }
    b->refs = 1;
    return b;
  }

  static void ref(ReadBuffer* b) { ++b->refs; }
  static void unref(ReadBuffer* b) {
    if (--b->refs > 0)
      return;
    BufferPool* p = b->pool;
    if (p->free_.size() < p->maxFree_)
      p->free_.push_back(b);
    else
      delete b;
  }

private:
  size_t maxFree_;
  std::vector<ReadBuffer*> free_;
};

} // namespace sidecar::proxy
