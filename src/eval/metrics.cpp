#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "emovec/error.h"

namespace emovec::eval {

std::optional<size_t> label_position(const std::vector<std::string>& labels,
                                     const std::string& name) {
  const auto it = std::find(labels.begin(), labels.end(), name);
  if (it == labels.end()) return std::nullopt;
  return static_cast<size_t>(it - labels.begin());
}

double top_label_credit(std::span<const double> row, std::span<const size_t> candidates,
                        size_t target) {
  if (target >= row.size()) throw Error("top label: the target label is outside the scores");
  bool target_is_candidate = false;
  double top = -INFINITY;
  for (const size_t c : candidates) {
    if (c >= row.size()) throw Error("top label: a candidate label is outside the scores");
    target_is_candidate = target_is_candidate || c == target;
    top = std::max(top, row[c]);
  }
  if (!target_is_candidate) throw Error("top label: the target is not a candidate label");
  if (row[target] < top) return 0;
  const auto tied =
      std::count_if(candidates.begin(), candidates.end(), [&](size_t c) { return row[c] == top; });
  return 1.0 / static_cast<double>(tied);
}

size_t top_label(std::span<const double> row, std::span<const size_t> candidates) {
  if (candidates.empty()) throw Error("top label: no candidate label");
  size_t best = candidates[0];
  for (const size_t c : candidates) {
    if (c >= row.size()) throw Error("top label: a candidate label is outside the scores");
    if (row[c] > row[best]) best = c;
  }
  return best;
}

Agreement label_agreement(std::span<const size_t> a, std::span<const size_t> b, size_t n_labels) {
  if (a.size() != b.size()) throw Error("agreement: the two label lists differ in length");
  Agreement out;
  out.texts = static_cast<int64_t>(a.size());
  if (a.empty()) {
    out.observed = 0;
    return out;
  }
  std::vector<double> count_a(n_labels), count_b(n_labels);
  int64_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] >= n_labels || b[i] >= n_labels) throw Error("agreement: a label is out of range");
    ++count_a[a[i]];
    ++count_b[b[i]];
    same += a[i] == b[i];
  }
  const auto n = static_cast<double>(a.size());
  out.observed = static_cast<double>(same) / n;
  double chance = 0;
  for (size_t k = 0; k < n_labels; ++k) chance += (count_a[k] / n) * (count_b[k] / n);
  if (chance < 1) out.kappa = (out.observed - chance) / (1 - chance);
  return out;
}

std::optional<double> probability_score(std::span<const std::vector<double>> rows,
                                        std::span<const size_t> candidates, size_t target) {
  if (rows.empty()) return std::nullopt;
  double sum = 0;
  for (const auto& row : rows) sum += top_label_credit(row, candidates, target);
  return sum / static_cast<double>(rows.size());
}

std::optional<double> absolute_score(std::span<const std::vector<double>> rows, size_t target) {
  if (rows.empty()) return std::nullopt;
  double sum = 0;
  for (const auto& row : rows) {
    if (target >= row.size()) throw Error("absolute score: the target label is outside the scores");
    sum += row[target];
  }
  return sum / static_cast<double>(rows.size());
}

std::optional<double> percent_change(std::optional<double> value, std::optional<double> baseline) {
  if (!value || !baseline) return std::nullopt;
  if (*baseline == 0) {
    if (*value == 0) return 0.0;
    return std::nullopt;
  }
  return 100.0 * (*value - *baseline) / std::fabs(*baseline);
}

std::vector<std::string> whitespace_tokens(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  for (const char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

std::optional<double> distinct_n(std::span<const std::string> texts, int n) {
  if (n < 1) throw Error("distinct-n: n must be at least 1");
  const auto width = static_cast<size_t>(n);
  std::set<std::vector<std::string>> seen;
  int64_t total = 0;
  for (const std::string& text : texts) {
    const std::vector<std::string> tokens = whitespace_tokens(text);
    for (size_t i = 0; i + width <= tokens.size(); ++i) {
      seen.emplace(
          std::vector<std::string>(tokens.begin() + static_cast<std::ptrdiff_t>(i),
                                   tokens.begin() + static_cast<std::ptrdiff_t>(i + width)));
      ++total;
    }
  }
  if (total == 0) return std::nullopt;
  return static_cast<double>(seen.size()) / static_cast<double>(total);
}

double cosine(std::span<const float> a, std::span<const float> b) {
  if (a.size() != b.size()) throw Error("cosine: the vectors differ in length");
  double dot = 0;
  double na = 0;
  double nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  if (na == 0 || nb == 0) return 0;
  return dot / (std::sqrt(na) * std::sqrt(nb));
}

std::optional<double> mean(std::span<const double> values) {
  if (values.empty()) return std::nullopt;
  double sum = 0;
  for (const double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

std::optional<double> pooled_perplexity(double nll_sum, int64_t tokens) {
  if (tokens <= 0) return std::nullopt;
  return std::exp(nll_sum / static_cast<double>(tokens));
}

}  // namespace emovec::eval
