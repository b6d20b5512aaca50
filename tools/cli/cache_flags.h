// --cache-type-k / --cache-type-v, as llama.cpp spells them: how the KV cache stores keys and
// values (generate, chat, serve).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "emovec/engine.h"
#include "emovec/error.h"

namespace emovec::cli {

struct CacheFlags {
  std::string k = "f32";
  std::string v = "f32";
};

inline void add_cache_flags(CLI::App* cmd, CacheFlags& f) {
  cmd->add_option("--cache-type-k", f.k, "KV cache type for keys: f32, or f16 (half the memory)")
      ->capture_default_str();
  cmd->add_option("--cache-type-v", f.v, "KV cache type for values: f32, or f16")
      ->capture_default_str();
}

inline CacheType cache_type(const std::string& flag, const std::string& value) {
  if (value == "f32") return CacheType::F32;
  if (value == "f16") return CacheType::F16;
  throw Error(flag + " must be f32 or f16, not '" + value + "'");
}

inline void apply_cache_flags(const CacheFlags& f, EngineOptions& e) {
  e.cache_type_k = cache_type("--cache-type-k", f.k);
  e.cache_type_v = cache_type("--cache-type-v", f.v);
}

}  // namespace emovec::cli
