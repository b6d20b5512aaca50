#include "encoder/special_tokens.h"

#include <algorithm>

#include "emovec/tokenizer.h"

namespace emovec::encoder {

SpecialTokens special_tokens_around_text(const Tokenizer& tokenizer) {
  const std::vector<int32_t> plain = tokenizer.encode("a", false);
  const std::vector<int32_t> full = tokenizer.encode("a", true);
  const auto at = std::search(full.begin(), full.end(), plain.begin(), plain.end());
  if (plain.empty() || at == full.end()) return {};
  return {std::vector<int32_t>(full.begin(), at),
          std::vector<int32_t>(at + static_cast<std::ptrdiff_t>(plain.size()), full.end())};
}

}  // namespace emovec::encoder
