// Queue benchmark: SpscQueue against a mutex + condition-variable queue, in the
// same run. Prints throughput (items/s) and round-trip latency (ping-pong through
// two queues), and the ratios. Not a test: timings depend on the machine.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "framegen/pipeline/spsc_queue.h"

namespace {

// Baseline: bounded queue with one mutex and two condition variables.
template <typename T>
class MutexQueue {
 public:
  explicit MutexQueue(std::size_t cap) : cap_(cap) {}
  bool push(T v) {
    std::unique_lock lk(m_);
    not_full_.wait(lk, [&] { return q_.size() < cap_; });
    q_.push_back(std::move(v));
    not_empty_.notify_one();
    return true;
  }
  std::optional<T> pop() {
    std::unique_lock lk(m_);
    not_empty_.wait(lk, [&] { return !q_.empty(); });
    T v = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return v;
  }

 private:
  std::size_t cap_;
  std::mutex m_;
  std::condition_variable not_empty_, not_full_;
  std::deque<T> q_;
};

template <typename Q>
double throughput(std::int64_t n) {
  Q q(1024);
  const auto t0 = std::chrono::steady_clock::now();
  std::thread consumer([&] {
    std::int64_t sum = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      sum += *q.pop();
    }
    if (sum != n * (n - 1) / 2) {
      std::fprintf(stderr, "sum mismatch\n");
      std::abort();
    }
  });
  for (std::int64_t i = 0; i < n; ++i) {
    q.push(i);
  }
  consumer.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(n) / s;
}

template <typename Q>
double round_trip_ns(std::int64_t n) {
  Q ping(16), pong(16);
  std::thread echo([&] {
    for (std::int64_t i = 0; i < n; ++i) {
      pong.push(*ping.pop());
    }
  });
  const auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    ping.push(i);
    (void)pong.pop();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  echo.join();
  return s * 1e9 / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 10'000'000;
  const std::int64_t rt = n / 50;
  const double spsc_tp = throughput<framegen::SpscQueue<std::int64_t>>(n);
  const double mutex_tp = throughput<MutexQueue<std::int64_t>>(n);
  const double spsc_rt = round_trip_ns<framegen::SpscQueue<std::int64_t>>(rt);
  const double mutex_rt = round_trip_ns<MutexQueue<std::int64_t>>(rt);
  std::printf("throughput  SpscQueue %.3g items/s   mutex+cv %.3g items/s   ratio %.2fx\n", spsc_tp, mutex_tp,
              spsc_tp / mutex_tp);
  std::printf("round trip  SpscQueue %.0f ns         mutex+cv %.0f ns         ratio %.2fx faster\n", spsc_rt, mutex_rt,
              mutex_rt / spsc_rt);
  return 0;
}
