#include "eval/lightgbm_model.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>
#include <system_error>

#include "emovec/error.h"
#include "format/text_file.h"

namespace emovec::eval {
namespace {

// LightGBM's kZeroThreshold is declared `const double kZeroThreshold = 1e-35f`: the float
// literal widened, which is not the double closest to 1e-35.
constexpr double kZeroThreshold = static_cast<double>(1e-35f);

// decision_type bits (LightGBM tree.h): 1 categorical, 2 default left, bits 2-3 missing type.
constexpr uint8_t kCategoricalMask = 1;
constexpr uint8_t kDefaultLeftMask = 2;
enum MissingType : uint8_t { kMissingNone = 0, kMissingZero = 1, kMissingNaN = 2 };

bool is_zero(double v) { return v >= -kZeroThreshold && v <= kZeroThreshold; }

// The lines of one "key=value" block, in file order, and where the block started.
struct Block {
  std::map<std::string, std::string, std::less<>> fields;
  size_t first_line = 0;
};

std::string_view trim_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      lines.push_back(trim_cr(text.substr(pos)));
      break;
    }
    lines.push_back(trim_cr(text.substr(pos, end - pos)));
    pos = end + 1;
  }
  return lines;
}

class Parser {
 public:
  Parser(std::string_view text, const std::string& source)
      : lines_(split_lines(text)), source_(source) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("LightGBM model " + source_ + ": " + what);
  }

  size_t line_count() const { return lines_.size(); }
  std::string_view line(size_t i) const { return lines_[i]; }

  // Reads "key=value" lines from `i` up to the first line for which `stop` holds (or the end).
  // With `flags`, a line without '=' is a key with an empty value (the header's average_output).
  template <typename Stop>
  Block read_block(size_t& i, Stop stop, const std::string& where, bool flags) const {
    Block block;
    block.first_line = i;
    for (; i < lines_.size() && !stop(lines_[i]); ++i) {
      const std::string_view l = lines_[i];
      const size_t eq = l.find('=');
      if (flags && eq == std::string_view::npos) {
        block.fields.emplace(std::string(l), std::string());
        continue;
      }
      if (eq == std::string_view::npos || eq == 0) {
        fail(where + ", line " + std::to_string(i + 1) + ": expected key=value, found '" +
             std::string(l.substr(0, 60)) + "'");
      }
      block.fields.emplace(std::string(l.substr(0, eq)), std::string(l.substr(eq + 1)));
    }
    return block;
  }

 private:
  std::vector<std::string_view> lines_;
  const std::string& source_;
};

template <typename T>
bool parse_number(std::string_view token, T& out) {
  const char* first = token.data();
  const char* last = token.data() + token.size();
  if (first != last && *first == '+') ++first;  // from_chars does not take a leading '+'
  const auto [ptr, ec] = std::from_chars(first, last, out);
  return ec == std::errc() && ptr == last && first != last;
}

class FieldReader {
 public:
  FieldReader(const Parser& parser, const Block& block, std::string where)
      : parser_(parser), block_(block), where_(std::move(where)) {}

  bool has(std::string_view key) const { return block_.fields.find(key) != block_.fields.end(); }

  const std::string& text(std::string_view key) const {
    const auto it = block_.fields.find(key);
    if (it == block_.fields.end())
      parser_.fail(where_ + ": missing field '" + std::string(key) + "'");
    return it->second;
  }

  template <typename T>
  T scalar(std::string_view key) const {
    T value{};
    if (!parse_number(text(key), value)) bad_number(key, text(key));
    return value;
  }

  // A space-separated list that must have exactly `count` values.
  template <typename T>
  std::vector<T> array(std::string_view key, size_t count) const {
    const std::string& s = text(key);
    std::vector<T> values;
    values.reserve(count);
    size_t pos = 0;
    while (pos < s.size()) {
      const size_t end = std::min(s.find(' ', pos), s.size());
      if (end > pos) {
        const std::string_view token(s.data() + pos, end - pos);
        T v{};
        if (!parse_number(token, v)) bad_number(key, std::string(token));
        values.push_back(v);
      }
      pos = end + 1;
    }
    if (values.size() != count) {
      parser_.fail(where_ + ": " + std::string(key) + " has " + std::to_string(values.size()) +
                   " values, expected " + std::to_string(count));
    }
    return values;
  }

 private:
  [[noreturn]] void bad_number(std::string_view key, const std::string& token) const {
    parser_.fail(where_ + ": " + std::string(key) + ": '" + token.substr(0, 40) +
                 "' is not a valid number");
  }

  const Parser& parser_;
  const Block& block_;
  std::string where_;
};

// Every node reached exactly once from the root, every leaf too: a tree, so prediction ends.
void check_structure(const Parser& parser, const std::string& where,
                     const std::vector<int32_t>& left, const std::vector<int32_t>& right,
                     size_t num_leaves) {
  const size_t n_internal = num_leaves - 1;
  std::vector<bool> seen_node(n_internal, false), seen_leaf(num_leaves, false);
  std::vector<int32_t> stack{0};
  while (!stack.empty()) {
    const int32_t node = stack.back();
    stack.pop_back();
    if (seen_node[static_cast<size_t>(node)]) {
      parser.fail(where + ": node " + std::to_string(node) + " is reached twice (not a tree)");
    }
    seen_node[static_cast<size_t>(node)] = true;
    for (const int32_t child :
         {left[static_cast<size_t>(node)], right[static_cast<size_t>(node)]}) {
      if (child >= 0) {
        if (static_cast<size_t>(child) >= n_internal) {
          parser.fail(where + ": node " + std::to_string(node) + " has child " +
                      std::to_string(child) + ", but the tree has " + std::to_string(n_internal) +
                      " internal nodes");
        }
        stack.push_back(child);
      } else {
        const size_t leaf = static_cast<size_t>(~child);
        if (leaf >= num_leaves) {
          parser.fail(where + ": node " + std::to_string(node) + " has leaf child " +
                      std::to_string(child) + " (leaf " + std::to_string(leaf) +
                      "), but the tree has " + std::to_string(num_leaves) + " leaves");
        }
        if (seen_leaf[leaf]) {
          parser.fail(where + ": leaf " + std::to_string(leaf) + " is reached twice (not a tree)");
        }
        seen_leaf[leaf] = true;
      }
    }
  }
  for (size_t i = 0; i < n_internal; ++i) {
    if (!seen_node[i]) parser.fail(where + ": node " + std::to_string(i) + " is unreachable");
  }
  for (size_t i = 0; i < num_leaves; ++i) {
    if (!seen_leaf[i]) parser.fail(where + ": leaf " + std::to_string(i) + " is unreachable");
  }
}

}  // namespace

double LightGbmModel::Tree::predict(const double* features) const {
  if (leaf_value.size() == 1) return leaf_value[0];
  int32_t node = 0;
  while (node >= 0) {
    const size_t n = static_cast<size_t>(node);
    double v = features[split_feature[n]];
    const uint8_t missing = static_cast<uint8_t>((decision_type[n] >> 2) & 3);
    // As LightGBM's Tree::NumericalDecision: NaN counts as 0 unless NaN is the missing value.
    if (std::isnan(v) && missing != kMissingNaN) v = 0.0;
    if ((missing == kMissingZero && is_zero(v)) || (missing == kMissingNaN && std::isnan(v))) {
      node = (decision_type[n] & kDefaultLeftMask) != 0 ? left_child[n] : right_child[n];
    } else {
      node = v <= threshold[n] ? left_child[n] : right_child[n];
    }
  }
  return leaf_value[static_cast<size_t>(~node)];
}

LightGbmModel LightGbmModel::load(const std::string& path) {
  return parse(read_text_file(path, "LightGBM model"), path);
}

LightGbmModel LightGbmModel::parse(std::string_view text, const std::string& source) {
  const Parser parser(text, source);
  if (parser.line_count() == 0 || parser.line(0) != "tree") {
    parser.fail("not a LightGBM text model (the first line is not 'tree')");
  }
  LightGbmModel model;

  size_t i = 1;
  const auto is_tree_start = [](std::string_view l) { return l.rfind("Tree=", 0) == 0; };
  const auto header_end = [&](std::string_view l) { return is_tree_start(l) || l.empty(); };
  const Block header_block = parser.read_block(i, header_end, "header", true);
  const FieldReader header(parser, header_block, "header");

  const int num_class = header.scalar<int>("num_class");
  const int trees_per_iteration = header.has("num_tree_per_iteration")
                                      ? header.scalar<int>("num_tree_per_iteration")
                                      : num_class;
  if (num_class != 1 || trees_per_iteration != 1) {
    parser.fail("num_class=" + std::to_string(num_class) +
                ", num_tree_per_iteration=" + std::to_string(trees_per_iteration) +
                ": only models with one tree per iteration are supported");
  }
  const int max_feature_idx = header.scalar<int>("max_feature_idx");
  if (max_feature_idx < 0 || max_feature_idx >= (1 << 24)) {
    parser.fail("max_feature_idx=" + std::to_string(max_feature_idx) + " is out of range");
  }
  model.num_features_ = static_cast<size_t>(max_feature_idx) + 1;
  model.average_output_ = header.has("average_output");
  if (header.has("objective")) model.set_objective(header.text("objective"), source);
  long long expected_trees = -1;
  if (header.has("tree_sizes")) {
    const std::string& sizes = header.text("tree_sizes");
    expected_trees = sizes.empty() ? 0 : 1;
    for (char c : sizes) expected_trees += c == ' ' ? 1 : 0;
  }

  bool saw_end = false;
  while (i < parser.line_count()) {
    const std::string_view l = parser.line(i);
    if (l.empty()) {
      ++i;
      continue;
    }
    if (l == "end of trees") {
      saw_end = true;
      break;
    }
    if (!is_tree_start(l)) {
      parser.fail("line " + std::to_string(i + 1) +
                  ": expected 'Tree=N' or 'end of trees', found '" + std::string(l.substr(0, 60)) +
                  "'");
    }
    const std::string where =
        "tree " + std::to_string(model.trees_.size()) + " (line " + std::to_string(i + 1) + ")";
    ++i;
    const Block block = parser.read_block(
        i, [](std::string_view line) { return line.empty(); }, where, false);
    const FieldReader f(parser, block, where);

    const int num_leaves = f.scalar<int>("num_leaves");
    if (num_leaves < 1 || num_leaves > (1 << 24)) {
      parser.fail(where + ": num_leaves=" + std::to_string(num_leaves) + " is out of range");
    }
    const int num_cat = f.scalar<int>("num_cat");
    if (num_cat != 0) {
      parser.fail(where + ": categorical splits (num_cat=" + std::to_string(num_cat) +
                  ") are not supported");
    }
    if (f.has("is_linear") && f.scalar<int>("is_linear") != 0) {
      parser.fail(where + ": linear trees (is_linear=1) are not supported");
    }
    const size_t leaves = static_cast<size_t>(num_leaves);
    Tree tree;
    tree.leaf_value = f.array<double>("leaf_value", leaves);
    if (leaves > 1) {
      const size_t n = leaves - 1;
      tree.split_feature = f.array<int32_t>("split_feature", n);
      tree.threshold = f.array<double>("threshold", n);
      tree.left_child = f.array<int32_t>("left_child", n);
      tree.right_child = f.array<int32_t>("right_child", n);
      std::vector<int> decision(n, 0);
      if (f.has("decision_type")) decision = f.array<int>("decision_type", n);
      tree.decision_type.resize(n);
      for (size_t k = 0; k < n; ++k) {
        const int d = decision[k];
        if (d < 0 || d > 15 || ((d >> 2) & 3) == 3) {
          parser.fail(where + ": node " + std::to_string(k) + " has an invalid decision_type " +
                      std::to_string(d));
        }
        if ((d & kCategoricalMask) != 0) {
          parser.fail(where + ": node " + std::to_string(k) +
                      " is a categorical split, which is not supported");
        }
        tree.decision_type[k] = static_cast<uint8_t>(d);
        if (tree.split_feature[k] < 0 || tree.split_feature[k] > max_feature_idx) {
          parser.fail(where + ": node " + std::to_string(k) + " splits on feature " +
                      std::to_string(tree.split_feature[k]) + ", but max_feature_idx is " +
                      std::to_string(max_feature_idx));
        }
      }
      check_structure(parser, where, tree.left_child, tree.right_child, leaves);
    }
    model.trees_.push_back(std::move(tree));
  }
  if (!saw_end) parser.fail("no 'end of trees' line: the file is truncated");
  if (expected_trees >= 0 && static_cast<size_t>(expected_trees) != model.trees_.size()) {
    parser.fail("the header's tree_sizes lists " + std::to_string(expected_trees) +
                " trees, the file has " + std::to_string(model.trees_.size()));
  }
  if (model.trees_.empty()) parser.fail("the model has no trees");
  return model;
}

void LightGbmModel::set_objective(const std::string& objective, const std::string& source) {
  objective_ = objective;
  std::vector<std::string> tokens;
  std::istringstream words(objective);
  for (std::string w; words >> w;) tokens.push_back(w);
  const std::string name = tokens.empty() ? "" : tokens[0];
  bool sqrt = false;
  for (size_t k = 1; k < tokens.size(); ++k) {
    if (tokens[k] == "sqrt") sqrt = true;
    if (tokens[k].rfind("sigmoid:", 0) == 0) {
      if (!parse_number(std::string_view(tokens[k]).substr(8), sigmoid_) || !(sigmoid_ > 0)) {
        throw Error("LightGBM model " + source + ": objective '" + objective +
                    "' has an invalid sigmoid parameter");
      }
    }
  }
  // The output transforms of LightGBM's objectives (their ConvertOutput).
  if (name == "regression" || name == "regression_l1" || name == "huber" || name == "fair" ||
      name == "quantile" || name == "mape") {
    transform_ = sqrt ? Transform::SignedSquare : Transform::Identity;
  } else if (name == "poisson" || name == "gamma" || name == "tweedie") {
    transform_ = Transform::Exp;
  } else if (name == "binary") {
    transform_ = Transform::Sigmoid;
  } else if (name == "cross_entropy") {
    transform_ = Transform::Sigmoid;
    sigmoid_ = 1.0;
  } else if (name == "lambdarank" || name == "rank_xendcg" || name == "custom") {
    transform_ = Transform::Identity;
  } else {
    throw Error("LightGBM model " + source + ": objective '" + objective + "' is not supported");
  }
}

double LightGbmModel::predict_raw(std::span<const double> features) const {
  if (features.size() != num_features_) {
    throw Error("LightGBM model: a row of " + std::to_string(features.size()) +
                " features, the model takes " + std::to_string(num_features_));
  }
  // LightGBM's dense-row input keeps only values with |v| > kZeroThreshold (and NaN); the rest
  // reach the trees as exact zeros.
  std::vector<double> row(features.begin(), features.end());
  for (double& v : row) {
    if (!std::isnan(v) && !(std::fabs(v) > kZeroThreshold)) v = 0.0;
  }
  double sum = 0.0;
  for (const Tree& tree : trees_) sum += tree.predict(row.data());
  return sum;
}

double LightGbmModel::predict(std::span<const double> features) const {
  double out = predict_raw(features);
  if (average_output_) out /= static_cast<double>(trees_.size());
  switch (transform_) {
    case Transform::Identity:
      return out;
    case Transform::SignedSquare:
      return (out > 0 ? 1.0 : out < 0 ? -1.0 : 0.0) * out * out;
    case Transform::Exp:
      return std::exp(out);
    case Transform::Sigmoid:
      return 1.0 / (1.0 + std::exp(-sigmoid_ * out));
  }
  return out;
}

}  // namespace emovec::eval
