// Which BLAS the addon was built with (binding.gyp defines one of DUMBO_OPENBLAS, DUMBO_ACCELERATE), behind
// two functions so the kernels include no BLAS header themselves.
#pragma once

namespace dumbo {
// The BLAS's name and configuration, for the backend report.
const char* blasName();
// Threads the BLAS may use (a no-op where it cannot be set: Accelerate).
void blasSetThreads(int n);
}  // namespace dumbo
