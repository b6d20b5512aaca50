// LightGBM boosted trees from LightGBM's text model format (what Booster.save_model writes), and
// prediction that gives LightGBM's numbers: the same split rule, missing-value handling, sum order
// and output transform. nade's Plutchik regressors are such files.
//
// Supported: numerical splits with any missing-value type (None, Zero, NaN) and default
// direction, one tree per iteration (regression and binary objectives), average_output (random
// forests). Categorical splits, linear trees and multi-class models are rejected with an Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace emovec::eval {

class LightGbmModel {
 public:
  // Throws Error naming the file and the problem for a file that cannot be read, is not a
  // LightGBM text model, is truncated, or uses a feature this reader does not implement.
  static LightGbmModel load(const std::string& path);
  // The same from the file's text; `source` names it in error messages.
  static LightGbmModel parse(std::string_view text, const std::string& source);

  // The prediction LightGBM's Booster.predict gives for one row of num_features() values (NaN
  // is a missing value): the trees' sum, averaged for average_output, then the objective's
  // output transform (identity for regression). Throws Error for a row of the wrong length.
  double predict(std::span<const double> features) const;
  // The trees' sum before averaging and the output transform (predict(raw_score=True)).
  double predict_raw(std::span<const double> features) const;

  size_t num_features() const { return num_features_; }
  size_t num_trees() const { return trees_.size(); }
  const std::string& objective() const { return objective_; }
  bool average_output() const { return average_output_; }

 private:
  enum class Transform { Identity, SignedSquare, Exp, Sigmoid };

  struct Tree {
    // Internal nodes 0 .. num_leaves-2; a child c >= 0 is an internal node, c < 0 the leaf ~c.
    std::vector<int32_t> split_feature;
    std::vector<double> threshold;
    std::vector<uint8_t> decision_type;
    std::vector<int32_t> left_child;
    std::vector<int32_t> right_child;
    std::vector<double> leaf_value;

    double predict(const double* features) const;
  };

  LightGbmModel() = default;
  void set_objective(const std::string& objective, const std::string& source);

  size_t num_features_ = 0;
  std::string objective_;
  Transform transform_ = Transform::Identity;
  double sigmoid_ = 1.0;
  bool average_output_ = false;
  std::vector<Tree> trees_;
};

}  // namespace emovec::eval
