// SequenceClassifier: RoBERTa's pair encoding and truncation as transformers' tokenizer does
// them, the shared BERT-family forward pass, then RobertaClassificationHead on the first token.
#include "emovec/sequence_classifier.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "emovec/error.h"
#include "emovec/model_file.h"
#include "emovec/tokenizer.h"
#include "encoder/bert_model.h"
#include "encoder/encoder_runner.h"
#include "encoder/special_tokens.h"
#include "format/text_file.h"

namespace emovec {
namespace {

using nlohmann::json;

constexpr const char* kClient = "the sequence classifier";
constexpr const char* kArchitecture = "RobertaForSequenceClassification";
// <s> A </s></s> B </s>
constexpr int64_t kPairSpecials = 4;

std::string architectures_text(const json& config) {
  const auto it = config.find("architectures");
  return it == config.end() ? std::string("none") : it->dump();
}

bool lists_architecture(const json& config, const char* name) {
  const auto it = config.find("architectures");
  if (it == config.end() || !it->is_array()) return false;
  return std::any_of(it->begin(), it->end(), [&](const json& a) { return a == name; });
}

// Refuses models that are not RoBERTa classifiers before their tensors are read, so that the
// message says what kind of model was given rather than which tensor is missing.
void check_kind(const ModelFile& model, const json& config) {
  const std::string& arch = model.config().architecture;
  if (model.format() != ModelFormat::HuggingFace) {
    throw Error(model.path() + ": " + kClient + " runs Hugging Face " + kArchitecture +
                " folders (config.json, model.safetensors, tokenizer.json); this is a GGUF \"" +
                arch + "\" model");
  }
  const bool declared = config.contains("architectures");
  if (arch == "roberta" && (!declared || lists_architecture(config, kArchitecture))) return;
  throw Error(model.path() + ": not a model " + kClient + " can run (architecture \"" + arch +
              "\", config.json architectures " + architectures_text(config) +
              "); it runs Hugging Face " + kArchitecture +
              " models (config.json model_type \"roberta\"), e.g. an MNLI model such as "
              "roberta-large-mnli");
}

// config.json id2label as a list by id: {"0": "CONTRADICTION", "1": "NEUTRAL", ...}.
std::vector<std::string> read_labels(const ModelFile& model, const json& config) {
  const auto it = config.find("id2label");
  if (it == config.end() || !it->is_object() || it->empty()) {
    throw Error(model.path() + ": config.json has no id2label naming the classifier's classes");
  }
  std::vector<std::string> labels(it->size());
  std::vector<bool> seen(it->size(), false);
  for (const auto& [key, value] : it->items()) {
    size_t id = 0;
    size_t used = 0;
    try {
      id = std::stoul(key, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != key.size() || id >= labels.size() || seen[id] || !value.is_string()) {
      throw Error(model.path() + ": config.json id2label " + it->dump() +
                  " is not a map from the ids 0.." + std::to_string(labels.size() - 1) +
                  " to label names");
    }
    seen[id] = true;
    labels[id] = value.get<std::string>();
  }
  return labels;
}

// tokenizer_config.json model_max_length, the length transformers' tokenizer truncates to; 0
// when the folder does not say (transformers then uses a huge sentinel).
int64_t tokenizer_max_length(const ModelFile& model) {
  const std::filesystem::path path =
      std::filesystem::path(model.folder()) / "tokenizer_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return 0;
  const json config = read_json_file(path);
  const auto it = config.is_object() ? config.find("model_max_length") : config.end();
  if (it == config.end() || !it->is_number() || it->get<double>() < 1) return 0;
  const double value = it->get<double>();
  return value >= 9e18 ? 0 : static_cast<int64_t>(value);
}

}  // namespace

struct SequenceClassifier::Impl {
  encoder::BertWeights weights;
  encoder::ClassificationHead head;
  std::vector<std::string> labels;
  std::unique_ptr<Tokenizer> tokenizer;
  int32_t cls = 0;  // <s>
  int32_t sep = 0;  // </s>
  int64_t max_length = 0;
  std::unique_ptr<encoder::EncoderRunner> runner;
};

SequenceClassifier::SequenceClassifier(const ModelFile& model, SequenceClassifierOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  const json config = model.metadata_summary();
  check_kind(model, config);
  m.labels = read_labels(model, config);
  m.weights = encoder::load_roberta_weights(model, kClient);
  m.head =
      encoder::load_classification_head(model, m.weights.hp, static_cast<int64_t>(m.labels.size()));
  m.tokenizer = load_tokenizer(model);
  if (m.tokenizer->vocab_size() > m.weights.hp.n_vocab) {
    throw Error(model.path() + ": the tokenizer has " + std::to_string(m.tokenizer->vocab_size()) +
                " tokens but config.json vocab_size is " + std::to_string(m.weights.hp.n_vocab));
  }
  const encoder::SpecialTokens specials = encoder::special_tokens_around_text(*m.tokenizer);
  if (specials.prefix.size() != 1 || specials.suffix.size() != 1) {
    throw Error(model.path() + ": tokenizer.json puts " + std::to_string(specials.prefix.size()) +
                " special tokens before a text and " + std::to_string(specials.suffix.size()) +
                " after it; a RoBERTa classifier needs one of each (<s> ... </s>, "
                "RobertaProcessing)");
  }
  m.cls = specials.prefix.front();
  m.sep = specials.suffix.front();

  const int64_t positions = m.weights.hp.max_tokens();
  if (options.max_length != 0) {
    if (options.max_length <= kPairSpecials || options.max_length > positions) {
      throw Error(model.path() + ": max_length " + std::to_string(options.max_length) +
                  " is outside [" + std::to_string(kPairSpecials + 1) + ", " +
                  std::to_string(positions) + "] (a pair's 4 special tokens, the model's " +
                  "positions)");
    }
    m.max_length = options.max_length;
  } else {
    const int64_t from_tokenizer = tokenizer_max_length(model);
    m.max_length = from_tokenizer > 0 ? std::min(from_tokenizer, positions) : positions;
    if (m.max_length <= kPairSpecials) {
      throw Error(model.path() + ": tokenizer_config.json model_max_length " +
                  std::to_string(m.max_length) + " leaves no room for a pair of texts");
    }
  }
  m.runner = std::make_unique<encoder::EncoderRunner>(options.n_threads, "sequence classifier");
}

SequenceClassifier::~SequenceClassifier() = default;
SequenceClassifier::SequenceClassifier(SequenceClassifier&&) noexcept = default;
SequenceClassifier& SequenceClassifier::operator=(SequenceClassifier&&) noexcept = default;

std::vector<int32_t> SequenceClassifier::token_ids(std::string_view first,
                                                   std::string_view second) const {
  const Impl& m = *impl_;
  std::vector<int32_t> a = m.tokenizer->encode(first, false);
  const std::vector<int32_t> b = m.tokenizer->encode(second, false);
  const int64_t total = static_cast<int64_t>(a.size() + b.size()) + kPairSpecials;
  // tokenizers' "only_first" truncation keeps at least one token of the first text; where that
  // is not enough it fails, and the zero-shot pipeline then runs the pair uncut.
  const int64_t excess = total - m.max_length;
  if (excess > 0 && static_cast<int64_t>(a.size()) > excess) {
    a.resize(a.size() - static_cast<size_t>(excess));
  }
  std::vector<int32_t> ids;
  ids.reserve(a.size() + b.size() + kPairSpecials);
  ids.push_back(m.cls);
  ids.insert(ids.end(), a.begin(), a.end());
  ids.push_back(m.sep);
  ids.push_back(m.sep);
  ids.insert(ids.end(), b.begin(), b.end());
  ids.push_back(m.sep);
  if (static_cast<int64_t>(ids.size()) > m.weights.hp.max_tokens()) {
    throw Error("sequence classifier: a pair of " + std::to_string(ids.size()) +
                " tokens (its second text alone has " + std::to_string(b.size()) +
                ") is longer than the model's " + std::to_string(m.weights.hp.max_tokens()) +
                " positions, and cutting its first text cannot make it fit");
  }
  for (int32_t id : ids) {
    if (id < 0 || id >= m.weights.hp.n_vocab) {
      throw Error("sequence classifier: token id " + std::to_string(id) +
                  " is outside the model's vocabulary of " + std::to_string(m.weights.hp.n_vocab));
    }
  }
  return ids;
}

std::vector<std::vector<float>> SequenceClassifier::logits(std::span<const TextPair> pairs) const {
  std::vector<std::vector<int32_t>> sequences;
  sequences.reserve(pairs.size());
  for (const TextPair& pair : pairs) sequences.push_back(token_ids(pair.first, pair.second));

  Impl& m = *impl_;
  const auto n_labels = static_cast<int64_t>(m.labels.size());
  std::vector<std::vector<float>> out;
  out.reserve(pairs.size());
  m.runner->run(m.weights, sequences,
                [&](std::span<const std::vector<int32_t>> batch, const std::vector<float>& hidden) {
                  const std::vector<float> rows =
                      encoder::classify_first_tokens(m.head, hidden, batch);
                  for (size_t s = 0; s < batch.size(); ++s) {
                    const auto row = rows.begin() + static_cast<int64_t>(s) * n_labels;
                    out.emplace_back(row, row + n_labels);
                  }
                });
  return out;
}

std::vector<float> SequenceClassifier::logits(std::string_view first,
                                              std::string_view second) const {
  const TextPair pair{first, second};
  return std::move(logits(std::span<const TextPair>(&pair, 1)).front());
}

const std::vector<std::string>& SequenceClassifier::labels() const { return impl_->labels; }
int64_t SequenceClassifier::max_length() const { return impl_->max_length; }
const Tokenizer& SequenceClassifier::tokenizer() const { return *impl_->tokenizer; }

}  // namespace emovec
