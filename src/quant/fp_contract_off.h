// Included first by the dequantisers: gguf-py computes d * q and then adds or subtracts in two
// rounded float32 steps, so a fused multiply-add would change the last bit of results.
#pragma once

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
