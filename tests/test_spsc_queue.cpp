#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "framegen/pipeline/spsc_queue.h"

using framegen::SpscQueue;
using namespace std::chrono_literals;

namespace {

// Counts live instances, so tests can see every constructed element destroyed.
struct Tracked {
  static std::atomic<int> live;
  int value = 0;
  explicit Tracked(int v) : value(v) { live.fetch_add(1); }
  Tracked(const Tracked& o) : value(o.value) { live.fetch_add(1); }
  Tracked(Tracked&& o) noexcept : value(o.value) { live.fetch_add(1); }
  Tracked& operator=(const Tracked&) = default;
  Tracked& operator=(Tracked&&) noexcept = default;
  ~Tracked() { live.fetch_sub(1); }
};
std::atomic<int> Tracked::live{0};

}  // namespace

TEST(SpscQueue, RejectsZeroCapacity) { EXPECT_THROW(SpscQueue<int>(0), std::invalid_argument); }

TEST(SpscQueue, FifoAndFullEmpty) {
  SpscQueue<int> q(3);
  EXPECT_EQ(q.capacity(), 3u);
  EXPECT_FALSE(q.try_pop().has_value());
  EXPECT_TRUE(q.try_push(1));
  EXPECT_TRUE(q.try_push(2));
  EXPECT_TRUE(q.try_push(3));
  EXPECT_FALSE(q.try_push(4));
  EXPECT_EQ(q.size_approx(), 3u);
  EXPECT_EQ(*q.try_pop(), 1);
  EXPECT_TRUE(q.try_push(4));
  EXPECT_EQ(*q.try_pop(), 2);
  EXPECT_EQ(*q.try_pop(), 3);
  EXPECT_EQ(*q.try_pop(), 4);
  EXPECT_FALSE(q.try_pop().has_value());
}

TEST(SpscQueue, FailedTryPushLeavesValueIntact) {
  SpscQueue<std::string> q(1);
  ASSERT_TRUE(q.try_push(std::string("first")));
  std::string s = "second, long enough to live on the heap";
  EXPECT_FALSE(q.try_push(std::move(s)));
  EXPECT_EQ(s, "second, long enough to live on the heap");
}

TEST(SpscQueue, ElementLifetimes) {
  Tracked::live = 0;
  {
    SpscQueue<Tracked> q(8);
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(q.try_push(Tracked(i)));
    }
    EXPECT_EQ(Tracked::live.load(), 5);
    {
      auto v = q.try_pop();
      ASSERT_TRUE(v.has_value());
      EXPECT_EQ(v->value, 0);
    }
    EXPECT_EQ(Tracked::live.load(), 4);
    // Wrap around the ring a few times.
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(q.try_push(Tracked(100 + i)));
      auto v = q.try_pop();
      ASSERT_TRUE(v.has_value());
    }
    EXPECT_EQ(Tracked::live.load(), 4);
  }
  // The destructor destroys the items still queued.
  EXPECT_EQ(Tracked::live.load(), 0);
}

TEST(SpscQueue, TwoThreadStressSumAndOrder) {
  constexpr int64_t kItems = 2'000'000;
  SpscQueue<int64_t> q(64);
  int64_t sum = 0;
  bool ordered = true;
  std::thread consumer([&] {
    int64_t expected = 0;
    while (auto v = q.pop()) {
      ordered = ordered && (*v == expected);
      ++expected;
      sum += *v;
    }
  });
  for (int64_t i = 0; i < kItems; ++i) {
    // Mix blocking and non-blocking pushes to exercise both paths.
    if (i % 2 == 0) {
      ASSERT_TRUE(q.push(i));
    } else {
      while (!q.try_push(i)) {
        std::this_thread::yield();
      }
    }
  }
  q.close();
  consumer.join();
  EXPECT_TRUE(ordered);
  EXPECT_EQ(sum, kItems * (kItems - 1) / 2);
}

TEST(SpscQueue, CloseWakesBlockedConsumer) {
  SpscQueue<int> q(4);
  std::atomic<bool> returned{false};
  std::thread consumer([&] {
    auto v = q.pop();  // blocks: empty
    EXPECT_FALSE(v.has_value());
    returned = true;
  });
  std::this_thread::sleep_for(50ms);  // let it park
  EXPECT_FALSE(returned.load());
  q.close();
  consumer.join();
  EXPECT_TRUE(returned.load());
}

TEST(SpscQueue, CloseWakesBlockedProducer) {
  SpscQueue<int> q(2);
  std::atomic<int> result{-1};
  std::thread producer([&] {  // the one producer thread (the debug role guard checks it)
    ASSERT_TRUE(q.try_push(1));
    ASSERT_TRUE(q.try_push(2));
    result = q.push(3) ? 1 : 0;  // blocks: full
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(result.load(), -1);
  q.close();
  producer.join();
  EXPECT_EQ(result.load(), 0);
  // Items queued before close are still delivered, then pop reports the end.
  EXPECT_EQ(*q.pop(), 1);
  EXPECT_EQ(*q.pop(), 2);
  EXPECT_FALSE(q.pop().has_value());
}

TEST(SpscQueue, BlockedConsumerWakesOnPush) {
  SpscQueue<int> q(4);
  std::thread consumer([&] { EXPECT_EQ(q.pop().value_or(-1), 42); });
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(q.push(42));
  consumer.join();
}

TEST(SpscQueue, PopForTimesOut) {
  SpscQueue<int> q(4);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(q.pop_for(20ms).has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
  EXPECT_FALSE(q.closed());
}
