// SpscQueue<T>: a bounded single-producer single-consumer ring.
//
// Threads: exactly one producer thread may call try_push/push/close_producer-side
// methods (try_push, push, emplace variants), exactly one consumer thread may call
// try_pop/pop/front. close(), capacity(), size_approx() and closed() may be called
// from any thread. In debug builds a role guard aborts if a second thread ever
// pushes or pops.
//
// Fast path: lock-free. The write index and read index live on their own cache
// lines; each side keeps a cached copy of the other side's index and re-reads it
// (acquire) only when the cache says full/empty. Publishing an index is a release
// store; reading one's own index is relaxed. No stand-alone fences, so TSan can
// check every ordering.
//
// Slow path: push() on a full ring / pop() on an empty ring spin briefly, then park
// on a condition variable. The other side wakes a parked side only when one is
// parked (an uncontended read-modify-write of `sleepers_` per operation), so the
// common case never touches the mutex. close() wakes both sides at once: after it,
// push() fails and pop() returns the items already queued, then fails.
#pragma once

#include <atomic>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>

namespace framegen {

// std::hardware_destructive_interference_size varies with -mtune; pin it.
inline constexpr std::size_t kCacheLine = 64;

template <typename T>
class SpscQueue {
 public:
  // capacity: maximum number of items held at once (>= 1).
  explicit SpscQueue(std::size_t capacity)
      : capacity_(checked_capacity(capacity) + 1),  // one slot stays empty to tell full from empty
        slots_(static_cast<T*>(::operator new[](sizeof(T) * (capacity + 1), std::align_val_t{alignof(T)}))) {}

  // Any thread, once both sides are done with the queue.
  ~SpscQueue() {
    std::size_t read = read_idx_.load(std::memory_order_acquire);
    const std::size_t write = write_idx_.load(std::memory_order_acquire);
    while (read != write) {
      slots_[read].~T();
      read = read + 1 == capacity_ ? 0 : read + 1;
    }
    ::operator delete[](slots_, std::align_val_t{alignof(T)});
  }

  SpscQueue(const SpscQueue&) = delete;
  SpscQueue& operator=(const SpscQueue&) = delete;

  // Producer only. Returns false (and leaves `value` untouched) if the ring is full
  // or closed.
  template <typename U>
  [[nodiscard]] bool try_push(U&& value) {
    check_role(producer_id_);
    if (closed_.load(std::memory_order_acquire)) {
      return false;
    }
    const std::size_t write = write_idx_.load(std::memory_order_relaxed);
    std::size_t next = write + 1;
    if (next == capacity_) {
      next = 0;
    }
    if (next == read_idx_cache_) {
      read_idx_cache_ = read_idx_.load(std::memory_order_acquire);
      if (next == read_idx_cache_) {
        return false;
      }
    }
    new (&slots_[write]) T(std::forward<U>(value));
    write_idx_.store(next, std::memory_order_release);
    wake_if_parked();
    return true;
  }

  // Producer only. Blocks while the ring is full. Returns false if the queue was
  // closed (the value is then dropped).
  template <typename U>
  bool push(U&& value) {
    for (int spin = 0;; ++spin) {
      if (try_push(std::forward<U>(value))) {
        return true;
      }
      if (closed()) {
        return false;
      }
      if (spin < kSpins) {
        std::this_thread::yield();
        continue;
      }
      park([this] { return closed() || !full_for_producer(); });
    }
  }

  // Consumer only. Returns the oldest item, or nullopt when the ring is empty.
  [[nodiscard]] std::optional<T> try_pop() {
    T* item = front();
    if (item == nullptr) {
      return std::nullopt;
    }
    std::optional<T> out(std::move(*item));
    pop_front();
    return out;
  }

  // Consumer only. Blocks while the ring is empty and open. Returns nullopt once the
  // queue is closed and drained.
  std::optional<T> pop() {
    for (int spin = 0;; ++spin) {
      if (auto item = try_pop()) {
        return item;
      }
      if (closed()) {
        // The producer may have pushed just before closing; look once more.
        return try_pop();
      }
      if (spin < kSpins) {
        std::this_thread::yield();
        continue;
      }
      park([this] { return closed() || !empty_for_consumer(); });
    }
  }

  // Consumer only. Like pop() but gives up after `timeout`; nullopt on timeout too
  // (check closed() to tell them apart).
  template <typename Rep, typename Period>
  std::optional<T> pop_for(std::chrono::duration<Rep, Period> timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto item = try_pop()) {
        return item;
      }
      if (closed()) {
        return try_pop();
      }
      std::unique_lock lock(mutex_);
      sleepers_.fetch_add(1, std::memory_order_acq_rel);
      const bool ready = cv_.wait_until(lock, deadline, [this] { return closed() || !empty_for_consumer(); });
      sleepers_.fetch_sub(1, std::memory_order_acq_rel);
      if (!ready) {
        return std::nullopt;
      }
    }
  }

  // Consumer only. Pointer to the oldest item, or nullptr when empty.
  [[nodiscard]] T* front() {
    check_role(consumer_id_);
    const std::size_t read = read_idx_.load(std::memory_order_relaxed);
    if (read == write_idx_cache_) {
      write_idx_cache_ = write_idx_.load(std::memory_order_acquire);
      if (write_idx_cache_ == read) {
        return nullptr;
      }
    }
    return &slots_[read];
  }

  // Consumer only. Removes the oldest item; front() must have returned non-null.
  void pop_front() {
    const std::size_t read = read_idx_.load(std::memory_order_relaxed);
    assert(write_idx_.load(std::memory_order_acquire) != read);
    slots_[read].~T();
    std::size_t next = read + 1;
    if (next == capacity_) {
      next = 0;
    }
    read_idx_.store(next, std::memory_order_release);
    wake_if_parked();
  }

  // Any thread. No more pushes succeed; blocked push()/pop() return at once.
  void close() {
    closed_.store(true, std::memory_order_release);
    std::lock_guard lock(mutex_);
    cv_.notify_all();
  }

  [[nodiscard]] bool closed() const { return closed_.load(std::memory_order_acquire); }

  // Any thread; exact only when called from one side while the other is idle.
  [[nodiscard]] std::size_t size_approx() const {
    const std::size_t w = write_idx_.load(std::memory_order_acquire);
    const std::size_t r = read_idx_.load(std::memory_order_acquire);
    return w >= r ? w - r : capacity_ - r + w;
  }

  [[nodiscard]] std::size_t capacity() const { return capacity_ - 1; }

 private:
  static constexpr int kSpins = 64;

  bool full_for_producer() const {
    const std::size_t w = write_idx_.load(std::memory_order_relaxed);
    std::size_t next = w + 1;
    if (next == capacity_) {
      next = 0;
    }
    return next == read_idx_.load(std::memory_order_acquire);
  }
  bool empty_for_consumer() const {
    return read_idx_.load(std::memory_order_relaxed) == write_idx_.load(std::memory_order_acquire);
  }

  // The parked side registers in sleepers_ (RMW) and then re-checks under the mutex;
  // the other side publishes its index and then reads sleepers_ with an RMW. The
  // two RMWs are ordered in sleepers_' modification order, so either the waker sees
  // the sleeper, or the sleeper's re-check sees the published index: no lost wakeup.
  template <typename Pred>
  void park(Pred ready) {
    std::unique_lock lock(mutex_);
    sleepers_.fetch_add(1, std::memory_order_acq_rel);
    cv_.wait(lock, ready);
    sleepers_.fetch_sub(1, std::memory_order_acq_rel);
  }

  void wake_if_parked() {
    if (sleepers_.fetch_add(0, std::memory_order_acq_rel) != 0) {
      std::lock_guard lock(mutex_);
      cv_.notify_all();
    }
  }

  // Validated before anything is allocated (a throwing constructor runs no destructor).
  static std::size_t checked_capacity(std::size_t capacity) {
    if (capacity == 0) {
      throw std::invalid_argument("SpscQueue capacity must be at least 1");
    }
    return capacity;
  }

#ifndef NDEBUG
  // Debug-only role guard: the first thread to use a side owns it for good.
  static void check_role(std::atomic<std::thread::id>& owner) {
    const auto self = std::this_thread::get_id();
    std::thread::id expected{};
    if (!owner.compare_exchange_strong(expected, self, std::memory_order_relaxed) && expected != self) {
      assert(!"SpscQueue used by a second producer or consumer thread");
    }
  }
  std::atomic<std::thread::id> producer_id_{};
  std::atomic<std::thread::id> consumer_id_{};
#else
  static void check_role(int) {}
  static constexpr int producer_id_ = 0;
  static constexpr int consumer_id_ = 0;
#endif

  const std::size_t capacity_;
  T* const slots_;

  alignas(kCacheLine) std::atomic<std::size_t> write_idx_{0};
  alignas(kCacheLine) std::size_t read_idx_cache_{0};  // producer's copy of read_idx_
  alignas(kCacheLine) std::atomic<std::size_t> read_idx_{0};
  alignas(kCacheLine) std::size_t write_idx_cache_{0};  // consumer's copy of write_idx_
  alignas(kCacheLine) std::atomic<bool> closed_{false};
  std::atomic<int> sleepers_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  char padding_[kCacheLine]{};
};

}  // namespace framegen
