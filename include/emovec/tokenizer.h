// Tokenizers that give the same token ids as the Hugging Face reference (the `tokenizers`
// library, and transformers' conversion of GGUF tokenizer metadata): byte-level BPE (GPT-2,
// Llama-3, Qwen2, SmolLM2), SentencePiece-style BPE with byte fallback (Llama-2, Gemma) and
// WordPiece (BERT, MiniLM).
//
// Text handling that callers can rely on:
// - Input text is UTF-8. Invalid UTF-8 never throws: each maximal invalid subsequence is replaced
//   by U+FFFD before tokenizing (the "substitution of maximal subparts" rule, the same as
//   Python's bytes.decode("utf-8", "replace") and Rust's String::from_utf8_lossy).
// - encode never truncates or pads, whatever the tokenizer.json says about either.
// - decode of ids whose bytes do not form valid UTF-8 (a multi-byte character cut between
//   tokens) gives U+FFFD as the reference does; ids out of range throw Error.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace emovec {

class GgufFile;
class ModelFile;

// A token matched as a whole in the text before any other processing (tokenizer.json
// `added_tokens`, GGUF CONTROL and USER_DEFINED tokens).
struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;      // skipped by decode(skip_special); not parsed when parse_special=false
  bool single_word = false;  // only matches when not inside a word
  bool lstrip = false;       // swallows the whitespace on its left
  bool rstrip = false;       // swallows the whitespace on its right
  bool normalized = false;   // matched against the normalized text instead of the raw text
};

class Tokenizer {
 public:
  // From tokenizer.ggml.* metadata, the way transformers converts a GGUF tokenizer.
  static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& file);
  // From a Hugging Face tokenizer.json (and optionally tokenizer_config.json, which supplies the
  // BOS/EOS names and add_bos_token/add_eos_token). Paths; an empty config path means none.
  static std::unique_ptr<Tokenizer> from_json_file(const std::string& tokenizer_json,
                                                   const std::string& tokenizer_config_json = "");
  // The same from the files' text (for tests and fuzzing). Throws Error on malformed JSON.
  static std::unique_ptr<Tokenizer> from_json_string(std::string_view tokenizer_json,
                                                     std::string_view tokenizer_config_json = "");

  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;
  ~Tokenizer();

  // add_special: BOS/EOS or CLS/SEP as the model's rules say (GGUF add_bos_token/add_eos_token,
  // tokenizer.json post_processor). parse_special: special-token text in `text` becomes that
  // token; when false it is tokenized as plain text (non-special added tokens still match, as
  // in the reference).
  std::vector<int32_t> encode(std::string_view text, bool add_special = true,
                              bool parse_special = true) const;
  // Throws Error for an id outside [0, vocab_size()).
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  // The vocabulary entry of `id` as the source spells it (e.g. "Ġthe", "▁the", "##ing",
  // "<|im_start|>"). Throws Error for an id out of range.
  std::string token_text(int32_t id) const;
  // The id of an exact vocabulary entry or added token, if there is one.
  std::optional<int32_t> token_id(std::string_view token) const;
  bool is_special(int32_t id) const;
  const std::vector<AddedToken>& added_tokens() const;

  int32_t vocab_size() const;
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;
  // Whether decode(ids, skip_special) ends in "<0xHH>" byte tokens that the decoder joins with
  // the byte tokens next to them (a ByteFallback step): such a run decodes to its UTF-8 text, or
  // to U+FFFD per byte if the whole run is not valid UTF-8, so a byte token appended could
  // change how the end decodes.
  bool ends_in_byte_run(std::span<const int32_t> ids, bool skip_special) const;
  // "byte-level-bpe", "sentencepiece-bpe", "bpe" or "wordpiece".
  std::string_view kind() const;
  // The text splitting in effect: "gpt2", "llama3", "qwen2", "smollm" (digits, then gpt2),
  // "bert", "metaspace", "none", or the names of a sequence joined by '+'.
  std::string_view pre_tokenizer() const;

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Decodes a growing sequence of ids piece by piece, for streaming: the pieces push() and flush()
// return add up to decode(every id pushed, skip_special). Each push decodes only the ids since
// the last piece, anchored on the ids of that piece (a decoder may treat the first token of what
// it is given differently), so a long sequence costs linear time, not quadratic.
class DecodeStream {
 public:
  DecodeStream(const Tokenizer& tokenizer, bool skip_special);
  // Adds `id` (throws Error if out of range) and returns the text it makes final: empty while
  // the end may still change, i.e. a multi-byte character is incomplete (decoded as U+FFFD) or
  // the last id is a fallback byte that a following one could join.
  std::string push(int32_t id);
  // Once the sequence has ended: the text held back (as decode gives it), then nothing.
  std::string flush();
  const std::vector<int32_t>& ids() const { return ids_; }

 private:
  std::string pending() const;

  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::vector<int32_t> ids_;
  // The last piece came from ids [window_begin_, window_end_), which decode to window_text_.
  size_t window_begin_ = 0;
  size_t window_end_ = 0;
  std::string window_text_;
  size_t released_ = 0;  // bytes given out
};

// GGUF model: from_gguf(*model.gguf()). Hugging Face folder: tokenizer.json (with
// tokenizer_config.json when present) in model.folder(). Throws Error naming what is missing.
std::unique_ptr<Tokenizer> load_tokenizer(const ModelFile& model);

}  // namespace emovec
