#pragma once
// A queue from any thread into one libuv loop: `post` appends under a mutex and wakes the loop
// (uv_async_t); the loop's callback receives everything posted so far, in order. Posting to a
// closed mailbox is refused (returns false) rather than touching a closed handle.
//
// libuv has no such queue of its own (uv_async_send coalesces wake-ups and carries no data), so
// this pairs it with a vector swapped under the lock: one lock and one wake-up per burst.

#include <uv.h>

#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace sidecar::bridge {

template <typename T> class Mailbox {
public:
  using Handler = std::function<void(std::vector<T>&)>;

  Mailbox() = default;
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // On the loop's thread, before any post.
  void open(uv_loop_t* loop, Handler h) {
    handler_ = std::move(h);
    uv_async_init(loop, &async_, onAsync);
    async_.data = this;
    std::lock_guard<std::mutex> g(mu_);
    open_ = true;
  }
  // On the loop's thread: refuse further posts and close the handle; what is queued is dropped.
  // `closed`, when set, runs once the handle is closed (from then on the mailbox may be deleted);
  // never inline.
  void close(std::function<void()> closed = {}) {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (!open_)
        return;
      open_ = false;
      queue_.clear();
    }
    closed_ = std::move(closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), [](uv_handle_t* h) {
      auto* m = static_cast<Mailbox*>(h->data);
      // `closed` may delete the mailbox: nothing of it is touched afterwards.
      std::function<void()> then = std::move(m->closed_);
      if (then)
        then();
    });
  }
  // Any thread.
  bool post(T&& item) {
    std::lock_guard<std::mutex> g(mu_);
    if (!open_)
      return false;
    bool wake = queue_.empty();
    queue_.push_back(std::move(item));
    if (wake)
      uv_async_send(&async_);
    return true;
  }

private:
  static void onAsync(uv_async_t* a) {
    auto* m = static_cast<Mailbox*>(a->data);
    {
      std::lock_guard<std::mutex> g(m->mu_);
      m->batch_.swap(m->queue_);
    }
    if (!m->batch_.empty())
      m->handler_(m->batch_);
    m->batch_.clear();
  }

  uv_async_t async_{};
  std::mutex mu_;
  bool open_ = false;
  std::vector<T> queue_;
  std::vector<T> batch_; // loop thread only; keeps its capacity
  Handler handler_;
  std::function<void()> closed_;
};

} // namespace sidecar::bridge
