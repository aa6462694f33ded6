// Process-wide LibTorch set-up shared by every model runner, done once.
#pragma once

namespace framegen::models {

// Sizes the intra-op pool (threads > 0, else one per core; the first caller wins),
// pins the inter-op pool to 1 thread, and keeps large freed blocks in the heap.
void configure_torch_runtime(int threads);

// LibTorch threads for the calling thread's own work from now on (OpenMP keeps
// this per thread): models running side by side on worker threads split the
// cores instead of each taking all of them.
void set_calling_thread_torch_threads(int threads);

}  // namespace framegen::models
