#pragma once
// A one-shot timer for deadlines that move on every request but rarely expire (idle, header and
// upstream timeouts). uv_timer_start/stop are heap operations; here, moving a deadline later only
// records it, and when the libuv timer fires early it is re-armed for the remainder (the way
// nginx and Envoy treat per-connection timeouts). Disarming just clears the deadline.
//
// The uv_timer_t is a member of the owner's DeadlineTimer; the owner closes it with close().

#include <uv.h>

#include <cstdint>

namespace sidecar::proxy {

class DeadlineTimer {
public:
  using Callback = void (*)(void* owner);

  // `owner` is passed to `cb` when a deadline expires.
  void init(uv_loop_t* loop, void* owner, Callback cb) {
    uv_timer_init(loop, &timer_);
    timer_.data = this;
    owner_ = owner;
    cb_ = cb;
  }

  // Expire `ms` from the loop's current time, replacing any earlier deadline.
  void arm(uint64_t ms) {
    deadline_ = uv_now(timer_.loop) + ms;
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_)) || due_ > deadline_) {
      due_ = deadline_;
      uv_timer_start(&timer_, onTimer, ms, 0);
    }
  }

  void disarm() { deadline_ = 0; }
  bool armed() const { return deadline_ != 0; }

  // Closes the handle; `cb` runs with the uv_timer_t handle (its data is this object's owner).
  void close(uv_close_cb cb) {
    deadline_ = 0;
    uv_timer_stop(&timer_);
    timer_.data = owner_;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), cb);
  }

private:
  static void onTimer(uv_timer_t* t) {
    auto* self = static_cast<DeadlineTimer*>(t->data);
    if (self->deadline_ == 0)
      return; // disarmed since
    uint64_t now = uv_now(t->loop);
    if (now < self->deadline_) {
      self->due_ = self->deadline_;
      uv_timer_start(t, onTimer, self->deadline_ - now, 0);
      return;
    }
    self->deadline_ = 0;
    self->cb_(self->owner_);
  }

  uv_timer_t timer_;
  uint64_t deadline_ = 0; // loop time (ms) at which to expire; 0 = disarmed
  uint64_t due_ = 0;      // when the libuv timer is set to fire
  void* owner_ = nullptr;
  Callback cb_ = nullptr;
};

} // namespace sidecar::proxy
