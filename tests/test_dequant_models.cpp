// Dequantises every tensor of every shipped model and compares the SHA-256 of the float32 bytes
// with gguf-py's (tests/golden/dequant_<model>.json, written by
// tools/golden/make_dequant_golden.py). Equal digests mean bit-identical values.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "emovec/model_file.h"
#include "emovec/model_registry.h"
#include "format/sha256.h"
#include "support/test_support.h"

namespace emovec {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? "x" : "") << shape[i];
  return out.str();
}

// Names the first of the leading values that differs, which is all the golden file keeps.
std::string describe_difference(const std::vector<float>& values, const nlohmann::json& head) {
  std::ostringstream out;
  for (size_t i = 0; i < head.size() && i < values.size(); ++i) {
    const double want = std::stod(head[i].get<std::string>());
    if (std::bit_cast<uint32_t>(values[i]) != std::bit_cast<uint32_t>(static_cast<float>(want))) {
      out << "first difference at element " << i << ": emovec " << values[i] << ", gguf-py "
          << head[i].get<std::string>();
      return out.str();
    }
  }
  out << "the first " << head.size() << " values agree; a later value differs";
  return out.str();
}

// Empty when the tensor matches, else what differs.
std::string check_tensor(const ModelFile& model, const nlohmann::json& expected) {
  const std::string name = expected["name"];
  const TensorView* t = model.find_tensor(name);
  if (t == nullptr) return "missing from emovec's tensor list";
  std::ostringstream problems;
  if (tensor_type_name(t->type) != expected["type"].get<std::string>()) {
    problems << "type " << tensor_type_name(t->type) << " vs " << expected["type"] << "; ";
  }
  if (t->shape != expected["shape"].get<std::vector<int64_t>>()) {
    problems << "shape " << shape_text(t->shape) << " vs "
             << shape_text(expected["shape"].get<std::vector<int64_t>>()) << "; ";
  }
  if (t->nbytes != expected["bytes"].get<uint64_t>()) {
    problems << "bytes " << t->nbytes << " vs " << expected["bytes"] << "; ";
  }
  if (!problems.str().empty()) return problems.str();
  const std::vector<float> values = model.dequantize(*t);
  if (static_cast<int64_t>(values.size()) != expected["elements"].get<int64_t>()) {
    return "element count " + std::to_string(values.size());
  }
  Sha256 h;
  h.update(values.data(), values.size() * sizeof(float));
  if (h.finish_hex() != expected["sha256"].get<std::string>()) {
    return "SHA-256 of the values differs: " + describe_difference(values, expected["head"]);
  }
  return {};
}

class DequantModel : public ::testing::TestWithParam<std::string> {};

TEST_P(DequantModel, EveryTensorBitIdenticalToGgufPy) {
  const std::string name = GetParam();
  const nlohmann::json golden =
      testing::read_json(testing::golden_path("dequant_" + name + ".json"));
  const std::unique_ptr<ModelFile> model = open_model_file(testing::model_path(name));
  const auto& expected = golden["tensors"];
  EXPECT_EQ(model->tensors().size(), expected.size());

  // Two workers: the largest model dequantises to about 6 GB of floats.
  std::vector<std::string> failures(expected.size());
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i = next++; i < expected.size(); i = next++) {
      try {
        failures[i] = check_tensor(*model, expected[i]);
      } catch (const std::exception& e) {
        failures[i] = std::string("threw: ") + e.what();
      }
    }
  };
  const unsigned n_threads = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < n_threads; ++i) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();

  size_t matched = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (failures[i].empty()) {
      ++matched;
    } else {
      ADD_FAILURE() << name << ": tensor " << expected[i]["name"] << " (" << expected[i]["type"]
                    << "): " << failures[i];
    }
  }
  std::cout << name << ": " << matched << "/" << expected.size()
            << " tensors bit-identical to gguf-py\n";
}

std::vector<std::string> shipped_model_names() {
  std::vector<std::string> names;
  for (const ShippedModel& m : shipped_models()) {
    if (is_engine_model(m)) names.push_back(m.name);
  }
  return names;
}

INSTANTIATE_TEST_SUITE_P(Shipped, DequantModel, ::testing::ValuesIn(shipped_model_names()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string n = param.param;
                           std::replace_if(
                               n.begin(), n.end(),
                               [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); },
                               '_');
                           return n;
                         });

}  // namespace
}  // namespace emovec
