// Bounds that keep any template, however hostile, from crashing or hanging the renderer. They sit
// well above what real chat templates need; Python's own recursion limit plays this role in Jinja.
#pragma once

#include <cstddef>
#include <cstdint>

namespace emovec::chat {

inline constexpr int kMaxNesting = 200;              // nested containers in a value
inline constexpr size_t kMaxItems = 1u << 20;        // items in one list or dict
inline constexpr int64_t kMaxRange = 100000;         // jinja2.sandbox.MAX_RANGE
inline constexpr size_t kMaxOutputBytes = 8u << 20;  // rendered text, and any one string
inline constexpr uint64_t kMaxWork = 1'500'000;      // work units per render (see WorkMeter)
inline constexpr int kMaxCallDepth = 48;             // nested macro calls
inline constexpr int kMaxParseDepth = 150;           // parser recursion (parentheses, blocks)
inline constexpr int kMaxExprDepth = 300;            // depth of one expression tree
inline constexpr int kMaxEvalDepth = 1000;           // nested statement/expression evaluation

// Work done by one render in rough units of time: a statement or loop iteration is one unit,
// copying text costs a unit per kBytesPerWorkUnit bytes and copying items one per
// kItemsPerWorkUnit, so loops over large values stop as soon as plain loops do.
inline constexpr uint64_t kBytesPerWorkUnit = 1024;
inline constexpr uint64_t kItemsPerWorkUnit = 64;

// The meter of the render running on this thread; charge_work() is a no-op when none is.
class WorkMeter {
 public:
  WorkMeter();
  ~WorkMeter();
  WorkMeter(const WorkMeter&) = delete;
  WorkMeter& operator=(const WorkMeter&) = delete;
  void charge(uint64_t units);

 private:
  uint64_t used_ = 0;
  WorkMeter* previous_;
};
void charge_work(uint64_t units);
inline void charge_bytes(size_t bytes) { charge_work(bytes / kBytesPerWorkUnit); }
inline void charge_items(size_t items) { charge_work(items / kItemsPerWorkUnit); }

}  // namespace emovec::chat
