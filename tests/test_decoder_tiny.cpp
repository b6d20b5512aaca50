// Tiny random models saved by transformers in Hugging Face format (tests/data/tiny, made by
// tools/golden/make_tiny_models.py), covering what the shipped files do not: Llama-3.1 rope
// scaling, safetensors weights, Gemma-3 sliding windows shorter than the prompt, attention scale
// from query_pre_attn_scalar, norm weights stored minus one. Full logits and hidden states.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "emovec/decoder.h"
#include "emovec/engine.h"
#include "emovec/gguf.h"
#include "support/activation_capture.h"
#include "support/test_support.h"

namespace emovec {
namespace {

// float32 on both sides over a few small layers: far tighter than the quantised models' bound.
constexpr double kMaxRelativeError = 1e-5;

class TinyDecoder : public ::testing::TestWithParam<std::string> {};

TEST_P(TinyDecoder, MatchesTransformers) {
  const std::string dir = testing::data_path("tiny/" + GetParam());
  const auto model = DecoderModel::load(dir);
  const DecoderHyperParams& h = model->hparams();
  const GgufFile golden = GgufFile::open(dir + "/golden.gguf");
  Engine engine(*model, {.n_threads = 2, .n_ctx = 128, .n_batch = 16, .exact = true});
  const int64_t n_prompts = golden.get("golden.n_prompts").as_int();
  ASSERT_GE(n_prompts, 3);
  double worst_logits = 0, worst_hidden = 0;
  for (int64_t i = 0; i < n_prompts; ++i) {
    std::string p = "p";
    p.append(std::to_string(i));
    const GgufTensorInfo& ids_info = golden.tensor(p + ".ids");
    std::vector<int32_t> ids(static_cast<size_t>(ids_info.elements()));
    std::memcpy(ids.data(), golden.tensor_data(ids_info), ids.size() * sizeof(int32_t));
    const auto n = static_cast<int64_t>(ids.size());
    testing::CaptureAll capture(static_cast<int>(h.n_layer), h.n_embd);
    const BatchEntry e{engine.new_sequence(), ids, true, &capture};
    const Logits logits = engine.decode(std::span<const BatchEntry>(&e, 1));
    const std::vector<float> ref = golden.dequantize(golden.tensor(p + ".logits"));
    ASSERT_EQ(static_cast<int64_t>(ref.size()), n * h.n_vocab);
    for (int64_t pos = 0; pos < n; ++pos) {
      const std::span<const float> row = logits.row(0, pos);
      double diff = 0, scale = 0;
      for (int64_t v = 0; v < h.n_vocab; ++v) {
        const float r = ref[static_cast<size_t>(pos * h.n_vocab + v)];
        diff = std::max(diff, static_cast<double>(std::abs(row[static_cast<size_t>(v)] - r)));
        scale = std::max(scale, static_cast<double>(std::abs(r)));
      }
      worst_logits = std::max(worst_logits, diff / scale);
      EXPECT_LE(diff / scale, kMaxRelativeError)
          << GetParam() << " prompt " << i << " position " << pos;
    }
    for (ActivationSite site :
         {ActivationSite::Residual, ActivationSite::AttentionOut, ActivationSite::MlpOut}) {
      std::string name = p;
      name.append(".hidden.").append(activation_site_name(site));
      const std::vector<float> hidden = golden.dequantize(golden.tensor(name));
      ASSERT_EQ(static_cast<int64_t>(hidden.size()), h.n_layer * n * h.n_embd);
      for (int layer = 0; layer < h.n_layer; ++layer) {
        for (int64_t pos = 0; pos < n; ++pos) {
          const float* ours = capture.row(layer, site, pos);
          const float* r = hidden.data() + (layer * n + pos) * h.n_embd;
          double diff = 0, scale = 0;
          for (int64_t d = 0; d < h.n_embd; ++d) {
            diff = std::max(diff, static_cast<double>(std::abs(ours[d] - r[d])));
            scale = std::max(scale, static_cast<double>(std::abs(r[d])));
          }
          worst_hidden = std::max(worst_hidden, diff / scale);
          EXPECT_LE(diff / scale, kMaxRelativeError)
              << GetParam() << " prompt " << i << " layer " << layer << " "
              << activation_site_name(site) << " position " << pos;
        }
      }
    }
  }
  std::printf("[tiny %s] max relative error: logits %.3g, hidden states %.3g\n", GetParam().c_str(),
              worst_logits, worst_hidden);
}

INSTANTIATE_TEST_SUITE_P(HuggingFaceFolders, TinyDecoder,
                         ::testing::Values("llama31", "qwen2", "gemma3"));

TEST(TinyDecoder, ReadsEachFamilysHyperParameters) {
  const auto llama = DecoderModel::load(testing::data_path("tiny/llama31"));
  EXPECT_EQ(llama->hparams().rope_scaling, RopeScaling::Llama3);
  EXPECT_TRUE(llama->hparams().rope_neox);
  EXPECT_EQ(llama->tokenizer(), nullptr);
  const auto gemma = DecoderModel::load(testing::data_path("tiny/gemma3"));
  EXPECT_EQ(gemma->hparams().sliding_window, 8);
  const std::vector<uint8_t> pattern = {1, 1, 1, 1, 1, 0};
  EXPECT_EQ(gemma->hparams().layer_sliding, pattern);
  EXPECT_FLOAT_EQ(gemma->hparams().attention_scale, 1.0f / std::sqrt(24.0f));
  EXPECT_FLOAT_EQ(gemma->hparams().rope_theta_local, 10000.0f);
  EXPECT_FLOAT_EQ(gemma->hparams().rope_theta, 1e6f);
}

}  // namespace
}  // namespace emovec
