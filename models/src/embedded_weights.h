// Weights compiled into the library (models/weights/*.pt, embedded with .incbin at
// build time), so the CLI and the plugin find them from any working directory.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace framegen::models {

// The bytes of weights/<name>.pt (e.g. "fast_x2"); empty when not built in.
std::string_view embedded_weights(const std::string& name);
std::vector<std::string> embedded_weight_names();

}  // namespace framegen::models
