// SHA-256 against FIPS 180-4 example vectors and digests printed by Python's hashlib.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "format/sha256.h"

namespace emovec {
namespace {

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>((i * 7 + 3) % 251);
  return out;
}

TEST(Sha256, FipsExamples) {
  EXPECT_EQ(sha256_hex(std::string_view("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex(std::string_view("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      sha256_hex(std::string_view("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, MillionAInPieces) {
  Sha256 h;
  const std::string chunk(999, 'a');  // not a multiple of the block size
  size_t fed = 0;
  while (fed + chunk.size() <= 1000000) {
    h.update(chunk);
    fed += chunk.size();
  }
  h.update(std::string(1000000 - fed, 'a'));
  EXPECT_EQ(h.finish_hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// hashlib.sha256(bytes((i * 7 + 3) % 251 for i in range(n))).hexdigest(): lengths around the
// padding boundaries (55/56 bytes, one block, two blocks).
TEST(Sha256, MatchesPythonHashlibAtPaddingBoundaries) {
  const std::vector<std::pair<size_t, std::string>> expected = {
      {1, "084fed08b978af4d7d196a7446a86b58009e636b611db16211b65a9aadff29c5"},
      {55, "1deace58c745f3ecadde68a5923f494c3703fa73f0306483ccb898a5826e8d70"},
      {56, "06dbe23685750e4d3881ded95047abaf93fa8f9c5d3501dc57c717a72ff1398e"},
      {63, "47fb38b12335c9298d09280515c0666489a189d1554bb0ac1a0740806ce9d8b6"},
      {64, "dfa798724b1a8014994f363e5da7474ed26ce3757fb29e07aa47ad5a9352d37b"},
      {65, "dd2eab5a5507d7717c63ce953d9ac61752c21e664425ad1227054722a0d97f69"},
      {119, "c6e0f435df5d7d265baacca31e0602c00aa22fa6d3819aed664649294c743756"},
      {120, "17eb8960823a644bde3065620bb9d45931fe8993fd8eb692a17aff0fd725db6a"},
      {1000, "a9425c416f534025a4e2422bd14adba4ec3d4a68d10c3329be8df612964d2b6e"},
      {100000, "5889ab642baa09c41570b8888cbf45f3762152cea2490ea6b150208a99c92b10"},
  };
  for (const auto& [n, digest] : expected) {
    const std::vector<uint8_t> bytes = pattern(n);
    EXPECT_EQ(sha256_hex(bytes), digest) << n << " bytes at once";
    Sha256 h;  // the same bytes fed one at a time
    for (uint8_t b : bytes) h.update(&b, 1);
    EXPECT_EQ(h.finish_hex(), digest) << n << " bytes one by one";
  }
}

}  // namespace
}  // namespace emovec
