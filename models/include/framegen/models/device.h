// Device names of --device and the elements' device property (no torch here).
#pragma once

#include <string>

namespace framegen {

// Whether `name` is a device name: "cpu", "cuda" or "cuda:N" (whether that device
// exists is checked when a model is loaded).
[[nodiscard]] bool is_device_name(const std::string& name);

}  // namespace framegen
