// A small fixed thread pool for the kernels that the BLAS does not thread. `parallelFor` splits [0, n) into
// contiguous ranges, one per thread, and returns when all are done; the main thread takes the first range.
#pragma once
#include <cstdint>
#include <functional>

namespace dumbo {

// Threads used (pool and BLAS): DUMBO_NUM_THREADS, else the number of cores.
int threadCount();
// Changes it (at least 1), for the pool and the BLAS.
void setThreadCount(int n);
// fn(begin, end) over contiguous parts of [0, n); below `grain` items per thread fewer threads are used.
void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace dumbo
