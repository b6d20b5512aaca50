// libFuzzer target: parse arbitrary bytes as a safetensors file and decode every tensor small
// enough to decode quickly. Only emovec::Error may escape the library.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "emovec/error.h"
#include "emovec/safetensors.h"
#include "emovec/tensor_type.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint64_t kMaxDequantBytes = 1 << 20;
  try {
    const emovec::SafetensorsFile file =
        emovec::SafetensorsFile::from_bytes(std::span<const uint8_t>(data, size));
    for (const auto& [key, value] : file.metadata()) (void)key, (void)value;
    for (const emovec::SafetensorsTensor& t : file.tensors()) {
      if (file.find_tensor(t.name) == nullptr) __builtin_trap();  // every listed tensor is findable
      const uint8_t* bytes = file.tensor_data(t);
      const uint64_t nbytes = t.end - t.begin;
      if (nbytes > kMaxDequantBytes) continue;
      const auto element_bytes = static_cast<uint64_t>(emovec::traits(t.type).block_bytes);
      std::vector<float> values(static_cast<size_t>(nbytes / element_bytes));
      emovec::dequantize(t.type, bytes, values.data(), static_cast<int64_t>(values.size()));
    }
  } catch (const emovec::Error&) {
  }
  return 0;
}
