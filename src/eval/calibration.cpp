#include "eval/calibration.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <sstream>

#include "emovec/error.h"
#include "eval/metrics.h"
#include "format/text_file.h"

namespace emovec::eval {
namespace {

bool is_label_name(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

std::string ratio_text(int64_t correct, int64_t total) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f (%lld/%lld)",
                total > 0 ? static_cast<double>(correct) / static_cast<double>(total) : 0.0,
                static_cast<long long>(correct), static_cast<long long>(total));
  return buf;
}

}  // namespace

LabelledSet load_labelled_set(const std::string& path) {
  LabelledSet out;
  int64_t number = 0;
  const auto where = [&] { return path + ":" + std::to_string(number) + ": "; };
  for (const std::string& line : text_lines(read_text_file(path, "the labelled set"))) {
    ++number;
    const size_t tab = line.find('\t');
    if (number == 1) {
      if (line != "label\ttext") throw Error(where() + "the header must be label<TAB>text");
      continue;
    }
    if (line.empty()) continue;
    if (tab == std::string::npos) throw Error(where() + "no tab between the label and the text");
    std::string label = line.substr(0, tab);
    std::string text = line.substr(tab + 1);
    if (!is_label_name(label)) {
      throw Error(where() + "the label '" + label + "' is not a lower-case word");
    }
    if (text.empty()) throw Error(where() + "the text is empty");
    if (text.find('\t') != std::string::npos) throw Error(where() + "more than one tab");
    out.labels.push_back(std::move(label));
    out.texts.push_back(std::move(text));
  }
  if (number == 0) throw Error(path + ": empty; the header must be label<TAB>text");
  if (out.texts.empty()) throw Error("the labelled set " + path + " holds no sentence");
  return out;
}

double ScorerAccuracy::target_accuracy() const {
  return target_texts > 0 ? static_cast<double>(target_correct) / static_cast<double>(target_texts)
                          : 0.0;
}

std::optional<double> ScorerAccuracy::all_accuracy() const {
  if (!all_texts || *all_texts == 0) return std::nullopt;
  return static_cast<double>(*all_correct) / static_cast<double>(*all_texts);
}

ScorerAccuracy scorer_accuracy(EmotionScorer& scorer, const LabelledSet& set) {
  const std::vector<std::string>& labels = scorer.labels();
  const std::vector<std::string> target_names(std::begin(kTargetEmotions),
                                              std::end(kTargetEmotions));
  std::vector<size_t> targets;
  for (const char* t : kTargetEmotions) {
    const auto i = label_position(labels, t);
    if (!i) throw Error("the scorer " + scorer.name() + " has no label '" + t + "'");
    targets.push_back(*i);
  }
  const bool covers_all = std::all_of(set.labels.begin(), set.labels.end(), [&](const auto& l) {
    return label_position(labels, l).has_value();
  });

  ScorerAccuracy a;
  a.scorer = scorer.name();
  if (covers_all) {
    a.columns = labels;
    a.all_texts = 0;
    a.all_correct = 0;
  } else {
    a.columns = target_names;
  }
  for (const std::string& l : set.labels) {
    if (!label_position(a.rows, l) && (covers_all || label_position(a.columns, l)))
      a.rows.push_back(l);
  }
  a.confusion.assign(a.rows.size(), std::vector<int64_t>(a.columns.size()));

  std::vector<size_t> all(labels.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  const std::vector<std::vector<double>> rows = scorer.score(set.texts);
  for (size_t t = 0; t < rows.size(); ++t) {
    const std::string& truth = set.labels[t];
    const size_t target_top = top_label(rows[t], targets);
    if (label_position(target_names, truth)) {
      ++a.target_texts;
      a.target_correct += labels[target_top] == truth;
    }
    const auto row = label_position(a.rows, truth);
    if (covers_all) {
      const size_t top = top_label(rows[t], all);
      ++*a.all_texts;
      *a.all_correct += labels[top] == truth;
      ++a.confusion[*row][top];
    } else if (row) {
      ++a.confusion[*row][*label_position(a.columns, labels[target_top])];
    }
  }
  return a;
}

std::string accuracy_text(const ScorerAccuracy& a) {
  std::ostringstream s;
  s << a.scorer << ": accuracy on the five emotions "
    << ratio_text(a.target_correct, a.target_texts);
  if (a.all_texts) {
    s << ", on every label " << ratio_text(*a.all_correct, *a.all_texts);
  } else {
    s << " (no neutral label)";
  }
  s << "\n";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%10s", "true\\top");
  s << buf;
  for (const std::string& c : a.columns) {
    std::snprintf(buf, sizeof buf, " %8s", c.c_str());
    s << buf;
  }
  s << "\n";
  for (size_t r = 0; r < a.rows.size(); ++r) {
    std::snprintf(buf, sizeof buf, "%10s", a.rows[r].c_str());
    s << buf;
    for (const int64_t n : a.confusion[r]) {
      std::snprintf(buf, sizeof buf, " %8lld", static_cast<long long>(n));
      s << buf;
    }
    s << "\n";
  }
  return s.str();
}

}  // namespace emovec::eval
