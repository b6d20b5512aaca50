// Tokenizer from GGUF tokenizer.ggml.* metadata, assembled the way transformers converts it
// (transformers/integrations/gguf/gguf_tokenizer_mapping.py, which is the reference the golden
// tests compare against).
//
// Where transformers and llama.cpp read the same file differently, this follows transformers:
// - "smollm" (SmolLM2): llama.cpp splits digits one by one before the GPT-2 regex, as SmolLM2's
//   own tokenizer.json does (Digits(individual_digits) + ByteLevel). transformers' GGUF mapping
//   has no entry for "smollm" and uses the plain GPT-2 byte-level regex, so a run of spaces
//   before a digit ("a  1") splits differently. The vocabulary has no merges that join digits,
//   so digit runs themselves come out the same either way.
// - Gemma: llama.cpp's SentencePiece tokenizer merges by the file's scores; transformers rebuilds
//   BPE merges ordered by the tokens' position in the file (Gemma's scores do not follow its
//   merge order) and spells all-space tokens with U+2581.
#include <cstdio>
#include <unordered_set>

#include "emovec/error.h"
#include "emovec/gguf.h"
#include "emovec/model_file.h"
#include "emovec/tokenizer.h"
#include "tokenizer/load_common.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace emovec {
namespace {

constexpr int32_t kTypeControl = 3;             // llama.cpp LLAMA_TOKEN_TYPE_CONTROL
constexpr int32_t kTypeUserDefined = 4;         // LLAMA_TOKEN_TYPE_USER_DEFINED
const std::string kMetaSpace = "\xE2\x96\x81";  // U+2581

[[noreturn]] void fail(const std::string& what) { throw Error("GGUF tokenizer: " + what); }

std::optional<std::vector<std::string>> strings(const GgufFile& f, const char* key) {
  const GgufValue* v = f.find(key);
  if (!v) return std::nullopt;
  try {
    return v->as_string_array();
  } catch (const Error& e) {
    fail(std::string(key) + ": " + e.what());
  }
}

std::optional<int32_t> gguf_token_id(const GgufFile& f, const char* key, size_t n_tokens) {
  const GgufValue* v = f.find(key);
  if (!v) return std::nullopt;
  int64_t id = 0;
  try {
    id = v->as_int();
  } catch (const Error& e) {
    fail(std::string(key) + ": " + e.what());
  }
  if (id < 0 || static_cast<uint64_t>(id) >= n_tokens) {
    fail(std::string(key) + " = " + std::to_string(id) + " is outside the vocabulary of " +
         std::to_string(n_tokens) + " tokens");
  }
  return static_cast<int32_t>(id);
}

std::optional<bool> flag(const GgufFile& f, const char* key) {
  const GgufValue* v = f.find(key);
  if (!v) return std::nullopt;
  try {
    return v->as_bool();
  } catch (const Error& e) {
    fail(std::string(key) + ": " + e.what());
  }
}

// transformers' GGUF_PRE_TOKENIZER_SPLITS: the tokenizer.ggml.pre values that get a Split
// regex. Every other value keeps GPT2Tokenizer's byte-level GPT-2 regex.
std::optional<tok::SplitRegex> split_regex_for(const std::string& pre) {
  static const std::unordered_set<std::string> llama3 = {
      "llama3",   "llama-v3", "llama-bpe",    "falcon3", "falcon-h1", "pixtral",
      "midm-2.0", "lfm2",     "jina-v5-nano", "dbrx",    "smaug-bpe"};
  static const std::unordered_set<std::string> qwen2 = {"qwen2", "deepseek-r1-qwen", "kormo",
                                                        "f2llmv2", "megrez"};
  static const std::unordered_set<std::string> unsupported = {
      "tekken", "qwen35", "gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"};
  if (llama3.count(pre)) return tok::SplitRegex::Llama3;
  if (qwen2.count(pre)) return tok::SplitRegex::Qwen2;
  if (unsupported.count(pre)) {
    fail("tokenizer.ggml.pre '" + pre +
         "' uses a split regex that is not implemented (supported: the GPT-2, Llama-3 and "
         "Qwen2 families)");
  }
  return std::nullopt;
}

// Python's str.isspace (White_Space plus U+001C..U+001F), which transformers' str.strip()
// uses to recognise Gemma's all-space tokens.
bool is_python_space(char32_t c) { return tok::is_whitespace(c) || (c >= 0x1C && c <= 0x1F); }

void add_special_tokens(Tokenizer::Impl& impl, const std::vector<std::string>& tokens,
                        const std::vector<int32_t>& types, bool byte_level) {
  std::unordered_set<std::string> seen;
  // CONTROL tokens become special added tokens. In a byte-level vocabulary a control token
  // spelled outside the byte alphabet is a llama.cpp mislabel and is skipped, as transformers
  // does.
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] != kTypeControl) continue;
    const std::string& t = tokens[i];
    if (t.empty() || seen.count(t)) continue;
    if (byte_level) {
      bool in_alphabet = true;
      for (char32_t c : tok::decode_utf8(t))
        in_alphabet = in_alphabet && tok::unicode_to_byte(c) >= 0;
      if (!in_alphabet || !tok::is_valid_utf8(t)) continue;
    }
    auto id = impl.lookup(t);
    if (!id) continue;
    AddedToken a;
    a.id = *id;
    a.content = t;
    a.special = true;
    impl.added.push_back(std::move(a));
    seen.insert(t);
  }
  // USER_DEFINED tokens (like "<think>", or Gemma's runs of newlines) are matched whole in the
  // text too, as plain added tokens, when the vocabulary holds them under that spelling.
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] != kTypeUserDefined) continue;
    const std::string& t = tokens[i];
    if (t.empty() || seen.count(t) || !tok::is_valid_utf8(t)) continue;
    auto id = impl.lookup(t);
    if (!id) continue;
    AddedToken a;
    a.id = *id;
    a.content = t;
    impl.added.push_back(std::move(a));
    seen.insert(t);
  }
}

void set_vocab(Tokenizer::Impl& impl, std::vector<std::string> spelled,
               const std::vector<std::string>& original) {
  bool respelled = false;
  for (size_t i = 0; i < spelled.size(); ++i) respelled = respelled || spelled[i] != original[i];
  if (respelled) {
    impl.display.resize(spelled.size());
    for (size_t i = 0; i < spelled.size(); ++i) {
      if (spelled[i] != original[i]) impl.display[i] = original[i];
    }
  }
  impl.token_to_id.reserve(spelled.size());
  for (size_t i = 0; i < spelled.size(); ++i)
    impl.token_to_id[spelled[i]] = static_cast<int32_t>(i);
  impl.vocab = std::move(spelled);
}

void add_merges(Tokenizer::Impl& impl, const std::vector<std::string>& merges) {
  impl.bpe.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& m = merges[i];
    const size_t space = m.find(' ');
    if (space == std::string::npos || m.find(' ', space + 1) != std::string::npos) {
      fail("tokenizer.ggml.merges[" + std::to_string(i) + "] '" + m +
           "' is not two tokens separated by one space");
    }
    tok::add_merge(impl, std::string_view(m).substr(0, space),
                   std::string_view(m).substr(space + 1), 0, static_cast<uint32_t>(i),
                   "GGUF tokenizer.ggml.merges");
  }
}

void set_post_processor(Tokenizer::Impl& impl, bool add_bos, bool add_eos) {
  if (add_bos && impl.bos) impl.prefix_ids.push_back(*impl.bos);
  if (add_eos && impl.eos) impl.suffix_ids.push_back(*impl.eos);
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& file) {
  const GgufValue* model_value = file.find("tokenizer.ggml.model");
  if (!model_value) fail("the file has no tokenizer.ggml.model, so it carries no tokenizer");
  if (!model_value->is_string()) fail("tokenizer.ggml.model is not a string");
  const std::string model = model_value->as_string();

  auto tokens_opt = strings(file, "tokenizer.ggml.tokens");
  if (!tokens_opt) fail("tokenizer.ggml.tokens is missing");
  const std::vector<std::string> tokens = std::move(*tokens_opt);
  if (tokens.empty()) fail("tokenizer.ggml.tokens is empty");
  if (static_cast<int64_t>(tokens.size()) > tok::kMaxTokenId) {
    fail("tokenizer.ggml.tokens has " + std::to_string(tokens.size()) + " entries, too many");
  }
  const size_t n = tokens.size();

  std::vector<int32_t> types;
  if (const GgufValue* v = file.find("tokenizer.ggml.token_type")) {
    try {
      types = v->as_int32_array();
    } catch (const Error& e) {
      fail(std::string("tokenizer.ggml.token_type: ") + e.what());
    }
    if (types.size() != n) {
      fail("tokenizer.ggml.token_type has " + std::to_string(types.size()) + " entries for " +
           std::to_string(n) + " tokens");
    }
  }
  std::vector<float> scores;
  if (const GgufValue* v = file.find("tokenizer.ggml.scores")) {
    try {
      scores = v->as_float_array();
    } catch (const Error& e) {
      fail(std::string("tokenizer.ggml.scores: ") + e.what());
    }
    if (scores.size() != n) {
      fail("tokenizer.ggml.scores has " + std::to_string(scores.size()) + " entries for " +
           std::to_string(n) + " tokens");
    }
  }
  const auto merges = strings(file, "tokenizer.ggml.merges");
  std::string pre;
  if (const GgufValue* v = file.find("tokenizer.ggml.pre"); v && v->is_string())
    pre = v->as_string();
  std::string arch;
  if (const GgufValue* v = file.find("general.architecture"); v && v->is_string()) {
    arch = v->as_string();
  }

  auto impl = std::make_unique<Impl>();
  impl->bos = gguf_token_id(file, "tokenizer.ggml.bos_token_id", n);
  impl->eos = gguf_token_id(file, "tokenizer.ggml.eos_token_id", n);
  gguf_token_id(file, "tokenizer.ggml.unknown_token_id", n);  // validated; the model uses "<unk>"
  const std::optional<bool> add_bos = flag(file, "tokenizer.ggml.add_bos_token");
  const std::optional<bool> add_eos = flag(file, "tokenizer.ggml.add_eos_token");
  impl->has_decoder = true;

  using PK = tok::PreTokenizerStep::Kind;
  using DK = tok::DecoderStep::Kind;
  using NK = tok::NormalizerStep::Kind;

  if (model == "gpt2") {
    // Byte-level BPE (GPT2Tokenizer). Tokens written outside the byte alphabet are respelled
    // through it, as transformers does.
    std::vector<std::string> spelled(n);
    for (size_t i = 0; i < n; ++i) {
      bool in_alphabet = tok::is_valid_utf8(tokens[i]);
      for (char32_t c : tok::decode_utf8(tokens[i]))
        in_alphabet = in_alphabet && tok::unicode_to_byte(c) >= 0;
      spelled[i] = in_alphabet ? tokens[i] : tok::byte_level_encode(tokens[i]);
    }
    set_vocab(*impl, std::move(spelled), tokens);
    if (!merges) fail("a byte-level (gpt2) tokenizer needs tokenizer.ggml.merges");
    add_merges(*impl, *merges);
    tok::PreTokenizerStep byte_level;
    byte_level.kind = PK::ByteLevel;
    byte_level.add_prefix_space = false;
    if (auto regex = split_regex_for(pre)) {
      tok::PreTokenizerStep split;
      split.kind = PK::SplitRegex;
      split.regex = *regex;
      split.behavior = tok::SplitBehavior::Isolated;
      impl->pre_tokenizer.push_back(split);
      byte_level.use_regex = false;
    } else {
      byte_level.use_regex = true;  // GPT-2 regex, also for "smollm" (see the note above)
    }
    impl->pre_tokenizer.push_back(byte_level);
    tok::DecoderStep d;
    d.kind = DK::ByteLevel;
    impl->decoder.push_back(d);
    add_special_tokens(*impl, tokens, types, /*byte_level=*/true);
    set_post_processor(*impl, add_bos.value_or(false), add_eos.value_or(false));
  } else if (model == "llama") {
    // SentencePiece vocabulary run as BPE with byte fallback.
    const bool gemma = arch == "gemma" || arch == "gemma2" || arch == "gemma3";
    const bool phi3 = arch == "phi3";
    std::vector<std::string> spelled = tokens;
    if (gemma) {
      // Tokens of two or more spaces are stored as spaces but matched as U+2581 runs.
      for (std::string& t : spelled) {
        const std::u32string cps = tok::decode_utf8(t);
        bool has_space = false, all_space = !cps.empty();
        for (char32_t c : cps) {
          has_space = has_space || c == U' ';
          all_space = all_space && is_python_space(c);
        }
        if (has_space && all_space) {
          std::string r;
          for (size_t k = 0; k < cps.size(); ++k) r += kMetaSpace;
          t = std::move(r);
        }
      }
    }
    set_vocab(*impl, std::move(spelled), tokens);
    tok::BpeModel& bpe = impl->bpe;
    bpe.byte_fallback = true;
    bpe.fuse_unk = true;
    bpe.unk_id = impl->lookup("<unk>");
    if (merges && !gemma) {
      add_merges(*impl, *merges);
    } else {
      // No merges in the file: any two tokens whose concatenation is a token merge, best
      // first. Gemma orders them by position in the file, others by score.
      bpe.merges_from_scores = true;
      bpe.scores.resize(n);
      if (gemma) {
        for (size_t i = 0; i < n; ++i) bpe.scores[i] = -static_cast<float>(i);
      } else {
        if (scores.empty()) fail("a llama tokenizer needs tokenizer.ggml.scores or merges");
        bpe.scores = scores;
      }
    }
    bool prefix_space = true;
    if (gemma) {
      tok::NormalizerStep replace;
      replace.kind = NK::Replace;
      replace.pattern = " ";
      replace.content = kMetaSpace;
      impl->normalizer.push_back(replace);
      prefix_space = false;
    } else if (phi3) {
      tok::NormalizerStep prepend;
      prepend.kind = NK::Prepend;
      prepend.content = kMetaSpace;
      tok::NormalizerStep replace;
      replace.kind = NK::Replace;
      replace.pattern = " ";
      replace.content = kMetaSpace;
      impl->normalizer.push_back(prepend);
      impl->normalizer.push_back(replace);
    } else {
      // transformers' LlamaTokenizer: Metaspace with a prefix space on the first piece. A file
      // that says add_space_prefix = false gets none, as llama.cpp reads it.
      prefix_space = flag(file, "tokenizer.ggml.add_space_prefix").value_or(true);
      tok::PreTokenizerStep meta;
      meta.kind = PK::Metaspace;
      meta.replacement = kMetaSpace;
      meta.prepend_scheme = prefix_space ? tok::PrependScheme::First : tok::PrependScheme::Never;
      meta.split = false;
      impl->pre_tokenizer.push_back(meta);
    }
    tok::DecoderStep replace;
    replace.kind = DK::Replace;
    replace.pattern = kMetaSpace;
    replace.content = " ";
    impl->decoder.push_back(replace);
    tok::DecoderStep fallback;
    fallback.kind = DK::ByteFallback;
    impl->decoder.push_back(fallback);
    tok::DecoderStep fuse;
    fuse.kind = DK::Fuse;
    impl->decoder.push_back(fuse);
    if (prefix_space && !gemma) {
      tok::DecoderStep strip;
      strip.kind = DK::Strip;
      strip.content = " ";
      strip.strip_start = 1;
      impl->decoder.push_back(strip);
    }
    add_special_tokens(*impl, tokens, types, /*byte_level=*/false);
    // transformers, like llama.cpp, adds BOS to a SentencePiece vocabulary unless told not to.
    set_post_processor(*impl, add_bos.value_or(true), add_eos.value_or(false));
  } else {
    fail("tokenizer.ggml.model '" + model +
         "' is not supported (supported: gpt2 = byte-level BPE, llama = SentencePiece BPE); "
         "use the model's Hugging Face folder with its tokenizer.json instead");
  }
  tok::describe(*impl);
  if (model == "llama") impl->kind = "sentencepiece-bpe";
  impl->finish();
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

std::unique_ptr<Tokenizer> load_tokenizer(const ModelFile& model) {
  if (const GgufFile* gguf = model.gguf()) return Tokenizer::from_gguf(*gguf);
  const std::string folder = model.folder();
  if (folder.empty()) throw Error("'" + model.path() + "' is neither a GGUF file nor a folder");
  const std::string json_path = folder + "/tokenizer.json";
  const std::string config_path = folder + "/tokenizer_config.json";
  {
    std::FILE* f = std::fopen(json_path.c_str(), "rb");
    if (!f) {
      throw Error("no tokenizer.json in '" + folder +
                  "' (only tokenizer.json tokenizers are supported, not vocab.txt or "
                  "sentencepiece .model files)");
    }
    std::fclose(f);
  }
  std::string config;
  if (std::FILE* f = std::fopen(config_path.c_str(), "rb")) {
    std::fclose(f);
    config = config_path;
  }
  return Tokenizer::from_json_file(json_path, config);
}

}  // namespace emovec
