#include "tokenizer/load_common.h"

#include <vector>

#include "emovec/error.h"

namespace emovec::tok {

void check_id_density(int64_t max_id, size_t entries, const char* where) {
  if (max_id >= 0 && static_cast<uint64_t>(max_id) > 8 * static_cast<uint64_t>(entries) + 65536) {
    throw Error(std::string(where) + ": token id " + std::to_string(max_id) +
                " is far beyond the " + std::to_string(entries) + " entries; the ids are corrupt");
  }
}

void check_id(const Tokenizer::Impl& impl, int32_t id, const char* where) {
  if (id < 0 || id >= impl.size()) {
    throw Error(std::string(where) + ": token id " + std::to_string(id) +
                " is outside the vocabulary (size " + std::to_string(impl.size()) + ")");
  }
}

void add_merge(Tokenizer::Impl& impl, std::string_view left, std::string_view right,
               size_t prefix_len, uint32_t rank, const char* where) {
  const auto quote = [](std::string_view s) {
    std::string q(1, '\'');
    q.append(s);
    q.push_back('\'');
    return q;
  };
  auto a = impl.lookup(left);
  if (!a) {
    throw Error(std::string(where) + ": merge " + std::to_string(rank) + " (" + quote(left) + " " +
                quote(right) + ") names " + quote(left) + ", which is not in the vocabulary");
  }
  auto b = impl.lookup(right);
  if (!b) {
    throw Error(std::string(where) + ": merge " + std::to_string(rank) + " (" + quote(left) + " " +
                quote(right) + ") names " + quote(right) + ", which is not in the vocabulary");
  }
  if (right.size() < prefix_len) {
    throw Error(std::string(where) + ": merge " + std::to_string(rank) + " right side " +
                quote(right) + " is shorter than the continuing-subword prefix");
  }
  std::string joined(left);
  joined.append(right.substr(prefix_len));
  auto merged = impl.lookup(joined);
  if (!merged) {
    throw Error(std::string(where) + ": merge " + std::to_string(rank) + " (" + quote(left) + " " +
                quote(right) + ") makes " + quote(joined) + ", which is not in the vocabulary");
  }
  const uint64_t key =
      (static_cast<uint64_t>(static_cast<uint32_t>(*a)) << 32) | static_cast<uint32_t>(*b);
  // A repeated pair keeps its last rank, as the reference's map does.
  impl.bpe.merges[key] = {rank, *merged};
}

void describe(Tokenizer::Impl& impl) {
  using K = PreTokenizerStep::Kind;
  bool byte_level = false;
  std::vector<std::string> names;
  for (const PreTokenizerStep& s : impl.pre_tokenizer) {
    switch (s.kind) {
      case K::ByteLevel:
        byte_level = true;
        if (s.use_regex) names.emplace_back("gpt2");
        break;
      case K::SplitRegex:
        names.emplace_back(regex_name(s.regex));
        break;
      case K::SplitLiteral:
        names.emplace_back("split");
        break;
      case K::Digits:
        names.emplace_back("digits");
        break;
      case K::Bert:
        names.emplace_back("bert");
        break;
      case K::Metaspace:
        names.emplace_back("metaspace");
        break;
      case K::WhitespaceSplit:
        names.emplace_back("whitespace");
        break;
      case K::Punctuation:
        names.emplace_back("punctuation");
        break;
    }
  }
  if (impl.wordpiece) {
    impl.kind = "wordpiece";
  } else if (byte_level) {
    impl.kind = "byte-level-bpe";
  } else if (impl.bpe.byte_fallback) {
    impl.kind = "sentencepiece-bpe";
  } else {
    impl.kind = "bpe";
  }
  if (names.size() == 2 && names[0] == "digits" && names[1] == "gpt2") {
    impl.pre_tokenizer_name = "smollm";
    return;
  }
  impl.pre_tokenizer_name.clear();
  for (const std::string& n : names) {
    if (!impl.pre_tokenizer_name.empty()) impl.pre_tokenizer_name += '+';
    impl.pre_tokenizer_name += n;
  }
  if (impl.pre_tokenizer_name.empty()) impl.pre_tokenizer_name = "none";
}

}  // namespace emovec::tok
