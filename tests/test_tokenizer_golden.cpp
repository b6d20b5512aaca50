// Token ids of every shipped tokenizer against the reference (transformers for the GGUF models,
// the `tokenizers` library for MiniLM), recorded by tools/golden/make_tokenizer_golden.py.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "emovec/model_file.h"
#include "emovec/tokenizer.h"
#include "support/test_support.h"

namespace emovec {
namespace {

using nlohmann::json;

std::string escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\\')
      out += "\\\\";
    else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Ids with their token texts, marking where `got` first departs from `want`.
std::string describe_ids(const Tokenizer& tok, const std::vector<int32_t>& want,
                         const std::vector<int32_t>& got) {
  size_t first = 0;
  while (first < want.size() && first < got.size() && want[first] == got[first]) ++first;
  const auto show = [&](const std::vector<int32_t>& ids) {
    std::ostringstream os;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i == first) os << ">>> ";
      std::string text;
      try {
        text = tok.token_text(ids[i]);
      } catch (const std::exception&) {
        text = "?";
      }
      os << ids[i] << "'" << escape(text) << "' ";
    }
    return os.str();
  };
  std::ostringstream os;
  os << "first difference at position " << first << "\n  reference: " << show(want)
     << "\n  emovec:    " << show(got);
  return os.str();
}

class TokenizerGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerGolden, MatchesReference) {
  const std::string name = GetParam();
  // EMOVEC_TOKENIZER_GOLDEN_DIR points the test at other files of the same format, e.g. a larger
  // set written by make_tokenizer_golden.py --out DIR --count N for a one-off run.
  const char* dir = std::getenv("EMOVEC_TOKENIZER_GOLDEN_DIR");
  const std::string file = "tokenize_" + name + ".json";
  const json golden =
      testing::read_json(dir ? std::string(dir) + "/" + file : testing::golden_path(file));
  const auto model = open_model_file(testing::model_path(name));
  const auto tok = load_tokenizer(*model);
  const json& cases = golden.at("cases");
  ASSERT_GE(cases.size(), 2000u) << "the golden file should hold at least 2000 strings";

  size_t mismatches = 0, decode_mismatches = 0, roundtrips = 0, roundtrip_failures = 0;
  size_t reported = 0;
  const auto report = [&](const std::string& what) {
    if (reported++ < 3) ADD_FAILURE() << name << ": " << what;
  };
  for (const json& c : cases) {
    const std::string text = c.at("text").get<std::string>();
    const auto ids = c.at("ids").get<std::vector<int32_t>>();
    const auto ids_special = c.at("ids_special").get<std::vector<int32_t>>();
    const auto ids_plain =
        c.contains("ids_plain") ? c.at("ids_plain").get<std::vector<int32_t>>() : ids;

    const struct {
      const char* what;
      bool add_special, parse_special;
      const std::vector<int32_t>& want;
    } checks[] = {{"encode(add_special=false)", false, true, ids},
                  {"encode(add_special=true)", true, true, ids_special},
                  {"encode(add_special=false, parse_special=false)", false, false, ids_plain}};
    bool ok = true;
    for (const auto& check : checks) {
      const auto got = tok->encode(text, check.add_special, check.parse_special);
      if (got != check.want) {
        ok = false;
        report(std::string(check.what) + " differs for \"" + escape(text) + "\"\n" +
               describe_ids(*tok, check.want, got));
      }
    }
    mismatches += !ok;

    const std::string decoded = c.contains("decoded") ? c.at("decoded").get<std::string>() : text;
    const std::string decoded_skip =
        c.contains("decoded_skip") ? c.at("decoded_skip").get<std::string>() : decoded;
    const std::string got_decoded = tok->decode(ids);
    const std::string got_skip = tok->decode(ids_special, /*skip_special=*/true);
    if (got_decoded != decoded || got_skip != decoded_skip) {
      ++decode_mismatches;
      report("decode differs for \"" + escape(text) + "\"\n  reference: \"" + escape(decoded) +
             "\" / skip_special: \"" + escape(decoded_skip) + "\"\n  emovec:    \"" +
             escape(got_decoded) + "\" / skip_special: \"" + escape(got_skip) + "\"");
    }
    if (c.at("roundtrip").get<bool>()) {
      ++roundtrips;
      const std::string back = tok->decode(tok->encode(text, false));
      if (back != text) {
        ++roundtrip_failures;
        report("decode(encode(s)) != s for \"" + escape(text) + "\": \"" + escape(back) + "\"");
      }
    }
  }
  EXPECT_EQ(mismatches, 0u) << name << ": strings whose ids differ from the reference";
  EXPECT_EQ(decode_mismatches, 0u) << name << ": strings whose decode differs";
  EXPECT_EQ(roundtrip_failures, 0u) << name << ": round trips that fail";
  std::printf(
      "[ golden   ] %s: %zu strings, %zu ids mismatches, %zu decode mismatches, "
      "%zu/%zu round trips hold\n",
      name.c_str(), cases.size(), mismatches, decode_mismatches, roundtrips - roundtrip_failures,
      roundtrips);
}

INSTANTIATE_TEST_SUITE_P(Shipped, TokenizerGolden,
                         ::testing::Values("smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct",
                                           "qwen2.5-coder-1.5b-instruct", "gemma-3-270m",
                                           "all-minilm-l6-v2"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string n = param.param;
                           for (char& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace emovec
