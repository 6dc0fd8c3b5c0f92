// The thread pool: workers sleep on a condition variable between jobs. One job at a time (the kernels are called
// from Node's main thread, one after the other).
#include "pool.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "blas.h"

namespace dumbo {
namespace {

class Pool {
 public:
  ~Pool() { stop(); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int n) {
    stop();
    stopping_ = false;
    // New workers wait for the next job, not the last one run.
    for (int i = 1; i < n; i++) workers_.emplace_back([this, i, seen = generation_] { loop(i, seen); });
  }

  void run(int parts, const std::function<void(int)>& fn) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &fn;
      parts_ = parts;
      pending_ = parts - 1;
      generation_++;
    }
    wake_.notify_all();
    // A part that throws (bad_alloc) must not leave the others running `fn` after it is gone: every part
    // finishes first, then the first error goes up to the caller (the addon turns it into a JS error).
    std::exception_ptr error;
    try {
      fn(0);
    } catch (...) {
      error = std::current_exception();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
    if (!error) error = workerError_;
    workerError_ = nullptr;
    lock.unlock();
    if (error) std::rethrow_exception(error);
  }

 private:
  void loop(int index, uint64_t seen) {
    // One BLAS thread in this thread too: an OpenMP OpenBLAS sets the count per calling thread.
    blasSetThreads(1);
    for (;;) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        if (index >= parts_ || job_ == nullptr) continue;
        job = job_;
      }
      std::exception_ptr error;
      try {
        (*job)(index);
      } catch (...) {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (error && !workerError_) workerError_ = error;
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::exception_ptr workerError_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int parts_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

int initialThreads() {
  const char* env = std::getenv("DUMBO_NUM_THREADS");
  int n = env ? std::atoi(env) : 0;
  if (n < 1) n = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, n);
}

int threads = 0;

Pool& pool() {
  static Pool p;
  if (threads == 0) setThreadCount(initialThreads());
  return p;
}

}  // namespace

int threadCount() {
  pool();
  return threads;
}

void setThreadCount(int n) {
  n = std::max(1, n);
  threads = n;
  pool().resize(n);
  // The BLAS runs single-threaded inside the pool's tasks (matmul.cc): OpenBLAS's own threading splits a
  // product differently for each thread count, and so rounds differently.
  blasSetThreads(1);
}

void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  Pool& p = pool();
  int64_t parts = std::min<int64_t>(p.size(), std::max<int64_t>(1, n / std::max<int64_t>(1, grain)));
  if (parts <= 1) {
    fn(0, n);
    return;
  }
  const int64_t step = (n + parts - 1) / parts;
  p.run(static_cast<int>(parts), [&](int i) {
    const int64_t begin = i * step;
    const int64_t end = std::min(n, begin + step);
    if (begin < end) fn(begin, end);
  });
}

}  // namespace dumbo
