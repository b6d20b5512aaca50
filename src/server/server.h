// `emovec serve`: an OpenAI-compatible HTTP server over one model, with per-request emotion
// mixes decoded together by the continuous-batching scheduler, and a chat page at "/".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "emovec/emotion_vector.h"
#include "server/api.h"

namespace emovec {
class DecoderModel;
class Engine;
}  // namespace emovec

namespace emovec::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  std::string model_id;
  std::string api_key;  // empty: no authentication
  size_t max_body_bytes = 1 << 20;
  int max_parallel = 4;
  int prompt_cache = -1;  // finished sequences kept for cache_prompt (-1: max_parallel)
  int max_queue = 64;
  SteeringRequest default_steering;  // for requests without "emotion" / "steering"
};

struct NamedVector {
  EmotionVector vector;
  std::string source;  // the file it came from
};

// Serves until SIGINT or SIGTERM (which end the running requests); prints "listening on
// http://HOST:PORT" on stderr once it accepts connections. Throws Error when it cannot bind.
void serve(const DecoderModel& model, Engine& engine, std::vector<NamedVector> vectors,
           const ServerOptions& options);

}  // namespace emovec::server
