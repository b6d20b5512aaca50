// libFuzzer target: parse arbitrary bytes as GGUF, then touch everything a caller would: every
// metadata value through every accessor, the model config and JSON summary, and the dequantised
// values of every tensor small enough to decode quickly. Only emovec::Error may escape the
// library; anything else (a crash, a sanitizer report, another exception) is a finding.
#include <cstddef>
#include <cstdint>
#include <span>

#include "emovec/error.h"
#include "emovec/gguf.h"
#include "emovec/model_file.h"

namespace {

constexpr uint64_t kMaxDequantBytes = 1 << 20;

template <typename F>
void ignoring_errors(F f) {
  try {
    f();
  } catch (const emovec::Error&) {
  }
}

void walk(const emovec::GgufValue& v) {
  ignoring_errors([&] { (void)v.as_uint(); });
  ignoring_errors([&] { (void)v.as_int(); });
  ignoring_errors([&] { (void)v.as_double(); });
  ignoring_errors([&] { (void)v.as_bool(); });
  ignoring_errors([&] { (void)v.as_string(); });
  ignoring_errors([&] { (void)v.as_string_array(); });
  ignoring_errors([&] { (void)v.as_float_array(); });
  ignoring_errors([&] { (void)v.as_int32_array(); });
  if (v.is_array()) {
    for (const emovec::GgufValue& e : v.as_array()) walk(e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    emovec::GgufFile file = emovec::GgufFile::from_bytes(std::span<const uint8_t>(data, size));
    for (const auto& [key, value] : file.metadata()) {
      walk(value);
      (void)file.find(key);
    }
    for (const emovec::GgufTensorInfo& t : file.tensors()) {
      (void)file.tensor_data(t);
      if (t.nbytes <= kMaxDequantBytes && emovec::traits(t.type).can_dequantize) {
        const std::vector<float> values = file.dequantize(t);
        (void)values;
      }
    }
    const auto model = emovec::model_file_from_gguf(std::move(file));
    (void)model->config();
    (void)model->metadata_summary().dump();
    ignoring_errors([&] { (void)model->chat_template(); });
    for (const emovec::TensorView& t : model->tensors()) {
      if (t.nbytes <= kMaxDequantBytes && emovec::traits(t.type).can_dequantize) {
        (void)model->dequantize(t);
      }
    }
  } catch (const emovec::Error&) {
  }
  return 0;
}
