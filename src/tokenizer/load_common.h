// Helpers shared by the tokenizer.json and GGUF loaders.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer_impl.h"

namespace emovec::tok {

// Token ids above this are refused: no real vocabulary comes near, and a bogus id must not make
// the loader allocate gigabytes.
constexpr int64_t kMaxTokenId = (int64_t{1} << 24) - 1;

// Refuses a vocabulary whose ids are mostly holes (a few entries with huge ids).
void check_id_density(int64_t max_id, size_t entries, const char* where);
void check_id(const Tokenizer::Impl& impl, int32_t id, const char* where);

// Adds merge `left right` (rank `rank`) to impl.bpe, checking that both sides and their
// concatenation (`right` less the continuing-subword prefix) are tokens.
void add_merge(Tokenizer::Impl& impl, std::string_view left, std::string_view right,
               size_t prefix_len, uint32_t rank, const char* where);

// Sets impl.kind and impl.pre_tokenizer_name from the pipeline.
void describe(Tokenizer::Impl& impl);

}  // namespace emovec::tok
