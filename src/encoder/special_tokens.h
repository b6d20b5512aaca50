// The special tokens a tokenizer's post-processor puts around one text: [CLS] ... [SEP] for
// BERT, <s> ... </s> for RoBERTa. Truncation keeps them, and RoBERTa's pair layout is built from
// them.
#pragma once

#include <cstdint>
#include <vector>

namespace emovec {
class Tokenizer;
}  // namespace emovec

namespace emovec::encoder {

struct SpecialTokens {
  std::vector<int32_t> prefix;  // before the text
  std::vector<int32_t> suffix;  // after it
};

// Found by encoding a one-word text with and without the special tokens; empty when the
// tokenizer adds none.
SpecialTokens special_tokens_around_text(const Tokenizer& tokenizer);

}  // namespace emovec::encoder
