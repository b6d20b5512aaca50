// The two ModelFile implementations behind open_model_file, and helpers they share.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "emovec/model_file.h"

namespace emovec {

std::unique_ptr<ModelFile> open_gguf_model(const std::string& path);
std::unique_ptr<ModelFile> open_hf_model(const std::string& folder);

// Arrays longer than this are summarised in metadata_summary() instead of listed in full.
constexpr size_t kSummaryArrayLimit = 16;
// How many leading elements a summarised array shows.
constexpr size_t kSummaryHeadElements = 8;

nlohmann::json summarise_array(std::string type, size_t length, nlohmann::json head);

}  // namespace emovec
