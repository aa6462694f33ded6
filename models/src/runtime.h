// Process-wide LibTorch set-up shared by every model runner, done once.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace framegen::models {

// Sizes the intra-op pool (threads > 0, else one per core; the first caller wins),
// pins the inter-op pool to 1 thread, and keeps large freed blocks in the heap.
void configure_torch_runtime(int threads);

// LibTorch threads for the calling thread's own work from now on (OpenMP keeps
// this per thread): models running side by side on worker threads split the
// cores instead of each taking all of them.
void set_calling_thread_torch_threads(int threads);

// The torch device for --device `name`: "cpu", "cuda" (the first GPU) or "cuda:N".
// Throws Error(kUsage) for other names, and for CUDA without a CUDA build of
// LibTorch or without GPU N.
c10::Device parse_device(const std::string& name);

// The arithmetic a network runs in, from --precision `requested` (auto, fp32, bf16)
// on `device`: "bf16" or "fp32"; "" where `network` is false (a classical model,
// whose `what` names it in the error). Throws Error(kUsage) for unknown values,
// for a precision other than auto without a network, for bf16 off the CPU or on a
// CPU without native bfloat16 (cpu_has_native_bf16).
std::string resolve_precision(const std::string& requested, const std::string& device, bool network,
                              const std::string& what);

}  // namespace framegen::models
