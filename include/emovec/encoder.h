// Sentence embeddings from a BERT-family encoder (all-MiniLM-L6-v2 and its kin), as
// sentence-transformers computes them: tokenize ([CLS] ... [SEP]), truncate to max_seq_length,
// run the encoder, mean-pool the token states, and L2-normalise when the model asks for it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace emovec {

class ModelFile;
class Tokenizer;

struct SentenceEncoderOptions {
  // Threads for the matrix products (OpenBLAS) and the attention; 0 keeps OpenBLAS's own setting
  // (OPENBLAS_NUM_THREADS, else every core). OpenBLAS's thread count is process-wide, so a
  // non-zero value here also sets it for the rest of the process.
  int n_threads = 0;
  // Tokens per text, [CLS] and [SEP] included; longer texts are cut. 0: what the folder says
  // (sentence_bert_config.json max_seq_length), else config.json max_position_embeddings.
  int64_t max_seq_length = 0;
};

// How the sentence-transformers files in a model folder configure the pipeline. A folder without
// them gets sentence-transformers' own defaults for a plain transformers model: mean pooling, no
// normalisation, max_seq_length = max_position_embeddings.
struct SentencePipeline {
  int64_t max_seq_length = 0;  // tokens, [CLS] and [SEP] included
  bool normalize = false;      // modules.json lists a sentence_transformers.models.Normalize
};

class SentenceEncoder {
 public:
  // From a model of architecture "bert" (a Hugging Face folder: config.json, *.safetensors with
  // the BertModel tensor names, tokenizer.json). Weights in F32, F16 or BF16 are widened to
  // float32 at load. Throws Error for another architecture, a missing tensor or one of the wrong
  // shape (naming the tensor and the expected shape), or a pipeline emovec does not implement
  // (pooling other than mean, a hidden_act other than GELU).
  explicit SentenceEncoder(const ModelFile& model, SentenceEncoderOptions options = {});
  ~SentenceEncoder();
  SentenceEncoder(const SentenceEncoder&) = delete;
  SentenceEncoder& operator=(const SentenceEncoder&) = delete;
  SentenceEncoder(SentenceEncoder&&) noexcept;
  SentenceEncoder& operator=(SentenceEncoder&&) noexcept;

  // One embedding of dimension() floats per text, in order. An empty list gives an empty result;
  // an empty string is encoded as [CLS] [SEP], as sentence-transformers does. Texts are run in
  // batches without padding, so a text's embedding does not depend on its neighbours. Calls from
  // several threads on one encoder are safe; they take turns.
  std::vector<std::vector<float>> encode(const std::vector<std::string>& texts) const;
  // encode() of one text.
  std::vector<float> encode_one(std::string_view text) const;

  // The token ids the encoder runs on for `text`: the tokenizer's ids with [CLS]/[SEP], cut to
  // max_seq_length() (keeping the final [SEP]).
  std::vector<int32_t> token_ids(std::string_view text) const;

  int64_t dimension() const;
  const SentencePipeline& pipeline() const;
  const Tokenizer& tokenizer() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Reads the sentence-transformers files of a model folder (modules.json,
// sentence_bert_config.json, the pooling module's config.json). `max_position_embeddings` caps
// max_seq_length. Throws Error for malformed files or a pipeline emovec does not implement.
SentencePipeline read_sentence_pipeline(const std::string& folder, int64_t max_position_embeddings);

}  // namespace emovec
