// What differs between decoder families, as data: hyper-parameters read from a GGUF file or a
// Hugging Face config.json, and the tensor names of each role in either format.
#pragma once

#include <string>

#include "emovec/decoder.h"

namespace emovec {

class ModelFile;

// Reads the hyper-parameters; throws Error for an unknown architecture or missing/invalid ones.
DecoderHyperParams read_decoder_hparams(const ModelFile& file);

// The file's name for a role: role names are GGUF's ("token_embd", "output_norm", "output",
// "rope_freqs", and per layer "attn_norm", "attn_q", ..., "post_ffw_norm"), `suffix` is
// "weight" or "bias", layer -1 for tensors outside the layers.
std::string tensor_name(const ModelFile& file, const std::string& architecture,
                        const std::string& role, int layer, const std::string& suffix = "weight");

}  // namespace emovec
