// Helpers shared by the tests: where the shipped models and golden files are.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>

namespace emovec::testing {

// Path of a shipped model (by its registry name, e.g. "smollm2-135m-instruct"), fetched by the
// set-up. Fails the calling test (via a thrown std::runtime_error) when it is missing, since the
// set-up is meant to have fetched every shipped model.
std::string model_path(const std::string& registry_name);

// A registry name as a GoogleTest parameter name ("qwen2.5-coder-0.5b" -> "qwen2_5_coder_0_5b").
std::string test_name(std::string registry_name);

// tests/golden/<name>
std::string golden_path(const std::string& name);
nlohmann::json read_json(const std::string& path);

// tests/data/<name>
std::string data_path(const std::string& name);

// max |a - b| / max |b|.
double max_relative_difference(std::span<const float> a, std::span<const float> b);

}  // namespace emovec::testing
