// An ActivationHook that records every site of every layer (tests only).
#pragma once

#include <array>
#include <vector>

#include "emovec/activation_site.h"

namespace emovec::testing {

class CaptureAll : public ActivationHook {
 public:
  CaptureAll(int n_layer, int64_t width) : width_(width), rows_(static_cast<size_t>(n_layer)) {}
  bool wants(int32_t, ActivationSite) const override { return true; }
  void on_activation(const ActivationView& v) override {
    auto& store = rows_[static_cast<size_t>(v.layer)][static_cast<size_t>(v.site)];
    store.insert(store.end(), v.rows, v.rows + v.n_rows * v.width);
  }
  // Row `pos` (counted from the first position recorded) at a layer and site.
  const float* row(int layer, ActivationSite site, int64_t pos) const {
    return rows_[static_cast<size_t>(layer)][static_cast<size_t>(site)].data() + pos * width_;
  }
  int64_t recorded(int layer, ActivationSite site) const {
    return static_cast<int64_t>(
               rows_[static_cast<size_t>(layer)][static_cast<size_t>(site)].size()) /
           width_;
  }

 private:
  int64_t width_;
  std::vector<std::array<std::vector<float>, kActivationSiteCount>> rows_;
};

}  // namespace emovec::testing
