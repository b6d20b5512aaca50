#include "eval/nade_scorer.h"

#include <fasttext/fasttext.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "chat/unicode.h"
#include "emovec/error.h"
#include "emovec/nade.h"
#include "eval/lightgbm_model.h"
#include "format/text_file.h"
#include "tokenizer/unicode.h"

namespace emovec {
namespace {

const std::vector<std::string>& plutchik_labels() {
  static const std::vector<std::string> labels = {"anger", "anticipation", "disgust",  "fear",
                                                  "joy",   "sadness",      "surprise", "trust"};
  return labels;
}

constexpr std::string_view kLabelPrefix = "__label__";

// RE2's \s, which nade's pyarrow regexes use: ASCII only, and without \v.
bool is_re2_space(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

// utf8proc's simple lower-case mapping, which pyarrow's utf8_lower applies per code point. The
// tables hold the full mapping; the one code point whose full mapping is longer (U+0130 to
// U+0069 U+0307) has the first of those as its simple mapping.
char32_t simple_lowercase(char32_t c) {
  std::u32string lowered;
  tok::append_lowercase(lowered, c);
  return lowered.empty() ? c : lowered.front();
}

}  // namespace

namespace eval {

double arrow_round(double value, int ndigits) {
  static constexpr double kPow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  if (!std::isfinite(value)) return value;
  const double pow10 = kPow10[std::clamp(ndigits, 0, 15)];
  double scaled = value * pow10;
  const double frac = scaled - std::floor(scaled);
  if (frac == 0) return value;
  if (frac != 0.5) {
    scaled = std::round(scaled);
  } else {
    const double down = std::floor(scaled);
    scaled = std::fmod(down, 2.0) == 0 ? down : down + 1;
  }
  return ndigits > 0 ? scaled / pow10 : scaled * pow10;
}

double nade_clip(double value) {
  if (value > 1.0) return 1.0;
  if (value < 0.0) return 0.0;
  return value;
}

}  // namespace eval

struct NadeScorer::Impl {
  fasttext::FastText classifier;
  int32_t n_labels = 0;
  // The classifier's label text -> position in the probability vector (ascending label id).
  std::unordered_map<std::string, size_t> position;
  std::vector<std::string> emojis;
  std::vector<eval::LightGbmModel> regressors;

  void load_classifier(const std::filesystem::path& path);
  void load_emojis(const std::filesystem::path& path, const std::vector<int>& label_ids);
};

void NadeScorer::Impl::load_classifier(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error("nade: the emoji classifier " + path.string() + " is missing");
  }
  try {
    classifier.loadModel(path.string());
  } catch (const std::exception& e) {
    throw Error("nade: cannot load the fastText classifier " + path.string() + ": " + e.what());
  }
  const auto dict = classifier.getDictionary();
  n_labels = dict->nlabels();
  if (n_labels <= 0) throw Error("nade: the classifier " + path.string() + " has no labels");
}

void NadeScorer::Impl::load_emojis(const std::filesystem::path& path,
                                   const std::vector<int>& label_ids) {
  std::unordered_map<int, std::string> by_id;
  size_t line_no = 0;
  for (const std::string& line : text_lines(read_text_file(path, "nade:"))) {
    ++line_no;
    if (line.empty()) continue;
    try {
      const auto entry = nlohmann::json::parse(line);
      by_id[entry.at("hash").get<int>()] = entry.at("emoji").get<std::string>();
    } catch (const nlohmann::json::exception& e) {
      throw Error("nade: " + path.string() + ", line " + std::to_string(line_no) + ": " + e.what());
    }
  }
  if (by_id.size() != label_ids.size()) {
    throw Error("nade: " + path.string() + " lists " + std::to_string(by_id.size()) +
                " emojis, the classifier has " + std::to_string(label_ids.size()) + " labels");
  }
  for (const int id : label_ids) {
    const auto it = by_id.find(id);
    if (it == by_id.end()) {
      throw Error("nade: " + path.string() + " has no emoji for label " + std::to_string(id));
    }
    emojis.push_back(it->second);
  }
}

NadeScorer::NadeScorer(const std::string& data_dir) : impl_(std::make_unique<Impl>()) {
  const std::filesystem::path dir(data_dir);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw Error("nade: " + data_dir + " is not a folder (expected the nade-socialmedia-en data)");
  }
  impl_->load_classifier(dir / "nade_250k_hp.ftz");

  // nade orders the probabilities by label id: labels are "__label__<id>".
  const auto dict = impl_->classifier.getDictionary();
  std::vector<std::pair<int, std::string>> labels;
  for (int32_t i = 0; i < impl_->n_labels; ++i) {
    const std::string label = dict->getLabel(i);
    int id = 0;
    const char* first = label.data() + std::min(label.size(), kLabelPrefix.size());
    const char* last = label.data() + label.size();
    const auto [ptr, err] = std::from_chars(first, last, id);
    if (label.rfind(kLabelPrefix, 0) != 0 || err != std::errc() || ptr != last || first == last) {
      throw Error("nade: classifier label '" + label + "' is not __label__<number>");
    }
    labels.emplace_back(id, label);
  }
  std::sort(labels.begin(), labels.end());
  std::vector<int> label_ids;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0 && labels[i].first == labels[i - 1].first) {
      throw Error("nade: the classifier has label id " + std::to_string(labels[i].first) +
                  " twice");
    }
    impl_->position.emplace(labels[i].second, i);
    label_ids.push_back(labels[i].first);
  }
  impl_->load_emojis(dir / "emoji_frequencies.jsonl", label_ids);

  for (const std::string& emotion : plutchik_labels()) {
    const std::filesystem::path path = dir / ("reg_" + emotion + ".txt");
    impl_->regressors.push_back(eval::LightGbmModel::load(path.string()));
    if (impl_->regressors.back().num_features() != labels.size()) {
      throw Error("nade: " + path.string() + " takes " +
                  std::to_string(impl_->regressors.back().num_features()) +
                  " features, the classifier gives " + std::to_string(labels.size()));
    }
  }
}

NadeScorer::~NadeScorer() = default;

const std::vector<std::string>& NadeScorer::labels() const { return plutchik_labels(); }

const std::vector<std::string>& NadeScorer::emojis() const { return impl_->emojis; }

std::string NadeScorer::preprocess(std::string_view text) {
  const std::u32string in = tok::decode_utf8(text);
  const size_t n = in.size();

  // \s*([\p{P}]+)\s* -> " \1 ", matched leftmost and greedy as RE2's GlobalReplace does: a match
  // starts wherever ASCII whitespace (possibly none) runs into punctuation.
  std::u32string spaced;
  spaced.reserve(n + n / 4);
  for (size_t i = 0; i < n;) {
    size_t p = i;
    while (p < n && is_re2_space(in[p])) ++p;
    size_t q = p;
    while (q < n && tok::is_punctuation(in[q])) ++q;
    if (q > p) {
      size_t end = q;
      while (end < n && is_re2_space(in[end])) ++end;
      spaced += U' ';
      spaced.append(in, p, q - p);
      spaced += U' ';
      i = end;
    } else {
      const size_t next = std::min(p + 1, n);
      spaced.append(in, i, next - i);
      i = next;
    }
  }

  // \s+ -> " ", then lower case.
  std::u32string collapsed;
  collapsed.reserve(spaced.size());
  for (size_t i = 0; i < spaced.size();) {
    if (is_re2_space(spaced[i])) {
      while (i < spaced.size() && is_re2_space(spaced[i])) ++i;
      collapsed += U' ';
    } else {
      collapsed += simple_lowercase(spaced[i++]);
    }
  }

  // utf8_trim_whitespace trims what Python's str.isspace() calls whitespace.
  size_t begin = 0, end = collapsed.size();
  while (begin < end && chat::is_py_space(collapsed[begin])) ++begin;
  while (end > begin && chat::is_py_space(collapsed[end - 1])) --end;
  return tok::to_utf8(std::u32string_view(collapsed).substr(begin, end - begin));
}

std::vector<double> NadeScorer::emoji_probabilities(std::string_view text) const {
  // As fastText's Python predict(): one line, ended by "\n" (which fastText reads as </s>), all
  // labels (k = number of labels) above probability 0.
  std::istringstream line(preprocess(text) + "\n");
  std::vector<std::pair<fasttext::real, std::string>> predictions;
  impl_->classifier.predictLine(line, predictions, impl_->n_labels, 0.0f);
  if (predictions.size() != static_cast<size_t>(impl_->n_labels)) {
    throw Error("nade: the classifier gave " + std::to_string(predictions.size()) + " of " +
                std::to_string(impl_->n_labels) + " emoji probabilities");
  }
  std::vector<double> probabilities(predictions.size(), std::numeric_limits<double>::quiet_NaN());
  for (const auto& [p, label] : predictions) {
    probabilities[impl_->position.at(label)] = static_cast<double>(p);
  }
  return probabilities;
}

NadeScores NadeScorer::score_one(std::string_view text) const {
  const std::vector<double> probabilities = emoji_probabilities(text);
  NadeScores scores;
  for (size_t k = 0; k < kNadeEmotionCount; ++k) {
    scores.value[k] = eval::nade_clip(impl_->regressors[k].predict(probabilities));
    scores.rounded[k] = eval::arrow_round(scores.value[k], 3);
  }
  return scores;
}

std::vector<std::vector<double>> NadeScorer::score(std::span<const std::string> texts) {
  std::vector<std::vector<double>> rows;
  rows.reserve(texts.size());
  for (const std::string& text : texts) {
    const NadeScores s = score_one(text);
    rows.emplace_back(s.rounded.begin(), s.rounded.end());
  }
  return rows;
}

}  // namespace emovec
