// Runs a Tokenizer::Impl: the encode and decode pipelines of the `tokenizers` library.
#include "emovec/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <queue>
#include <unordered_set>

#include "emovec/error.h"
#include "tokenizer/load_common.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace emovec {
namespace tok {

void ByteTrie::insert(std::string_view key, int32_t value) {
  size_t node = 0;
  for (unsigned char c : key) {
    auto& children = nodes_[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), c,
                               [](const auto& p, unsigned char b) { return p.first < b; });
    if (it != children.end() && it->first == c) {
      node = static_cast<size_t>(it->second);
    } else {
      const auto next = static_cast<int32_t>(nodes_.size());
      children.insert(it, {c, next});
      nodes_.emplace_back();
      node = static_cast<size_t>(next);
    }
  }
  nodes_[node].value = value;
}

std::pair<size_t, int32_t> ByteTrie::longest_prefix(std::string_view text) const {
  size_t node = 0;
  std::pair<size_t, int32_t> best{0, -1};
  for (size_t i = 0; i < text.size(); ++i) {
    const auto& children = nodes_[node].children;
    const auto c = static_cast<unsigned char>(text[i]);
    auto it = std::lower_bound(children.begin(), children.end(), c,
                               [](const auto& p, unsigned char b) { return p.first < b; });
    if (it == children.end() || it->first != c) break;
    node = static_cast<size_t>(it->second);
    if (nodes_[node].value >= 0) best = {i + 1, nodes_[node].value};
  }
  return best;
}

namespace {

constexpr char32_t kReplacementChar = 0xFFFD;

// \w of the Rust regex crate, used by single_word added tokens: Alphabetic, marks, decimal
// digits, connector punctuation, joiners. Alphabetic is approximated by L and Nl (it also has a
// few Other_Alphabetic symbols such as circled letters, which count as non-word here).
bool is_word_char(char32_t cp) {
  if (cp == 0x200C || cp == 0x200D) return true;
  const Category c = category(cp);
  return (c >= Category::Lu && c <= Category::Lo) || (c >= Category::Mn && c <= Category::Me) ||
         c == Category::Nd || c == Category::Nl || c == Category::Pc;
}

// Start of the code point that ends at byte `end` of `s`.
size_t previous_start(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

char32_t code_point_at(std::string_view s, size_t pos) {
  return decode_at(s, pos, utf8_length(static_cast<unsigned char>(s[pos])));
}

// Byte offset where the whitespace that ends at `end` starts.
size_t trailing_space_start(std::string_view s, size_t end) {
  while (end > 0) {
    const size_t start = previous_start(s, end);
    if (!is_whitespace(code_point_at(s, start))) break;
    end = start;
  }
  return end;
}

// Byte offset where the whitespace starting at `pos` ends.
size_t leading_space_end(std::string_view s, size_t pos) {
  while (pos < s.size() && is_whitespace(code_point_at(s, pos))) {
    pos += utf8_length(static_cast<unsigned char>(s[pos]));
  }
  return std::min(pos, s.size());
}

struct Segment {
  size_t begin = 0;
  size_t end = 0;
  int32_t added = -1;  // index into Impl::added, or -1 for text
};

// AddedVocabulary::find_matches: leftmost-longest matches of the trie, filtered by the tokens'
// flags, and the text between them.
std::vector<Segment> split_on_added(const Tokenizer::Impl& impl, const ByteTrie& trie,
                                    std::string_view text, bool parse_special) {
  std::vector<Segment> out;
  if (trie.empty()) {
    out.push_back({0, text.size(), -1});
    return out;
  }
  size_t pos = 0;
  size_t start_offset = 0;
  while (pos < text.size()) {
    const auto [len, index] = trie.longest_prefix(text.substr(pos));
    if (len == 0) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t stop = pos + len;
    pos = stop;  // the automaton resumes after the match whether or not it is kept
    const AddedToken& token = impl.added[static_cast<size_t>(index)];
    if (!parse_special && token.special) continue;
    if (token.single_word) {
      const bool start_space =
          start == 0 || !is_word_char(code_point_at(text, previous_start(text, start)));
      const bool stop_space = stop == text.size() || !is_word_char(code_point_at(text, stop));
      if (!start_space || !stop_space) continue;
    }
    if (token.lstrip) start = std::max(trailing_space_start(text, start), start_offset);
    if (token.rstrip) stop = leading_space_end(text, stop);
    // Matches resume where the previous match ended before its right strip, so an lstrip token
    // found inside stripped whitespace could start past its own end (the reference panics
    // there); keep the range well formed instead.
    stop = std::max(stop, start);
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, index});
    start_offset = stop;
  }
  if (start_offset < text.size() || out.empty()) out.push_back({start_offset, text.size(), -1});
  return out;
}

bool is_chinese_char(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// BertNormalizer's is_control: categories Cc, Cf, Co, Cs except \t \n \r. (Unassigned code
// points are kept, as in the reference.)
//
// The BERT character classes (control, punctuation, nonspacing marks for strip_accents) come from
// the Unicode 16 tables like everything else. The reference takes them from older tables (the
// unicode_categories and unicode-normalization-alignments crates, roughly Unicode 9-12), so a
// code point assigned or re-categorised since then (U+089C, U+1E4EE, U+111C9, the variation
// selectors supplement, ...) can be stripped or split where the reference keeps it. Measured:
// 21 of 15,000 random strings that mix in arbitrary code points; none among ordinary text.
bool is_bert_control(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  const Category c = category(cp);
  return c == Category::Cc || c == Category::Cf || c == Category::Co || c == Category::Cs;
}

std::string replace_all(std::string_view text, std::string_view pattern, std::string_view with) {
  if (pattern.empty()) return std::string(text);
  std::string out;
  size_t last = 0;
  size_t pos = text.find(pattern);
  while (pos != std::string_view::npos) {
    out.append(text.substr(last, pos - last));
    out.append(with);
    last = pos + pattern.size();
    pos = text.find(pattern, last);
  }
  out.append(text.substr(last));
  return out;
}

std::u32string apply_bert(const NormalizerStep& step, std::u32string s) {
  if (step.clean_text) {
    std::u32string t;
    t.reserve(s.size());
    for (char32_t c : s) {
      if (c == 0 || c == kReplacementChar || is_bert_control(c)) continue;
      t.push_back(is_whitespace(c) ? U' ' : c);
    }
    s = std::move(t);
  }
  if (step.handle_chinese_chars) {
    std::u32string t;
    t.reserve(s.size());
    for (char32_t c : s) {
      if (is_chinese_char(c)) {
        t.push_back(U' ');
        t.push_back(c);
        t.push_back(U' ');
      } else {
        t.push_back(c);
      }
    }
    s = std::move(t);
  }
  if (step.strip_accents) {
    std::u32string t = nfd(s);
    std::erase_if(t, [](char32_t c) { return category(c) == Category::Mn; });
    s = std::move(t);
  }
  if (step.lowercase) {
    std::u32string t;
    t.reserve(s.size());
    for (char32_t c : s) append_lowercase(t, c);
    s = std::move(t);
  }
  return s;
}

struct Piece {
  std::string text;
  bool at_start = false;  // begins at offset 0 of the original text
};

template <typename SplitFn>
void split_pieces(std::vector<Piece>& pieces, SplitFn spans_of, SplitBehavior behavior,
                  bool invert) {
  std::vector<Piece> out;
  out.reserve(pieces.size());
  for (Piece& p : pieces) {
    for (const auto& [b, e] : apply_split(spans_of(p.text), behavior, invert)) {
      out.push_back({p.text.substr(b, e - b), p.at_start && b == 0});
    }
  }
  pieces = std::move(out);
}

void apply_pre_tokenizer(const PreTokenizerStep& step, std::vector<Piece>& pieces) {
  using K = PreTokenizerStep::Kind;
  switch (step.kind) {
    case K::ByteLevel: {
      if (step.add_prefix_space) {
        for (Piece& p : pieces) {
          if (p.text.empty() || p.text[0] != ' ') p.text.insert(p.text.begin(), ' ');
        }
      }
      if (step.use_regex) {
        split_pieces(
            pieces, [](const std::string& t) { return find_regex_matches(SplitRegex::Gpt2, t); },
            SplitBehavior::Isolated, false);
      }
      for (Piece& p : pieces) p.text = byte_level_encode(p.text);
      break;
    }
    case K::SplitRegex:
      split_pieces(
          pieces, [&](const std::string& t) { return find_regex_matches(step.regex, t); },
          step.behavior, step.invert);
      break;
    case K::SplitLiteral:
      split_pieces(
          pieces, [&](const std::string& t) { return find_literal_matches(step.literal, t); },
          step.behavior, step.invert);
      break;
    case K::Digits:
      split_pieces(
          pieces, [](const std::string& t) { return find_char_matches(t, is_number); },
          step.individual_digits ? SplitBehavior::Isolated : SplitBehavior::Contiguous, false);
      break;
    case K::Bert:
      split_pieces(
          pieces, [](const std::string& t) { return find_char_matches(t, is_whitespace); },
          SplitBehavior::Removed, false);
      split_pieces(
          pieces, [](const std::string& t) { return find_char_matches(t, is_bert_punctuation); },
          SplitBehavior::Isolated, false);
      break;
    case K::WhitespaceSplit:
      split_pieces(
          pieces, [](const std::string& t) { return find_char_matches(t, is_whitespace); },
          SplitBehavior::Removed, false);
      break;
    case K::Punctuation:
      split_pieces(
          pieces, [](const std::string& t) { return find_char_matches(t, is_bert_punctuation); },
          step.behavior, false);
      break;
    case K::Metaspace: {
      for (Piece& p : pieces) {
        p.text = replace_all(p.text, " ", step.replacement);
        const bool starts = p.text.compare(0, step.replacement.size(), step.replacement) == 0;
        const bool prepend = (step.prepend_scheme == PrependScheme::Always && !starts) ||
                             (step.prepend_scheme == PrependScheme::First && !starts && p.at_start);
        if (prepend) p.text.insert(0, step.replacement);
      }
      if (step.split) {
        split_pieces(
            pieces, [&](const std::string& t) { return find_literal_matches(step.replacement, t); },
            SplitBehavior::MergedWithNext, false);
      }
      break;
    }
  }
}

// tokenizers' ByteFallback decoder reads "<0xHH>" with u8::from_str_radix, which also takes a
// leading '+'.
std::optional<unsigned char> parse_byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return std::nullopt;
  int value = 0;
  size_t i = 3;
  if (t[3] == '+') ++i;
  if (i == 5) return std::nullopt;
  for (; i < 5; ++i) {
    const char c = t[i];
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d < 0) return std::nullopt;
    value = value * 16 + d;
  }
  return static_cast<unsigned char>(value);
}

std::string wordpiece_cleanup(std::string s) {
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},     {" ,", ","},
      {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},   {" do not", " don't"},
      {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
  };
  for (const auto& [from, to] : kRules) s = replace_all(s, from, to);
  return s;
}

void apply_decoder(const DecoderStep& step, std::vector<std::string>& tokens) {
  using K = DecoderStep::Kind;
  switch (step.kind) {
    case K::ByteLevel: {
      std::string bytes;
      for (const std::string& t : tokens) {
        const std::u32string cps = decode_utf8(t);
        std::string mapped;
        bool all = true;
        for (char32_t c : cps) {
          const int b = unicode_to_byte(c);
          if (b < 0) {
            all = false;
            break;
          }
          mapped.push_back(static_cast<char>(b));
        }
        bytes += all ? mapped : t;
      }
      tokens = {to_valid_utf8(bytes)};
      break;
    }
    case K::Replace:
      for (std::string& t : tokens) t = replace_all(t, step.pattern, step.content);
      break;
    case K::ByteFallback: {
      std::vector<std::string> out;
      std::string pending;
      const auto flush = [&] {
        if (pending.empty()) return;
        if (is_valid_utf8(pending)) {
          out.push_back(pending);
        } else {
          for (size_t i = 0; i < pending.size(); ++i) out.emplace_back("\xEF\xBF\xBD");
        }
        pending.clear();
      };
      for (std::string& t : tokens) {
        if (auto b = parse_byte_token(t)) {
          pending.push_back(static_cast<char>(*b));
        } else {
          flush();
          out.push_back(std::move(t));
        }
      }
      flush();
      tokens = std::move(out);
      break;
    }
    case K::Fuse: {
      std::string all;
      for (const std::string& t : tokens) all += t;
      tokens = {all};
      break;
    }
    case K::Strip: {
      const std::u32string content = decode_utf8(step.content);
      const char32_t c = content.empty() ? U' ' : content[0];
      for (std::string& t : tokens) {
        const std::u32string cps = decode_utf8(t);
        size_t start_cut = 0;
        for (size_t i = 0; i < std::min(step.strip_start, cps.size()); ++i) {
          if (cps[i] != c) break;
          start_cut = i + 1;
        }
        size_t stop_cut = cps.size();
        for (size_t i = 0; i < std::min(step.strip_stop, cps.size() - start_cut); ++i) {
          const size_t index = cps.size() - i - 1;
          if (cps[index] != c) break;
          stop_cut = index;
        }
        t = to_utf8(std::u32string_view(cps).substr(start_cut, stop_cut - start_cut));
      }
      break;
    }
    case K::WordPiece:
      for (size_t i = 0; i < tokens.size(); ++i) {
        std::string& t = tokens[i];
        if (i != 0) {
          if (t.compare(0, step.prefix.size(), step.prefix) == 0) {
            t.erase(0, step.prefix.size());
          } else {
            t.insert(t.begin(), ' ');
          }
        }
        if (step.cleanup) t = wordpiece_cleanup(std::move(t));
      }
      break;
    case K::Metaspace:
      for (size_t i = 0; i < tokens.size(); ++i) {
        const bool drop = i == 0 && step.prepend_scheme != PrependScheme::Never;
        tokens[i] = replace_all(tokens[i], step.replacement, drop ? "" : " ");
      }
      break;
  }
}

}  // namespace
}  // namespace tok

using tok::Category;

void Tokenizer::Impl::finish() {
  int32_t max_id = static_cast<int32_t>(vocab.size()) - 1;
  for (const AddedToken& t : added) max_id = std::max(max_id, t.id);
  if (max_id < 0) throw Error("tokenizer: the vocabulary is empty");
  tok::check_id_density(max_id, vocab.size() + added.size(), "tokenizer added_tokens");
  vocab.resize(static_cast<size_t>(max_id) + 1);
  if (!display.empty()) display.resize(vocab.size());

  added_index_by_id.assign(vocab.size(), -1);
  added_by_content.clear();
  raw_trie = {};
  normalized_trie = {};
  std::unordered_set<std::string> special_contents;
  added_text.assign(added.size(), std::string());
  for (size_t i = 0; i < added.size(); ++i) {
    const AddedToken& t = added[i];
    if (t.id < 0) throw Error("tokenizer: added token '" + t.content + "' has a negative id");
    added_index_by_id[static_cast<size_t>(t.id)] = static_cast<int32_t>(i);
    added_by_content[t.content] = static_cast<int32_t>(i);
    if (vocab[static_cast<size_t>(t.id)].empty()) vocab[static_cast<size_t>(t.id)] = t.content;
    if (t.special) special_contents.insert(t.content);
    added_text[i] = t.content;
    if (t.content.empty()) continue;
    if (t.normalized) {
      // The reference matches a normalized token by its normalized text and also gives that
      // text back when decoding it.
      const std::string n = normalize(t.content);
      added_text[i] = n;
      if (!n.empty()) normalized_trie.insert(n, static_cast<int32_t>(i));
    } else {
      raw_trie.insert(t.content, static_cast<int32_t>(i));
    }
  }
  skip_on_decode.assign(vocab.size(), 0);
  for (size_t id = 0; id < vocab.size(); ++id) {
    skip_on_decode[id] = special_contents.count(decoder_text(static_cast<int32_t>(id))) != 0;
  }
  if (!wordpiece && bpe.merges_from_scores) {
    bpe.code_point_lengths.resize(vocab.size());
    for (size_t id = 0; id < vocab.size(); ++id) {
      bpe.code_point_lengths[id] = static_cast<int32_t>(tok::count_code_points(vocab[id]));
    }
    bpe.scores.resize(vocab.size(), 0.0f);
  }
  if (!wordpiece && bpe.byte_fallback) {
    bpe.byte_fallback_ids.assign(256, -1);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      if (auto id = lookup(name)) bpe.byte_fallback_ids[static_cast<size_t>(b)] = *id;
    }
  }
}

std::optional<int32_t> Tokenizer::Impl::lookup(std::string_view token) const {
  auto it = token_to_id.find(token);
  if (it == token_to_id.end()) return std::nullopt;
  return it->second;
}

const std::string& Tokenizer::Impl::decoder_text(int32_t id) const {
  const int32_t index = added_index_by_id[static_cast<size_t>(id)];
  if (index >= 0) return added_text[static_cast<size_t>(index)];
  return vocab[static_cast<size_t>(id)];
}

std::string Tokenizer::Impl::normalize(std::string_view text) const {
  using K = tok::NormalizerStep::Kind;
  std::string s(text);
  for (const tok::NormalizerStep& step : normalizer) {
    switch (step.kind) {
      case K::Bert:
        s = tok::to_utf8(tok::apply_bert(step, tok::decode_utf8(s)));
        break;
      case K::Lowercase: {
        std::u32string out;
        for (char32_t c : tok::decode_utf8(s)) tok::append_lowercase(out, c);
        s = tok::to_utf8(out);
        break;
      }
      case K::Nfd:
        s = tok::to_utf8(tok::nfd(tok::decode_utf8(s)));
        break;
      case K::Nfc:
        s = tok::to_utf8(tok::nfc(tok::decode_utf8(s)));
        break;
      case K::StripAccents: {
        std::u32string cps = tok::decode_utf8(s);
        std::erase_if(cps, [](char32_t c) { return tok::is_mark(c); });
        s = tok::to_utf8(cps);
        break;
      }
      case K::Replace:
        s = tok::replace_all(s, step.pattern, step.content);
        break;
      case K::Prepend:
        if (!s.empty()) s.insert(0, step.content);
        break;
      case K::Strip: {
        std::u32string cps = tok::decode_utf8(s);
        size_t b = 0, e = cps.size();
        if (step.strip_left) {
          while (b < e && tok::is_whitespace(cps[b])) ++b;
        }
        if (step.strip_right) {
          while (e > b && tok::is_whitespace(cps[e - 1])) --e;
        }
        s = tok::to_utf8(std::u32string_view(cps).substr(b, e - b));
        break;
      }
    }
  }
  return s;
}

void Tokenizer::Impl::encode_segment(std::string_view text, bool at_start, bool parse_special,
                                     std::vector<int32_t>& out) const {
  // The reference drops empty pieces before pre-tokenizing, so an empty text (or one that
  // normalizes to nothing) gets no Metaspace or prefix-space token.
  if (text.empty()) return;
  const std::string normalized = normalize(text);
  if (normalized.empty()) return;
  if (normalized_trie.empty()) {
    encode_normalized(normalized, at_start, out);
    return;
  }
  for (const tok::Segment& seg :
       tok::split_on_added(*this, normalized_trie, normalized, parse_special)) {
    if (seg.added >= 0) {
      out.push_back(added[static_cast<size_t>(seg.added)].id);
    } else {
      encode_normalized(std::string_view(normalized).substr(seg.begin, seg.end - seg.begin),
                        at_start && seg.begin == 0, out);
    }
  }
}

void Tokenizer::Impl::encode_normalized(std::string_view text, bool at_start,
                                        std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::vector<tok::Piece> pieces{{std::string(text), at_start}};
  for (const tok::PreTokenizerStep& step : pre_tokenizer) tok::apply_pre_tokenizer(step, pieces);
  for (const tok::Piece& p : pieces) model_tokenize(p.text, out);
}

void Tokenizer::Impl::model_tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (wordpiece) {
    wordpiece_tokenize(word, out);
  } else {
    bpe_tokenize(word, out);
  }
}

bool Tokenizer::Impl::find_merge(int32_t left, int32_t right, tok::MergeRank& rank,
                                 int32_t& merged) const {
  if (!bpe.merges_from_scores) {
    const uint64_t key =
        (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
    auto it = bpe.merges.find(key);
    if (it == bpe.merges.end()) return false;
    rank = tok::MergeRank{0, 0, 0, static_cast<int32_t>(it->second.first)};
    merged = it->second.second;
    return true;
  }
  const std::string& l = vocab[static_cast<size_t>(left)];
  const std::string& r = vocab[static_cast<size_t>(right)];
  std::string joined;
  joined.reserve(l.size() + r.size());
  joined.append(l).append(r);
  auto it = token_to_id.find(std::string_view(joined));
  if (it == token_to_id.end()) return false;
  merged = it->second;
  rank = tok::MergeRank{-bpe.scores[static_cast<size_t>(merged)],
                        -bpe.code_point_lengths[static_cast<size_t>(left)],
                        -bpe.code_point_lengths[static_cast<size_t>(right)], merged};
  return true;
}

void Tokenizer::Impl::bpe_tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (bpe.ignore_merges) {
    if (auto id = lookup(word)) {
      out.push_back(*id);
      return;
    }
  }
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  const auto add = [&](int32_t id) {
    const auto n = static_cast<int32_t>(symbols.size());
    if (n > 0) symbols.back().next = n;
    symbols.push_back({id, n - 1, -1, true});
  };

  // BPE::merge_word: one symbol per code point (with the continuing prefix and end suffix),
  // else its bytes as <0xHH> tokens, else the unknown token (consecutive ones fused if asked).
  int32_t pending_unk = -1;
  std::string scratch;
  size_t pos = 0;
  while (pos < word.size()) {
    const size_t len =
        std::min(word.size() - pos, tok::utf8_length(static_cast<unsigned char>(word[pos])));
    const bool is_first = pos == 0;
    const bool is_last = pos + len == word.size();
    std::string_view symbol = word.substr(pos, len);
    if ((!is_first && !bpe.continuing_subword_prefix.empty()) ||
        (is_last && !bpe.end_of_word_suffix.empty())) {
      scratch.clear();
      if (!is_first) scratch += bpe.continuing_subword_prefix;
      scratch += symbol;
      if (is_last) scratch += bpe.end_of_word_suffix;
      symbol = scratch;
    }
    pos += len;
    if (auto id = lookup(symbol)) {
      if (pending_unk >= 0) {
        add(pending_unk);
        pending_unk = -1;
      }
      add(*id);
      continue;
    }
    if (bpe.byte_fallback) {
      bool all = true;
      for (unsigned char b : symbol) all = all && bpe.byte_fallback_ids[b] >= 0;
      if (all) {
        // As in the reference, a pending unknown token is not flushed here, so it lands after
        // these bytes.
        for (unsigned char b : symbol) add(bpe.byte_fallback_ids[b]);
        continue;
      }
    }
    if (bpe.unk_id) {
      if (pending_unk >= 0 && !bpe.fuse_unk) add(pending_unk);
      pending_unk = *bpe.unk_id;
    }
    // Without an unknown token the code point is dropped, as the reference does.
  }
  if (pending_unk >= 0) add(pending_unk);

  struct Candidate {
    tok::MergeRank rank;
    int32_t pos;
    int32_t merged;
  };
  // Lowest rank first, then leftmost.
  const auto later = [](const Candidate& a, const Candidate& b) {
    if (b.rank < a.rank) return true;
    if (a.rank < b.rank) return false;
    return b.pos < a.pos;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later);
  tok::MergeRank rank;
  int32_t merged = 0;
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    if (find_merge(symbols[i].id, symbols[i + 1].id, rank, merged)) {
      queue.push({rank, static_cast<int32_t>(i), merged});
    }
  }
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& cur = symbols[static_cast<size_t>(top.pos)];
    if (!cur.alive || cur.next < 0) continue;
    Symbol& right = symbols[static_cast<size_t>(cur.next)];
    // Skip stale entries: the pair at this position changed since it was queued.
    if (!find_merge(cur.id, right.id, rank, merged) || merged != top.merged) continue;
    cur.id = top.merged;
    right.alive = false;
    cur.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = top.pos;
    if (cur.prev >= 0 &&
        find_merge(symbols[static_cast<size_t>(cur.prev)].id, cur.id, rank, merged)) {
      queue.push({rank, cur.prev, merged});
    }
    if (cur.next >= 0 &&
        find_merge(cur.id, symbols[static_cast<size_t>(cur.next)].id, rank, merged)) {
      queue.push({rank, top.pos, merged});
    }
  }
  for (const Symbol& s : symbols) {
    if (s.alive) out.push_back(s.id);
  }
}

void Tokenizer::Impl::wordpiece_tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (tok::count_code_points(word) > wp.max_input_chars_per_word) {
    out.push_back(wp.unk_id);
    return;
  }
  std::vector<int32_t> pieces;
  std::string candidate;
  size_t start = 0;
  while (start < word.size()) {
    size_t end = word.size();
    std::optional<int32_t> found;
    while (start < end) {
      std::string_view sub = word.substr(start, end - start);
      if (start > 0) {
        candidate.assign(wp.continuing_subword_prefix).append(sub);
        sub = candidate;
      }
      found = lookup(sub);
      if (found) break;
      // Drop the last code point.
      --end;
      while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
    }
    if (!found) {
      out.push_back(wp.unk_id);
      return;
    }
    pieces.push_back(*found);
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  const std::string valid = tok::to_valid_utf8(text);
  std::vector<int32_t> ids;
  if (add_special) ids = impl_->prefix_ids;
  for (const tok::Segment& seg :
       tok::split_on_added(*impl_, impl_->raw_trie, valid, parse_special)) {
    if (seg.added >= 0) {
      ids.push_back(impl_->added[static_cast<size_t>(seg.added)].id);
    } else {
      impl_->encode_segment(std::string_view(valid).substr(seg.begin, seg.end - seg.begin),
                            seg.begin == 0, parse_special, ids);
    }
  }
  if (add_special) ids.insert(ids.end(), impl_->suffix_ids.begin(), impl_->suffix_ids.end());
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (id < 0 || id >= impl_->size()) {
      throw Error("decode: token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                  std::to_string(impl_->size() - 1) + ")");
    }
    if (skip_special && impl_->skip_on_decode[static_cast<size_t>(id)]) continue;
    const std::string& text = impl_->decoder_text(id);
    if (text.empty() && impl_->added_index_by_id[static_cast<size_t>(id)] < 0) continue;  // hole
    tokens.push_back(text);
  }
  if (!impl_->has_decoder) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out += ' ';
      out += tokens[i];
    }
    return out;
  }
  for (const tok::DecoderStep& step : impl_->decoder) tok::apply_decoder(step, tokens);
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

std::string Tokenizer::token_text(int32_t id) const {
  if (id < 0 || id >= impl_->size()) {
    throw Error("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                std::to_string(impl_->size() - 1) + ")");
  }
  if (!impl_->display.empty() && !impl_->display[static_cast<size_t>(id)].empty()) {
    return impl_->display[static_cast<size_t>(id)];
  }
  return impl_->vocab[static_cast<size_t>(id)];
}

std::optional<int32_t> Tokenizer::token_id(std::string_view token) const {
  auto it = impl_->added_by_content.find(token);
  if (it != impl_->added_by_content.end()) return impl_->added[static_cast<size_t>(it->second)].id;
  return impl_->lookup(token);
}

bool Tokenizer::is_special(int32_t id) const {
  if (id < 0 || id >= impl_->size()) return false;
  const int32_t index = impl_->added_index_by_id[static_cast<size_t>(id)];
  return index >= 0 && impl_->added[static_cast<size_t>(index)].special;
}

const std::vector<AddedToken>& Tokenizer::added_tokens() const { return impl_->added; }
int32_t Tokenizer::vocab_size() const { return impl_->size(); }
std::optional<int32_t> Tokenizer::bos_id() const { return impl_->bos; }
std::optional<int32_t> Tokenizer::eos_id() const { return impl_->eos; }
bool Tokenizer::ends_in_byte_run(std::span<const int32_t> ids, bool skip_special) const {
  const auto& steps = impl_->decoder;
  if (std::none_of(steps.begin(), steps.end(), [](const tok::DecoderStep& d) {
        return d.kind == tok::DecoderStep::Kind::ByteFallback;
      })) {
    return false;
  }
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    const int32_t id = *it;
    if (id < 0 || id >= impl_->size()) return false;
    // Tokens decode leaves out do not separate the bytes on either side of them.
    if (skip_special && impl_->skip_on_decode[static_cast<size_t>(id)]) continue;
    return tok::parse_byte_token(impl_->decoder_text(id)).has_value();
  }
  return false;
}

std::string_view Tokenizer::kind() const { return impl_->kind; }
std::string_view Tokenizer::pre_tokenizer() const { return impl_->pre_tokenizer_name; }

DecodeStream::DecodeStream(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(tokenizer), skip_special_(skip_special) {}

std::string DecodeStream::pending() const {
  const std::span<const int32_t> ids(ids_);
  if (window_end_ > 0) {
    const std::string text = tokenizer_.decode(ids.subspan(window_begin_), skip_special_);
    if (text.size() >= window_text_.size() &&
        text.compare(0, window_text_.size(), window_text_) == 0) {
      return text.substr(window_text_.size());
    }
  }
  // Nothing given out yet, or a decoder that changes the anchor's text when more follows (none
  // of the supported ones is known to): the whole sequence.
  const std::string text = tokenizer_.decode(ids, skip_special_);
  return text.size() > released_ ? text.substr(released_) : std::string();
}

std::string DecodeStream::push(int32_t id) {
  if (id < 0 || id >= tokenizer_.vocab_size()) {
    throw Error("decode: token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                std::to_string(tokenizer_.vocab_size() - 1) + ")");
  }
  ids_.push_back(id);
  if (tokenizer_.ends_in_byte_run(ids_, skip_special_)) return {};
  std::string text = pending();
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  if (text.empty() || std::string_view(text).ends_with(kReplacement)) return {};
  released_ += text.size();
  window_begin_ = window_end_;
  window_end_ = ids_.size();
  window_text_ = tokenizer_.decode(
      std::span<const int32_t>(ids_).subspan(window_begin_, window_end_ - window_begin_),
      skip_special_);
  return text;
}

std::string DecodeStream::flush() {
  std::string text = pending();
  released_ += text.size();
  window_text_.clear();
  window_begin_ = window_end_ = ids_.size();
  return text;
}

}  // namespace emovec
