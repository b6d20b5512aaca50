// The arithmetic nade applies to its regressors' outputs (numpy-free, through pyarrow.compute),
// reproduced to the bit; NadeScorer itself is declared in include/emovec/nade.h.
#pragma once

namespace emovec::eval {

// pyarrow.compute.round(value, ndigits) with its default round_mode "half_to_even", as Arrow
// computes it: scale by 10^ndigits in double, round (ties to even), scale back; a value that
// scales to an integer is returned as is. 0 <= ndigits <= 15.
double arrow_round(double value, int ndigits);

// nade's clip: above 1 becomes 1, below 0 becomes 0, NaN stays NaN.
double nade_clip(double value);

}  // namespace emovec::eval
