// The numbers an evaluation report is made of, as pure functions of replies and their scores.
// docs/metrics.md defines each one; the evaluation (evaluation.h) only gathers their inputs.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace emovec::eval {

// The position of `name` in a scorer's label list, nullopt when it is not there.
std::optional<size_t> label_position(const std::vector<std::string>& labels,
                                     const std::string& name);

// Whether `target` is the top label of one scorer row, counting only the labels in
// `candidates` (indices into the row): 1 when it alone has the largest value, 1/k when k
// candidates share the largest value and it is one of them, else 0. Throws Error when
// `target` or a candidate is outside the row, or `target` is not a candidate.
double top_label_credit(std::span<const double> row, std::span<const size_t> candidates,
                        size_t target);

// The top label of one scorer row among `candidates` (indices into the row): the candidate with
// the largest value, the first of them in `candidates` order on a tie. Throws Error for an empty
// candidate list or a candidate outside the row.
size_t top_label(std::span<const double> row, std::span<const size_t> candidates);

// How often two scorers give the same label to the same texts: `a[i]` and `b[i]` are their
// labels of text i, each below `n_labels`.
struct Agreement {
  int64_t texts = 0;
  double observed = 0;          // share of texts with the same label
  std::optional<double> kappa;  // Cohen's kappa; nullopt when chance agreement is 1
};
// Throws Error when the lists differ in length or a label is not below n_labels.
Agreement label_agreement(std::span<const size_t> a, std::span<const size_t> b, size_t n_labels);

// Emotion probability score: the mean of top_label_credit over rows (the share of replies
// whose top label is the target). nullopt for no rows.
std::optional<double> probability_score(std::span<const std::vector<double>> rows,
                                        std::span<const size_t> candidates, size_t target);

// Emotion absolute score: the mean of the target's value over rows. nullopt for no rows.
std::optional<double> absolute_score(std::span<const std::vector<double>> rows, size_t target);

// 100 * (value - baseline) / |baseline|; 0 when both are 0; nullopt when only the baseline is
// 0 (no finite change) or either is missing.
std::optional<double> percent_change(std::optional<double> value, std::optional<double> baseline);

// Whitespace tokens (runs of ' ', \t, \n, \v, \f, \r separate them).
std::vector<std::string> whitespace_tokens(const std::string& text);

// distinct-n over a set of texts: distinct n-grams / n-grams, with the n-grams of each text
// taken within it (none spans two texts). nullopt when the texts hold no n-gram. n >= 1.
std::optional<double> distinct_n(std::span<const std::string> texts, int n);

// Cosine similarity of two vectors of the same length; 0 when either is all zeros.
double cosine(std::span<const float> a, std::span<const float> b);

// The mean, or nullopt for no values.
std::optional<double> mean(std::span<const double> values);

// exp(sum of token negative log-likelihoods / tokens): the perplexity of a set of replies
// pooled token by token. nullopt for no tokens.
std::optional<double> pooled_perplexity(double nll_sum, int64_t tokens);

}  // namespace emovec::eval
