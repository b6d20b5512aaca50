// Extraction of emotion vectors: for every query, a neutral prompt and one prompt per emotion
// (chat template applied); per layer, the vector is the mean over queries of the difference
// between the site's activations under the emotion prompt and under the neutral one.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "emovec/activation_site.h"
#include "emovec/emotion_vector.h"

namespace emovec {

class DecoderModel;
class Engine;

// Queries, de-duplicated in first-occurrence order; ids are positions in this list.
struct QuerySet {
  std::vector<std::string> queries;
  int64_t n_read = 0;  // before de-duplication
  std::string sha256;  // of the de-duplicated queries, one per line
};

// The paper's EmotionQuery.json ({"anger": [...], ...}, read in file order), a JSON array of
// strings, or a text file with one query per line (blank lines skipped). Throws Error for a
// missing file, malformed JSON, a non-string query, or no queries at all.
QuerySet load_queries(const std::string& path);
QuerySet make_query_set(const std::vector<std::string>& raw);

// Ids of the queries held out of extraction (for evaluation): the round(share * n) queries
// whose SHA-256 is smallest, sorted. Depends only on the queries, not their order or the model.
std::vector<int64_t> held_out_queries(const QuerySet& queries, double share);

struct ExtractOptions {
  std::vector<std::string> emotions{kEmotions.begin(), kEmotions.end()};
  ActivationSite site = ActivationSite::AttentionOut;
  std::string method = "mean-diff";  // or "pca"
  std::string mode = "response";     // or "prompt"
  // {query} and {emotion} are replaced. The default wording is the one follow-up work on the
  // paper used.
  std::string neutral_instruction = "Please answer the following query with neutrality: {query}";
  std::string emotion_instruction = "Please answer the following query with {emotion}: {query}";
  int64_t reply_tokens = 48;     // response mode: greedy reply length at most
  int64_t prompt_tokens = 8;     // prompt mode: last prompt tokens averaged over
  double held_out = 0.2;         // share of the queries left out
  int64_t max_queries = 0;       // use at most this many of the remaining queries (0: all)
  int64_t batch_sequences = 32;  // prompts evaluated together
  // Called after each batch with the prompts done and the total.
  std::function<void(int64_t done, int64_t total)> progress;
};

struct ExtractResult {
  std::vector<EmotionVector> vectors;  // one per emotion, in the order asked, then "base"
  std::vector<int64_t> used;           // query ids averaged over
  std::vector<int64_t> held_out;       // query ids left out
  int64_t n_prompts = 0;
  int64_t n_tokens = 0;  // tokens evaluated (prompt suffixes and replies)
  double seconds = 0;
};

// Runs the prompts on `engine` (which should be exact, and whose n_ctx bounds prompt plus
// reply). Deterministic: the same model, queries and options give the same vectors.
ExtractResult extract_emotion_vectors(Engine& engine, const QuerySet& queries,
                                      const ExtractOptions& options);

// The prompt text for a query: the neutral wording when `emotion` is empty.
std::string instruction_for(const ExtractOptions& options, const std::string& query,
                            const std::string& emotion);

// How far replies lean along a vector, as a function of the steering alpha. For each alpha,
// greedy replies to the queries (chat template, user turn only) are generated under
// alpha * v (the paper's positions: the last of every pass), then read again without
// steering; their activations at v's site, averaged over the reply tokens, are projected on
// v's unit direction per layer and averaged over layers and queries. Queries whose reply is
// empty are skipped.
struct ProjectionOptions {
  int64_t reply_tokens = 32;
  int64_t batch_sequences = 64;  // (alpha, query) pairs generated together
};
std::vector<double> reply_projections(Engine& engine, const EmotionVector& v,
                                      const std::vector<std::string>& queries,
                                      const std::vector<float>& alphas,
                                      const ProjectionOptions& options = {});

// SHA-256 of a model's weights: the GGUF file, or a folder's *.safetensors files in name order.
std::string model_checksum(const DecoderModel& model);

}  // namespace emovec
