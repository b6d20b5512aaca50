// Tokenizer from a Hugging Face tokenizer.json (+ tokenizer_config.json).
#include <nlohmann/json.hpp>

#include "emovec/error.h"
#include "emovec/tokenizer.h"
#include "format/text_file.h"
#include "tokenizer/load_common.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace emovec {
namespace {

using nlohmann::json;
using tok::DecoderStep;
using tok::NormalizerStep;
using tok::PreTokenizerStep;

[[noreturn]] void fail(const std::string& what) { throw Error("tokenizer.json: " + what); }

const json* member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

bool get_bool(const json& j, const char* key, bool fallback) {
  const json* v = member(j, key);
  if (!v) return fallback;
  if (!v->is_boolean()) fail(std::string("\"") + key + "\" must be true or false");
  return v->get<bool>();
}

std::string get_string(const json& j, const char* key, const std::string& fallback) {
  const json* v = member(j, key);
  if (!v) return fallback;
  if (!v->is_string()) fail(std::string("\"") + key + "\" must be a string");
  return v->get<std::string>();
}

uint64_t get_count(const json& j, const char* key, uint64_t fallback) {
  const json* v = member(j, key);
  if (!v) return fallback;
  if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0)) {
    fail(std::string("\"") + key + "\" must be a non-negative integer");
  }
  return v->get<uint64_t>();
}

std::string type_of(const json& j, const char* where) {
  if (!j.is_object()) fail(std::string(where) + " must be an object");
  const json* t = member(j, "type");
  if (!t || !t->is_string()) fail(std::string(where) + " has no \"type\"");
  return t->get<std::string>();
}

// {"String": "..."} or {"Regex": "..."}
struct Pattern {
  bool is_regex = false;
  std::string text;
};

Pattern get_pattern(const json& j, const char* where) {
  const json* p = member(j, "pattern");
  if (!p || !p->is_object()) fail(std::string(where) + " needs a \"pattern\" object");
  if (const json* s = member(*p, "String"); s && s->is_string())
    return {false, s->get<std::string>()};
  if (const json* r = member(*p, "Regex"); r && r->is_string())
    return {true, r->get<std::string>()};
  fail(std::string(where) + " pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

// A code point given as a JSON string of one character (Metaspace replacement, Strip content).
std::string get_char(const json& j, const char* key, const std::string& fallback) {
  std::string s = get_string(j, key, fallback);
  if (!tok::is_valid_utf8(s) || tok::count_code_points(s) != 1) {
    fail(std::string("\"") + key + "\" must be a single character");
  }
  return s;
}

void parse_normalizer(const json& j, std::vector<NormalizerStep>& out) {
  const std::string type = type_of(j, "normalizer");
  NormalizerStep step;
  using K = NormalizerStep::Kind;
  if (type == "Sequence") {
    const json* list = member(j, "normalizers");
    if (!list || !list->is_array()) fail("Sequence normalizer needs \"normalizers\"");
    for (const json& n : *list) parse_normalizer(n, out);
    return;
  } else if (type == "BertNormalizer") {
    step.kind = K::Bert;
    step.clean_text = get_bool(j, "clean_text", true);
    step.handle_chinese_chars = get_bool(j, "handle_chinese_chars", true);
    step.lowercase = get_bool(j, "lowercase", true);
    // strip_accents: null means "follow lowercase", as BertNormalizer does.
    step.strip_accents = get_bool(j, "strip_accents", step.lowercase);
  } else if (type == "Lowercase") {
    step.kind = K::Lowercase;
  } else if (type == "NFD") {
    step.kind = K::Nfd;
  } else if (type == "NFC") {
    step.kind = K::Nfc;
  } else if (type == "StripAccents") {
    step.kind = K::StripAccents;
  } else if (type == "Replace") {
    const Pattern p = get_pattern(j, "Replace normalizer");
    if (p.is_regex) fail("Replace normalizer with a regex pattern is not supported");
    step.kind = K::Replace;
    step.pattern = p.text;
    step.content = get_string(j, "content", "");
  } else if (type == "Prepend") {
    step.kind = K::Prepend;
    step.content = get_string(j, "prepend", "");
  } else if (type == "Strip") {
    step.kind = K::Strip;
    step.strip_left = get_bool(j, "strip_left", false);
    step.strip_right = get_bool(j, "strip_right", false);
  } else {
    fail("normalizer \"" + type +
         "\" is not supported (supported: BertNormalizer, Lowercase, NFD, NFC, StripAccents, "
         "Replace, Prepend, Strip, Sequence)");
  }
  out.push_back(std::move(step));
}

tok::SplitBehavior get_behavior(const json& j, const char* key, tok::SplitBehavior fallback) {
  const json* v = member(j, key);
  if (!v) return fallback;
  const std::string s = v->is_string() ? v->get<std::string>() : "";
  if (s == "Removed") return tok::SplitBehavior::Removed;
  if (s == "Isolated") return tok::SplitBehavior::Isolated;
  if (s == "MergedWithPrevious") return tok::SplitBehavior::MergedWithPrevious;
  if (s == "MergedWithNext") return tok::SplitBehavior::MergedWithNext;
  if (s == "Contiguous") return tok::SplitBehavior::Contiguous;
  fail(std::string("unknown split behavior \"") + s + "\"");
}

tok::PrependScheme get_prepend_scheme(const json& j) {
  if (const json* v = member(j, "prepend_scheme")) {
    const std::string s = v->is_string() ? v->get<std::string>() : "";
    if (s == "always") return tok::PrependScheme::Always;
    if (s == "first") return tok::PrependScheme::First;
    if (s == "never") return tok::PrependScheme::Never;
    fail("unknown Metaspace prepend_scheme \"" + s + "\"");
  }
  // Files from before prepend_scheme existed say add_prefix_space.
  return get_bool(j, "add_prefix_space", true) ? tok::PrependScheme::Always
                                               : tok::PrependScheme::Never;
}

void parse_pre_tokenizer(const json& j, std::vector<PreTokenizerStep>& out) {
  const std::string type = type_of(j, "pre_tokenizer");
  PreTokenizerStep step;
  using K = PreTokenizerStep::Kind;
  if (type == "Sequence") {
    const json* list = member(j, "pretokenizers");
    if (!list || !list->is_array()) fail("Sequence pre_tokenizer needs \"pretokenizers\"");
    for (const json& p : *list) parse_pre_tokenizer(p, out);
    return;
  } else if (type == "ByteLevel") {
    step.kind = K::ByteLevel;
    step.add_prefix_space = get_bool(j, "add_prefix_space", true);
    step.use_regex = get_bool(j, "use_regex", true);
  } else if (type == "Split") {
    const Pattern p = get_pattern(j, "Split pre_tokenizer");
    if (p.is_regex) {
      auto regex = tok::regex_from_pattern(p.text);
      if (!regex) {
        fail("Split regex " + nlohmann::json(p.text).dump() +
             " is not one of the supported patterns (GPT-2, Llama-3, Qwen2)");
      }
      step.kind = K::SplitRegex;
      step.regex = *regex;
    } else {
      step.kind = K::SplitLiteral;
      step.literal = p.text;
    }
    step.behavior = get_behavior(j, "behavior", tok::SplitBehavior::Isolated);
    step.invert = get_bool(j, "invert", false);
  } else if (type == "Digits") {
    step.kind = K::Digits;
    step.individual_digits = get_bool(j, "individual_digits", false);
  } else if (type == "BertPreTokenizer") {
    step.kind = K::Bert;
  } else if (type == "WhitespaceSplit") {
    step.kind = K::WhitespaceSplit;
  } else if (type == "Punctuation") {
    step.kind = K::Punctuation;
    step.behavior = get_behavior(j, "behavior", tok::SplitBehavior::Isolated);
  } else if (type == "Metaspace") {
    step.kind = K::Metaspace;
    step.replacement = get_char(j, "replacement", "\xE2\x96\x81");
    step.prepend_scheme = get_prepend_scheme(j);
    step.split = get_bool(j, "split", true);
  } else {
    fail("pre_tokenizer \"" + type +
         "\" is not supported (supported: ByteLevel, Split, Digits, BertPreTokenizer, "
         "WhitespaceSplit, Punctuation, Metaspace, Sequence)");
  }
  out.push_back(std::move(step));
}

void parse_decoder(const json& j, std::vector<DecoderStep>& out) {
  const std::string type = type_of(j, "decoder");
  DecoderStep step;
  using K = DecoderStep::Kind;
  if (type == "Sequence") {
    const json* list = member(j, "decoders");
    if (!list || !list->is_array()) fail("Sequence decoder needs \"decoders\"");
    for (const json& d : *list) parse_decoder(d, out);
    return;
  } else if (type == "ByteLevel") {
    step.kind = K::ByteLevel;
  } else if (type == "Replace") {
    const Pattern p = get_pattern(j, "Replace decoder");
    if (p.is_regex) fail("Replace decoder with a regex pattern is not supported");
    step.kind = K::Replace;
    step.pattern = p.text;
    step.content = get_string(j, "content", "");
  } else if (type == "ByteFallback") {
    step.kind = K::ByteFallback;
  } else if (type == "Fuse") {
    step.kind = K::Fuse;
  } else if (type == "Strip") {
    step.kind = K::Strip;
    step.content = get_char(j, "content", " ");
    step.strip_start = get_count(j, "start", 0);
    step.strip_stop = get_count(j, "stop", 0);
  } else if (type == "WordPiece") {
    step.kind = K::WordPiece;
    step.prefix = get_string(j, "prefix", "##");
    step.cleanup = get_bool(j, "cleanup", true);
  } else if (type == "Metaspace") {
    step.kind = K::Metaspace;
    step.replacement = get_char(j, "replacement", "\xE2\x96\x81");
    step.prepend_scheme = get_prepend_scheme(j);
  } else {
    fail("decoder \"" + type +
         "\" is not supported (supported: ByteLevel, Replace, ByteFallback, Fuse, Strip, "
         "WordPiece, Metaspace, Sequence)");
  }
  out.push_back(std::move(step));
}

// Token id of a special token named by a post-processor.
int32_t special_id(const json& v, const char* where) {
  if (!v.is_number_integer()) fail(std::string(where) + ": token ids must be integers");
  const int64_t id = v.get<int64_t>();
  if (id < 0 || id > INT32_MAX) fail(std::string(where) + ": token id out of range");
  return static_cast<int32_t>(id);
}

void parse_post_processor(const json& j, Tokenizer::Impl& impl) {
  const std::string type = type_of(j, "post_processor");
  if (type == "Sequence") {
    const json* list = member(j, "processors");
    if (!list || !list->is_array()) fail("Sequence post_processor needs \"processors\"");
    for (const json& p : *list) parse_post_processor(p, impl);
    return;
  }
  if (type == "ByteLevel") return;  // only adjusts offsets
  std::vector<int32_t> prefix, suffix;
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    const json* cls = member(j, "cls");
    const json* sep = member(j, "sep");
    if (!cls || !sep || !cls->is_array() || cls->size() != 2 || !sep->is_array() ||
        sep->size() != 2) {
      fail(type + " needs \"cls\" and \"sep\" as [token, id]");
    }
    prefix.push_back(special_id((*cls)[1], type.c_str()));
    suffix.push_back(special_id((*sep)[1], type.c_str()));
  } else if (type == "TemplateProcessing") {
    const json* single = member(j, "single");
    if (!single || !single->is_array()) fail("TemplateProcessing needs a \"single\" template");
    const json* specials = member(j, "special_tokens");
    bool seen_sequence = false;
    for (const json& piece : *single) {
      if (const json* seq = member(piece, "Sequence")) {
        (void)seq;
        seen_sequence = true;
        continue;
      }
      const json* sp = member(piece, "SpecialToken");
      if (!sp) fail("TemplateProcessing piece must be a Sequence or a SpecialToken");
      const std::string name = get_string(*sp, "id", "");
      const json* entry = specials ? member(*specials, name.c_str()) : nullptr;
      const json* ids = entry ? member(*entry, "ids") : nullptr;
      if (!ids || !ids->is_array()) {
        fail("TemplateProcessing names special token \"" + name +
             "\" that its special_tokens does not define");
      }
      for (const json& id : *ids) {
        (seen_sequence ? suffix : prefix).push_back(special_id(id, "TemplateProcessing"));
      }
    }
  } else {
    fail("post_processor \"" + type +
         "\" is not supported (supported: TemplateProcessing, BertProcessing, "
         "RobertaProcessing, ByteLevel, Sequence)");
  }
  // A later processor wraps what the earlier ones produced.
  impl.prefix_ids.insert(impl.prefix_ids.begin(), prefix.begin(), prefix.end());
  impl.suffix_ids.insert(impl.suffix_ids.end(), suffix.begin(), suffix.end());
}

void parse_vocab(const json& model, Tokenizer::Impl& impl) {
  const json* vocab = member(model, "vocab");
  if (!vocab || !vocab->is_object()) fail("model has no \"vocab\" object");
  if (vocab->empty()) fail("model vocab is empty");
  std::vector<std::pair<std::string, int32_t>> entries;
  entries.reserve(vocab->size());
  int64_t max_id = -1;
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    if (!it.value().is_number_integer()) fail("vocab entry \"" + it.key() + "\" has no integer id");
    const int64_t id = it.value().get<int64_t>();
    if (id < 0 || id > tok::kMaxTokenId) {
      fail("vocab entry \"" + it.key() + "\" has id " + std::to_string(id) + " out of range");
    }
    max_id = std::max(max_id, id);
    entries.emplace_back(it.key(), static_cast<int32_t>(id));
  }
  tok::check_id_density(max_id, entries.size(), "tokenizer.json vocab");
  impl.vocab.assign(static_cast<size_t>(max_id) + 1, std::string());
  impl.token_to_id.reserve(entries.size());
  for (auto& [token, id] : entries) {
    impl.token_to_id[token] = id;
    impl.vocab[static_cast<size_t>(id)] = std::move(token);
  }
}

std::pair<std::string, std::string> parse_merge(const json& m) {
  if (m.is_string()) {
    const std::string s = m.get<std::string>();
    const size_t space = s.find(' ');
    if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
      fail("merge " + nlohmann::json(s).dump() + " is not two tokens separated by one space");
    }
    return {s.substr(0, space), s.substr(space + 1)};
  }
  if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
    return {m[0].get<std::string>(), m[1].get<std::string>()};
  }
  fail("a merge must be \"a b\" or [\"a\", \"b\"]");
}

void parse_model(const json& j, Tokenizer::Impl& impl) {
  if (!j.is_object()) fail("\"model\" must be an object");
  std::string type = get_string(j, "type", "");
  if (type.empty()) {  // older files leave the model type implicit
    if (member(j, "merges"))
      type = "BPE";
    else if (member(j, "max_input_chars_per_word"))
      type = "WordPiece";
  }
  if (type == "BPE") {
    parse_vocab(j, impl);
    tok::BpeModel& bpe = impl.bpe;
    if (const json* d = member(j, "dropout"); d && d->is_number() && d->get<double>() > 0) {
      fail("BPE dropout is not supported (it makes tokenization random)");
    }
    bpe.fuse_unk = get_bool(j, "fuse_unk", false);
    bpe.byte_fallback = get_bool(j, "byte_fallback", false);
    bpe.ignore_merges = get_bool(j, "ignore_merges", false);
    bpe.continuing_subword_prefix = get_string(j, "continuing_subword_prefix", "");
    bpe.end_of_word_suffix = get_string(j, "end_of_word_suffix", "");
    if (const json* unk = member(j, "unk_token")) {
      if (!unk->is_string()) fail("BPE unk_token must be a string");
      auto id = impl.lookup(unk->get<std::string>());
      if (!id) fail("BPE unk_token \"" + unk->get<std::string>() + "\" is not in the vocab");
      bpe.unk_id = *id;
    }
    const json* merges = member(j, "merges");
    if (merges && !merges->is_array()) fail("BPE \"merges\" must be an array");
    if (merges) {
      const size_t prefix_len = bpe.continuing_subword_prefix.size();
      bpe.merges.reserve(merges->size());
      uint32_t rank = 0;
      for (const json& m : *merges) {
        const auto [a, b] = parse_merge(m);
        tok::add_merge(impl, a, b, prefix_len, rank++, "tokenizer.json");
      }
    }
  } else if (type == "WordPiece") {
    parse_vocab(j, impl);
    impl.wordpiece = true;
    const std::string unk = get_string(j, "unk_token", "[UNK]");
    auto id = impl.lookup(unk);
    if (!id) fail("WordPiece unk_token \"" + unk + "\" is not in the vocab");
    impl.wp.unk_id = *id;
    impl.wp.continuing_subword_prefix = get_string(j, "continuing_subword_prefix", "##");
    impl.wp.max_input_chars_per_word = get_count(j, "max_input_chars_per_word", 100);
  } else {
    fail("model type \"" + type + "\" is not supported (supported: BPE, WordPiece)");
  }
}

void parse_added_tokens(const json& j, Tokenizer::Impl& impl) {
  if (!j.is_array()) fail("\"added_tokens\" must be an array");
  for (const json& t : j) {
    if (!t.is_object()) fail("each added token must be an object");
    const json* id = member(t, "id");
    if (!id || !id->is_number_integer()) fail("added token without an integer \"id\"");
    const int64_t v = id->get<int64_t>();
    if (v < 0 || v > tok::kMaxTokenId)
      fail("added token id " + std::to_string(v) + " out of range");
    AddedToken a;
    a.id = static_cast<int32_t>(v);
    a.content = get_string(t, "content", "");
    if (!tok::is_valid_utf8(a.content)) fail("added token content is not valid UTF-8");
    a.special = get_bool(t, "special", false);
    a.single_word = get_bool(t, "single_word", false);
    a.lstrip = get_bool(t, "lstrip", false);
    a.rstrip = get_bool(t, "rstrip", false);
    a.normalized = get_bool(t, "normalized", !a.special);
    impl.added.push_back(std::move(a));
  }
}

std::optional<std::string> config_token(const json& config, const char* key) {
  const json* v = member(config, key);
  if (!v) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object()) {  // an AddedToken dict
    if (const json* c = member(*v, "content"); c && c->is_string()) return c->get<std::string>();
  }
  return std::nullopt;
}

json parse_json_text(std::string_view text, const char* what) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    throw Error(std::string(what) + " is not valid JSON: " + e.what());
  }
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_json_string(std::string_view tokenizer_json,
                                                       std::string_view tokenizer_config_json) {
  const json j = parse_json_text(tokenizer_json, "tokenizer.json");
  if (!j.is_object()) fail("the top level must be an object");
  auto impl = std::make_unique<Impl>();
  const json* model = member(j, "model");
  if (!model) fail("no \"model\"");
  parse_model(*model, *impl);
  if (const json* n = member(j, "normalizer")) parse_normalizer(*n, impl->normalizer);
  if (const json* p = member(j, "pre_tokenizer")) parse_pre_tokenizer(*p, impl->pre_tokenizer);
  if (const json* d = member(j, "decoder")) {
    parse_decoder(*d, impl->decoder);
    impl->has_decoder = true;
  }
  if (const json* a = member(j, "added_tokens")) parse_added_tokens(*a, *impl);
  const json* post = member(j, "post_processor");
  if (post) parse_post_processor(*post, *impl);

  if (!tokenizer_config_json.empty()) {
    const json config = parse_json_text(tokenizer_config_json, "tokenizer_config.json");
    if (!config.is_object()) throw Error("tokenizer_config.json: the top level must be an object");
    impl->finish();  // so that added tokens can be looked up by name
    const auto id_of = [&](const char* key) -> std::optional<int32_t> {
      auto name = config_token(config, key);
      if (!name) return std::nullopt;
      auto it = impl->added_by_content.find(*name);
      if (it != impl->added_by_content.end())
        return impl->added[static_cast<size_t>(it->second)].id;
      return impl->lookup(*name);
    };
    impl->bos = id_of("bos_token");
    impl->eos = id_of("eos_token");
    // transformers adds BOS/EOS from these flags only where the tokenizer.json has no
    // post-processor of its own to say so.
    if (!post) {
      const json* add_bos = member(config, "add_bos_token");
      const json* add_eos = member(config, "add_eos_token");
      if (add_bos && add_bos->is_boolean() && add_bos->get<bool>() && impl->bos) {
        impl->prefix_ids.push_back(*impl->bos);
      }
      if (add_eos && add_eos->is_boolean() && add_eos->get<bool>() && impl->eos) {
        impl->suffix_ids.push_back(*impl->eos);
      }
    }
  }
  tok::describe(*impl);
  impl->finish();
  for (int32_t id : impl->prefix_ids) tok::check_id(*impl, id, "post_processor");
  for (int32_t id : impl->suffix_ids) tok::check_id(*impl, id, "post_processor");
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

std::unique_ptr<Tokenizer> Tokenizer::from_json_file(const std::string& tokenizer_json,
                                                     const std::string& tokenizer_config_json) {
  const std::string text = read_text_file(tokenizer_json, "tokenizer.json");
  const std::string config = tokenizer_config_json.empty()
                                 ? std::string()
                                 : read_text_file(tokenizer_config_json, "tokenizer_config.json");
  try {
    return from_json_string(text, config);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (in '" + tokenizer_json + "')");
  }
}

}  // namespace emovec
