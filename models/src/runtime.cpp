#include "runtime.h"

#include <malloc.h>
#include <omp.h>
#include <torch/torch.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include "framegen/models/device.h"
#include "framegen/models/networks.h"
#include "framegen/models/predictor_net.h"
#include "framegen/pipeline/error.h"

namespace framegen {

bool is_device_name(const std::string& name) {
  if (name == "cpu" || name == "cuda") {
    return true;
  }
  return name.size() > 5 && name.size() <= 7 && name.compare(0, 5, "cuda:") == 0 &&
         std::all_of(name.begin() + 5, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace framegen

namespace framegen::models {

c10::Device parse_device(const std::string& name) {
  if (name == "cpu") {
    return c10::Device(c10::kCPU);
  }
  if (!is_device_name(name)) {
    throw Error(ErrorKind::kUsage, "unknown device '" + name + "' (cpu, cuda or cuda:N)");
  }
  if (!torch::cuda::is_available()) {
    throw Error(ErrorKind::kUsage,
                "--device " + name + ": this LibTorch build has no CUDA support or sees no GPU; use --device cpu");
  }
  const int index = name == "cuda" ? 0 : std::stoi(name.substr(5));
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw Error(ErrorKind::kUsage, "--device " + name + ": " + std::to_string(count) + " GPU(s) visible (cuda:0" +
                                       (count > 1 ? " to cuda:" + std::to_string(count - 1) : "") + ")");
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

void configure_torch_runtime(int threads) {
  static std::once_flag once;
  std::call_once(once, [threads] {
    const int n = threads > 0 ? threads : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
    torch::set_num_threads(n);
    set_dis_threads(n);  // OpenCV's pool (the DIS flow prior) the same size
    try {
      at::set_num_interop_threads(1);
    } catch (const std::exception&) {
      // Already started by someone else in this process: keep theirs.
    }
    // Per-frame tensors are tens of MB: glibc would mmap and unmap each one, and
    // the page faults of re-touching fresh mappings cost more than the network
    // (66 -> 38 ms per 640x360 frame for `fast`). Keep freed blocks in the heap:
    // 32 MiB is the largest mmap threshold glibc accepts on 64-bit (a larger value
    // is refused and leaves the dynamic threshold in place).
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  });
}

void set_calling_thread_torch_threads(int threads) {
  if (threads > 0) {
    omp_set_num_threads(threads);
  }
}

std::string resolve_precision(const std::string& requested, const std::string& device, bool network,
                              const std::string& what) {
  if (requested != "auto" && requested != "fp32" && requested != "bf16") {
    throw Error(ErrorKind::kUsage, "unknown precision '" + requested + "' (auto, fp32 or bf16)");
  }
  if (!network) {
    if (requested != "auto") {
      throw Error(ErrorKind::kUsage,
                  "--precision " + requested + " applies to the built-in networks, not to '" + what + "'");
    }
    return "";
  }
  if (device != "cpu") {
    if (requested == "bf16") {
      throw Error(ErrorKind::kUsage, "--precision bf16 applies to the CPU; on " + device + " the networks run in fp32");
    }
    return "fp32";
  }
  const bool native = cpu_has_native_bf16();
  if (requested == "bf16" && !native) {
    throw Error(ErrorKind::kUsage,
                "--precision bf16: this CPU has no native bfloat16 arithmetic (AVX512_BF16); use fp32 or auto");
  }
  if (requested == "bf16") {
    return "bf16";
  }
  return requested == "auto" && cpu_prefers_bf16() ? "bf16" : "fp32";
}

}  // namespace framegen::models
