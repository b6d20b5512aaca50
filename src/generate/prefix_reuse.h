// Which cached positions of a sequence a new run may keep (Generator across turns, the
// scheduler's prompt cache): the tokens a prompt shares with the cached ones, as long as no hook
// changed them and this run's hook does not need to see them, and never the prompt's last token
// (its logits are needed).
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>

#include "emovec/activation_site.h"

namespace emovec::detail {

// The leading positions of `prompt` whose keys and values may come from a sequence caching
// `cached`, of which the first `unhooked` were evaluated as without a hook.
inline int64_t reusable_prefix(std::span<const int32_t> cached, int64_t unhooked,
                               std::span<const int32_t> prompt, const ActivationHook* hook) {
  const auto n_prompt = static_cast<int64_t>(prompt.size());
  int64_t limit = std::min({unhooked, static_cast<int64_t>(cached.size()), n_prompt - 1});
  if (hook != nullptr) limit = std::min(limit, hook->first_position_seen(n_prompt));
  int64_t common = 0;
  while (common < limit &&
         cached[static_cast<size_t>(common)] == prompt[static_cast<size_t>(common)]) {
    ++common;
  }
  return common;
}

// After a run that re-used `reused` positions, evaluated the rest of an n_prompt-token prompt
// and the reply with `hook`, and left `length` positions cached: how many of them are as
// without a hook.
inline int64_t unhooked_after(int64_t length, int64_t reused, int64_t n_prompt,
                              const ActivationHook* hook) {
  if (hook == nullptr) return length;
  return std::min(length, std::max(reused, hook->first_position_seen(n_prompt)));
}

}  // namespace emovec::detail
