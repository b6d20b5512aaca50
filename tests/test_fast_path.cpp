// The default decoding path (int8-quantised activations in the layers' products, as llama.cpp
// does) against the exact float32 path on the golden prompts: top-1 agreement and KL divergence
// of the next-token distributions along the reference continuations, and greedy continuations
// beside llama.cpp's on the same file (tools/peer/make_llamacpp_golden.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "emovec/decoder.h"
#include "emovec/engine.h"
#include "emovec/gguf.h"
#include "emovec/tokenizer.h"
#include "support/test_support.h"

namespace emovec {
namespace {

constexpr int kGroup = 10;  // sequences decoded together (fewer than 16 rows: the fast path)

std::vector<int32_t> ints(const GgufFile& f, const std::string& name) {
  const GgufTensorInfo& t = f.tensor(name);
  std::vector<int32_t> out(static_cast<size_t>(t.elements()));
  std::memcpy(out.data(), f.tensor_data(t), out.size() * sizeof(int32_t));
  return out;
}

std::string key(int64_t i, const char* suffix) {
  std::string s = "p";
  s.append(std::to_string(i)).append(suffix);
  return s;
}

// KL(p || q) of the softmax distributions of two logit rows.
double kl_divergence(std::span<const float> p_logits, std::span<const float> q_logits) {
  const auto log_softmax = [](std::span<const float> l) {
    double m = -INFINITY;
    for (float v : l) m = std::max(m, static_cast<double>(v));
    double s = 0;
    for (float v : l) s += std::exp(static_cast<double>(v) - m);
    const double lse = m + std::log(s);
    std::vector<double> out(l.size());
    for (size_t i = 0; i < l.size(); ++i) out[i] = static_cast<double>(l[i]) - lse;
    return out;
  };
  const std::vector<double> lp = log_softmax(p_logits), lq = log_softmax(q_logits);
  double kl = 0;
  for (size_t i = 0; i < lp.size(); ++i) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
  return kl;
}

int32_t argmax(std::span<const float> l) {
  return static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
}

// Fast-path next-token distributions against the exact path's, position by position.
struct Agreement {
  int64_t positions = 0, top1 = 0;
  double kl_sum = 0, kl_max = 0;

  void add(std::span<const float> exact, std::span<const float> fast) {
    const double kl = kl_divergence(exact, fast);
    kl_sum += kl;
    kl_max = std::max(kl_max, kl);
    top1 += argmax(exact) == argmax(fast);
    ++positions;
  }
  // Prints the figures and checks the fast path's budget: at least 99% top-1 agreement (or
  // min_top1) and mean KL at most 1e-3.
  void check(const std::string& name, double min_top1 = 0.99) const {
    const double agreement = static_cast<double>(top1) / static_cast<double>(positions);
    const double mean_kl = kl_sum / static_cast<double>(positions);
    std::printf(
        "[%s] fast vs exact over %lld positions: top-1 agreement %.4f, mean KL %.3g, max KL "
        "%.3g\n",
        name.c_str(), static_cast<long long>(positions), agreement, mean_kl, kl_max);
    EXPECT_GE(agreement, min_top1);
    EXPECT_LE(mean_kl, 1e-3);
  }
};

class FastPath : public ::testing::TestWithParam<std::string> {};

TEST_P(FastPath, AgreesWithTheExactPathAndWithLlamaCpp) {
  const std::string name = GetParam();
  const GgufFile golden = GgufFile::open(testing::golden_path("decoder_" + name + ".gguf"));
  const auto model = DecoderModel::load(testing::model_path(name));
  Engine exact(*model, {.n_threads = 2, .n_ctx = 1024, .exact = true});
  Engine fast(*model, {.n_threads = 2, .n_ctx = 1024, .exact = false});
  const int64_t n_prompts = golden.get("golden.n_prompts").as_int();

  // 1. Teacher-forced along the transformers greedy continuation.
  Agreement agreement;
  // 2. Free-running greedy on the fast path, compared with llama.cpp's.
  std::vector<std::vector<int32_t>> greedy(static_cast<size_t>(n_prompts));
  for (int64_t g0 = 0; g0 < n_prompts; g0 += kGroup) {
    const int64_t g1 = std::min<int64_t>(n_prompts, g0 + kGroup);
    std::vector<SequenceId> se, sf, sg;
    std::vector<std::vector<int32_t>> forced;
    std::vector<BatchEntry> be, bf, bg;
    std::vector<std::vector<int32_t>> prompts;
    for (int64_t i = g0; i < g1; ++i) {
      prompts.push_back(ints(golden, key(i, ".ids")));
      forced.push_back(ints(golden, key(i, ".greedy.ids")));
      se.push_back(exact.new_sequence());
      sf.push_back(fast.new_sequence());
      sg.push_back(fast.new_sequence());
    }
    for (size_t k = 0; k < prompts.size(); ++k) {
      be.push_back({se[k], prompts[k]});
      bf.push_back({sf[k], prompts[k]});
      bg.push_back({sg[k], prompts[k]});
    }
    Logits le = exact.decode(be), lf = fast.decode(bf), lg = fast.decode(bg);
    const size_t steps = forced[0].size();
    std::vector<int32_t> next(prompts.size());
    for (size_t step = 0; step < steps; ++step) {
      for (size_t k = 0; k < prompts.size(); ++k) {
        agreement.add(le.last(k), lf.last(k));
        greedy[static_cast<size_t>(g0) + k].push_back(argmax(lg.last(k)));
      }
      if (step + 1 == steps) break;
      be.clear();
      bf.clear();
      bg.clear();
      for (size_t k = 0; k < prompts.size(); ++k) {
        be.push_back({se[k], std::span<const int32_t>(&forced[k][step], 1)});
        bf.push_back({sf[k], std::span<const int32_t>(&forced[k][step], 1)});
        bg.push_back(
            {sg[k], std::span<const int32_t>(&greedy[static_cast<size_t>(g0) + k].back(), 1)});
      }
      le = exact.decode(be);
      lf = fast.decode(bf);
      lg = fast.decode(bg);
    }
  }
  agreement.check(name);

  const nlohmann::json peer =
      testing::read_json(testing::golden_path("llamacpp_greedy_" + name + ".json"));
  int identical = 0;
  double prefix = 0;
  for (int64_t i = 0; i < n_prompts; ++i) {
    const auto ref = peer["results"][static_cast<size_t>(i)]["ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t>& got = greedy[static_cast<size_t>(i)];
    const auto diff = std::mismatch(ref.begin(), ref.end(), got.begin());
    prefix += static_cast<double>(diff.first - ref.begin());
    if (diff.first == ref.end()) ++identical;
  }
  std::printf(
      "[%s] fast path vs llama.cpp: %d of %lld greedy continuations identical, mean "
      "common prefix %.1f of %zu tokens\n",
      name.c_str(), identical, static_cast<long long>(n_prompts),
      prefix / static_cast<double>(n_prompts), greedy[0].size());
}

// The fast path with a float16 KV cache (--cache-type-k f16 --cache-type-v f16, llama.cpp's
// default; emovec's is float32) against the exact path, teacher-forced along the reference
// continuations of the golden prompts. The two roundings add up: SmolLM2's top-1 agreement is
// 0.9906 over these 1280 positions (0.9953 with the float32 cache), at the edge of the default
// path's 0.99, so the option has its own measured bound of 0.98; mean KL stays within 1e-3.
// (Long prompts read the widened cache through SGEMM: Engine.LongPromptAttentionEqualsRowByRow
// checks that path with it.)
TEST(FastPath, HalfKvCacheStaysWithinTheBudget) {
  for (const std::string name : {"smollm2-135m-instruct", "gemma-3-270m"}) {
    const GgufFile golden = GgufFile::open(testing::golden_path("decoder_" + name + ".gguf"));
    const auto model = DecoderModel::load(testing::model_path(name));
    Engine exact(*model, {.n_threads = 2, .n_ctx = 1024, .exact = true});
    Engine fast(*model, {.n_threads = 2,
                         .n_ctx = 1024,
                         .exact = false,
                         .cache_type_k = CacheType::F16,
                         .cache_type_v = CacheType::F16});
    const int64_t n_prompts = golden.get("golden.n_prompts").as_int();
    Agreement agreement;
    for (int64_t g0 = 0; g0 < n_prompts; g0 += kGroup) {
      std::vector<std::vector<int32_t>> prompts, forced;
      std::vector<SequenceId> se, sf;
      std::vector<BatchEntry> be, bf;
      for (int64_t i = g0; i < std::min<int64_t>(n_prompts, g0 + kGroup); ++i) {
        prompts.push_back(ints(golden, key(i, ".ids")));
        forced.push_back(ints(golden, key(i, ".greedy.ids")));
        se.push_back(exact.new_sequence());
        sf.push_back(fast.new_sequence());
        be.push_back({se.back(), prompts.back()});
        bf.push_back({sf.back(), prompts.back()});
      }
      Logits le = exact.decode(be), lf = fast.decode(bf);
      for (size_t step = 0;; ++step) {
        for (size_t k = 0; k < prompts.size(); ++k) agreement.add(le.last(k), lf.last(k));
        if (step + 1 == forced[0].size()) break;
        for (size_t k = 0; k < prompts.size(); ++k) {
          be[k].tokens = bf[k].tokens = std::span<const int32_t>(&forced[k][step], 1);
        }
        le = exact.decode(be);
        lf = fast.decode(bf);
      }
    }
    agreement.check(name + ", float16 KV cache", 0.98);
  }
}

// The golden models' heads are Q8_0 (int16 activations on the fast path); Qwen2.5-1.5B's is Q6_K,
// which takes int8 ones. Its fast path against its exact path, teacher-forced along the exact
// path's greedy continuations of the Qwen golden prompts (the same vocabulary), decoded in
// groups of fewer than 16 rows as the fast path decodes.
TEST(FastPath, KQuantHead) {
  const GgufFile golden =
      GgufFile::open(testing::golden_path("decoder_qwen2.5-coder-0.5b-instruct.gguf"));
  const std::string path = testing::model_path("qwen2.5-coder-1.5b-instruct");
  ASSERT_EQ(GgufFile::open(path).tensor("output.weight").type, TensorType::Q6_K);
  const auto model = DecoderModel::load(path);
  Engine exact(*model, {.n_threads = 2, .n_ctx = 512, .exact = true});
  Engine fast(*model, {.n_threads = 2, .n_ctx = 512, .exact = false});
  constexpr int64_t kPrompts = 10, kSteps = 32;
  Agreement agreement;
  for (int64_t g0 = 0; g0 < kPrompts; g0 += kGroup) {
    std::vector<std::vector<int32_t>> prompts;
    std::vector<SequenceId> se, sf;
    std::vector<BatchEntry> be, bf;
    for (int64_t i = g0; i < std::min<int64_t>(kPrompts, g0 + kGroup); ++i) {
      prompts.push_back(ints(golden, key(i, ".ids")));
      se.push_back(exact.new_sequence());
      sf.push_back(fast.new_sequence());
    }
    for (size_t k = 0; k < prompts.size(); ++k) {
      be.push_back({se[k], prompts[k]});
      bf.push_back({sf[k], prompts[k]});
    }
    Logits le = exact.decode(be), lf = fast.decode(bf);
    std::vector<int32_t> next(prompts.size());
    for (int64_t step = 0; step < kSteps; ++step) {
      be.clear();
      bf.clear();
      for (size_t k = 0; k < prompts.size(); ++k) {
        agreement.add(le.last(k), lf.last(k));
        next[k] = argmax(le.last(k));
        be.push_back({se[k], std::span<const int32_t>(&next[k], 1)});
        bf.push_back({sf[k], std::span<const int32_t>(&next[k], 1)});
      }
      le = exact.decode(be);
      lf = fast.decode(bf);
    }
  }
  agreement.check("qwen2.5-coder-1.5b-instruct");
}

// A prompt is evaluated in float32 on the fast path too, however it is split: in one pass, in
// parts of fewer than 16 tokens (a chat turn after its cached prefix; the few-row kernels), in
// a last part of one token marked BatchEntry::prompt (a prompt cached but for its last token),
// or chunked by the engine down to a last chunk of one token (unmarked: the entry's length
// decides). Its last position's logits are then the exact path's up to float rounding, where
// int8 activations move them by about 1e-2. A decoding step (one unmarked token per entry)
// still goes through the int8 kernels.
TEST(FastPath, APromptIsEvaluatedInFloat32HoweverItIsSplit) {
  const auto model = DecoderModel::load(testing::model_path("smollm2-135m-instruct"));
  const std::vector<int32_t> prompt = model->tokenizer()->encode(
      "The lighthouse keeper counted the ships that passed the rocks each night, and wrote their "
      "names in a book that nobody else ever read.");
  const auto n = static_cast<int64_t>(prompt.size());
  ASSERT_GE(n, 20);
  const auto part = [&](int64_t a, int64_t b) {
    return std::span<const int32_t>(prompt.data() + a, static_cast<size_t>(b - a));
  };
  const auto decode = [](Engine& e, SequenceId s, std::span<const int32_t> tokens,
                         bool is_prompt = false) {
    BatchEntry b{s, tokens};
    b.prompt = is_prompt;
    return e.decode(std::span<const BatchEntry>(&b, 1));
  };
  Engine exact(*model, {.n_threads = 2, .n_ctx = 256, .exact = true});
  const SequenceId se = exact.new_sequence();
  const Logits le = decode(exact, se, prompt);
  const std::vector<float> reference(le.last(0).begin(), le.last(0).end());

  // Parts of the prompt, each fed in its own call, marked as a prompt or not.
  const auto split_run = [&](Engine& e, std::vector<int64_t> cuts, bool mark = true) {
    const SequenceId s = e.new_sequence();
    cuts.push_back(n);
    int64_t from = 0;
    std::vector<float> last;
    for (const int64_t cut : cuts) {
      const Logits l = decode(e, s, part(from, cut), mark);
      from = cut;
      if (cut == n) last.assign(l.last(0).begin(), l.last(0).end());
    }
    return last;
  };
  Engine fast(*model, {.n_threads = 2, .n_ctx = 256});
  const double whole = testing::max_relative_difference(split_run(fast, {}), reference);
  const double tail10 = testing::max_relative_difference(split_run(fast, {n - 10}), reference);
  const double tail2 = testing::max_relative_difference(split_run(fast, {n - 2}), reference);
  const double last1 = testing::max_relative_difference(split_run(fast, {n - 1}), reference);
  Engine chunked(*model, {.n_threads = 2, .n_ctx = 256, .n_batch = n - 1});  // n - 1, then 1
  const double tail1 = testing::max_relative_difference(split_run(chunked, {}, false), reference);
  std::printf(
      "last prompt position against the exact path: whole %.2g, last 10 apart %.2g, last 2 "
      "apart %.2g, last 1 apart %.2g, engine chunks of n - 1 and 1 %.2g\n",
      whole, tail10, tail2, last1, tail1);
  EXPECT_LT(whole, 1e-4);
  EXPECT_LT(tail10, 1e-4);
  EXPECT_LT(tail2, 1e-4);
  EXPECT_LT(last1, 1e-4);
  EXPECT_LT(tail1, 1e-4);

  // The next token, a decoding step, on both paths.
  const int32_t next = argmax(reference);
  const Logits step_exact = decode(exact, se, std::span<const int32_t>(&next, 1));
  const SequenceId sf = fast.new_sequence();
  decode(fast, sf, prompt);
  const Logits step_fast = decode(fast, sf, std::span<const int32_t>(&next, 1));
  const double step = testing::max_relative_difference(step_fast.last(0), step_exact.last(0));
  std::printf("decoding step against the exact path: %.2g\n", step);
  EXPECT_GT(step, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(ShippedModels, FastPath,
                         ::testing::Values("smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct",
                                           "gemma-3-270m"),
                         [](const auto& param_info) {
                           return testing::test_name(param_info.param);
                         });

}  // namespace
}  // namespace emovec
