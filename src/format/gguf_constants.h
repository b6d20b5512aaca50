// Facts of the GGUF layout shared by the reader and the writer.
#pragma once

#include <cstdint>

namespace emovec::gguf {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr uint32_t kWriteVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;
// Arrays of arrays deeper than this are refused: no real file nests, and it bounds recursion.
constexpr int kMaxArrayDepth = 8;
constexpr const char* kAlignmentKey = "general.alignment";

// Bytes a value of a fixed-size type takes, or 0 for strings and arrays.
constexpr uint64_t fixed_size(uint32_t type) {
  switch (type) {
    case 0:
    case 1:
    case 7:
      return 1;  // uint8, int8, bool
    case 2:
    case 3:
      return 2;  // uint16, int16
    case 4:
    case 5:
    case 6:
      return 4;  // uint32, int32, float32
    case 10:
    case 11:
    case 12:
      return 8;  // uint64, int64, float64
    default:
      return 0;
  }
}

// The fewest bytes one value of `type` can take in a file, for bounding counts read from it.
constexpr uint64_t min_encoded_size(uint32_t type) {
  if (type == 8) return 8;      // string: its length
  if (type == 9) return 4 + 8;  // array: element type and length
  return fixed_size(type);
}

}  // namespace emovec::gguf
