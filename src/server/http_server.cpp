#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "emovec/decoder.h"
#include "emovec/engine.h"
#include "emovec/error.h"
#include "emovec/scheduler.h"
#include "server/server.h"
#include "server/web_page.h"

namespace emovec::server {
namespace {

using nlohmann::json;

constexpr auto kStreamPoll = std::chrono::milliseconds(200);

// SIGINT and SIGTERM, on whichever thread they land (the BLAS library starts threads of its own
// before main), write the signal's number to a pipe that the server's stopping thread reads.
int g_stop_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int sig) {
  const char c = static_cast<char>(sig);
  (void)!write(g_stop_pipe[1], &c, 1);
}

void install_stop_signals() {
  if (g_stop_pipe[0] < 0 && pipe(g_stop_pipe) != 0) {
    throw Error(std::string("cannot make the signal pipe: ") + std::strerror(errno));
  }
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

// The loaded emotion vectors. Loading and unloading replace an immutable list (copy on write,
// rare), so a request takes the current list in one pointer copy and builds its steering from
// it without copying any vector.
class EmotionStore {
 public:
  EmotionStore(int64_t n_layer, int64_t n_embd)
      : n_layer_(n_layer), n_embd_(n_embd), loaded_(std::make_shared<const Loaded>()) {}

  void add(const std::string& name, NamedVector v) {
    check_vector_fits(v.vector, n_layer_, n_embd_, v.source);
    v.vector.emotion = name;
    const std::lock_guard lock(mutex_);
    if (loaded_->find(name) != nullptr) {
      throw ApiError(409, "invalid_request_error",
                     "an emotion named '" + name + "' is loaded already (DELETE it first)", "name");
    }
    auto next = std::make_shared<Loaded>(*loaded_);
    next->vectors.push_back(std::move(v.vector));
    next->sources.push_back(std::move(v.source));
    loaded_ = std::move(next);
  }

  bool remove(const std::string& name) {
    const std::lock_guard lock(mutex_);
    const EmotionVector* v = loaded_->find(name);
    if (v == nullptr) return false;
    const auto i = static_cast<size_t>(v - loaded_->vectors.data());
    auto next = std::make_shared<Loaded>(*loaded_);
    next->vectors.erase(next->vectors.begin() + static_cast<std::ptrdiff_t>(i));
    next->sources.erase(next->sources.begin() + static_cast<std::ptrdiff_t>(i));
    loaded_ = std::move(next);
    return true;
  }

  json entry(const std::string& name) const {
    const auto loaded = snapshot();
    const EmotionVector* v = loaded->find(name);
    return entry(*v, loaded->sources[static_cast<size_t>(v - loaded->vectors.data())]);
  }

  json list() const {
    const auto loaded = snapshot();
    json data = json::array();
    for (size_t i = 0; i < loaded->vectors.size(); ++i) {
      data.push_back(entry(loaded->vectors[i], loaded->sources[i]));
    }
    return {{"object", "list"}, {"data", data}};
  }

  // The summed vectors of a request's mix, or null when it steers nothing.
  std::shared_ptr<const Steering> steering(const SteeringRequest& r) const {
    if (r.mix.empty()) return nullptr;
    const auto loaded = snapshot();
    for (const auto& [name, alpha] : r.mix.terms) {
      const EmotionVector* v = loaded->find(name);
      if (v == nullptr) {
        std::string known;
        for (const EmotionVector& e : loaded->vectors) {
          known += (known.empty() ? "" : ", ") + e.emotion;
        }
        throw bad_request("unknown emotion '" + name +
                              "' (loaded: " + (known.empty() ? std::string("none") : known) + ")",
                          "emotion." + name);
      }
      if (r.site && v->site != *r.site) {
        throw bad_request("the vector for '" + name + "' was extracted at " +
                              std::string(activation_site_name(v->site)) +
                              ", not at steering.site " +
                              std::string(activation_site_name(*r.site)),
                          "steering.site");
      }
    }
    try {
      auto s = std::make_shared<Steering>(
          Steering::build(r.mix, loaded->vectors, n_layer_, n_embd_, r.options));
      if (s->empty()) return nullptr;
      return s;
    } catch (const Error& e) {
      throw bad_request(e.what(), "emotion");
    }
  }

 private:
  struct Loaded {
    std::vector<EmotionVector> vectors;
    std::vector<std::string> sources;  // the file each came from
    const EmotionVector* find(const std::string& name) const {
      for (const EmotionVector& v : vectors) {
        if (v.emotion == name) return &v;
      }
      return nullptr;
    }
  };

  static json entry(const EmotionVector& v, const std::string& source) {
    return {{"id", v.emotion},
            {"object", "emotion"},
            {"site", std::string(activation_site_name(v.site))},
            {"n_layer", v.n_layer},
            {"width", v.width},
            {"source", source}};
  }

  std::shared_ptr<const Loaded> snapshot() const {
    const std::lock_guard lock(mutex_);
    return loaded_;
  }

  int64_t n_layer_;
  int64_t n_embd_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Loaded> loaded_;
};

std::string new_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s-%012llx%04llx", prefix,
                static_cast<unsigned long long>(rng() & 0xffffffffffffULL),
                static_cast<unsigned long long>(counter++ & 0xffff));
  return buf;
}

// JSON text for the client. Bytes that are not UTF-8 (an error message quoting a malformed body,
// a path or a URL) become U+FFFD instead of an exception.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) { send_json(res, e.status(), e.body()); }

std::string sse(const json& j) { return "data: " + dump(j) + "\n\n"; }

class HttpServer {
 public:
  HttpServer(const DecoderModel& model, Engine& engine, std::vector<NamedVector> vectors,
             const ServerOptions& options)
      : model_(model),
        engine_(engine),
        options_(options),
        store_(model.hparams().n_layer, model.hparams().n_embd),
        scheduler_(engine, SchedulerOptions{options.max_parallel, options.max_queue,
                                            options.prompt_cache}) {
    for (NamedVector& v : vectors) {
      const std::string name = v.vector.emotion;
      store_.add(name, std::move(v));
    }
    limits_.n_ctx = engine.n_ctx();
    limits_.n_layer = model.hparams().n_layer;
    routes();
  }

  void run() {
    install_stop_signals();

    const int port = options_.port == 0
                         ? http_.bind_to_any_port(options_.host)
                         : (http_.bind_to_port(options_.host, options_.port) ? options_.port : -1);
    if (port < 0) {
      throw Error("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                  " (in use, or not an address of this machine)");
    }
    std::thread signal_thread([&] {
      char sig = 0;
      while (read(g_stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
      }
      if (sig == 0) return;  // the server ended on its own
      std::fprintf(stderr, "stopping (signal %d)\n", sig);
      scheduler_.shutdown();
      http_.stop();
    });
    std::fprintf(stderr, "listening on http://%s:%d\n", options_.host.c_str(), port);
    std::fflush(stderr);
    http_.listen_after_bind();
    const char zero = 0;
    (void)!write(g_stop_pipe[1], &zero, 1);
    signal_thread.join();
  }

 private:
  void routes() {
    http_.new_task_queue = [n = options_.max_parallel + options_.max_queue + 16] {
      return new httplib::ThreadPool(static_cast<size_t>(n));
    };
    http_.set_payload_max_length(options_.max_body_bytes);
    // SO_REUSEADDR only: the library's default also sets SO_REUSEPORT, with which a second
    // server on a port in use would bind it too and silently share its connections.
    http_.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    http_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (options_.api_key.empty() || req.path.rfind("/v1/", 0) != 0) {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      if (req.get_header_value("Authorization") != "Bearer " + options_.api_key) {
        send_json(res, 401,
                  error_body("authentication_error",
                             "missing or wrong API key (send 'Authorization: Bearer KEY')", {},
                             "invalid_api_key"));
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    // Statuses the library sets itself (no route, body too large...) get an error object too.
    http_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      std::string type = "invalid_request_error";
      std::string message = "HTTP " + std::to_string(res.status);
      if (res.status == 404) {
        type = "not_found_error";
        message = "no route " + req.method + " " + req.path;
      } else if (res.status == 413) {
        message = "the request body is too large";
      } else if (res.status >= 500) {
        type = "server_error";
      }
      send_json(res, res.status, error_body(type, message));
    });
    http_.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          try {
            std::rethrow_exception(ep);
          } catch (const ApiError& e) {
            send_error(res, e);
          } catch (const std::exception& e) {
            send_json(res, 500, error_body("server_error", e.what()));
          } catch (...) {
            send_json(res, 500, error_body("server_error", "unknown error"));
          }
        });

    http_.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(web_page()), "text/html; charset=utf-8");
    });
    http_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      const Scheduler::Stats s = scheduler_.stats();
      send_json(res, 200,
                {{"status", "ok"},
                 {"active", s.active},
                 {"queued", s.queued},
                 {"completed", s.completed},
                 {"tokens_generated", s.tokens_generated},
                 {"prompt_tokens", s.prompt_tokens},
                 {"prompt_tokens_cached", s.prompt_tokens_cached},
                 {"prefill_seconds", s.prefill_seconds},
                 {"decode_seconds", s.decode_seconds}});
    });
    http_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200,
                {{"object", "list"},
                 {"data",
                  {{{"id", options_.model_id},
                    {"object", "model"},
                    {"created", started_},
                    {"owned_by", "emovec"}}}}});
    });
    http_.Get("/v1/emotions", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, store_.list());
    });
    http_.Post("/v1/emotions", [this](const httplib::Request& req, httplib::Response& res) {
      load_emotion(req, res);
    });
    http_.Delete(
        R"(/v1/emotions/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
          const std::string name = req.matches[1];
          if (!store_.remove(name)) {
            throw ApiError(404, "not_found_error", "no emotion '" + name + "' is loaded", "name");
          }
          send_json(res, 200, {{"id", name}, {"object", "emotion"}, {"deleted", true}});
        });
    http_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      generate(req, res, true);
    });
    http_.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      generate(req, res, false);
    });
  }

  void load_emotion(const httplib::Request& req, httplib::Response& res) {
    json body;
    try {
      body = json::parse(req.body);
    } catch (const json::exception& e) {
      throw bad_request(std::string("the body is not valid JSON: ") + e.what());
    }
    if (!body.is_object() || !body.contains("path") || !body["path"].is_string()) {
      throw bad_request("the body must be {\"path\": FILE on the server, \"name\": optional}",
                        "path");
    }
    if (body.contains("name") && !body["name"].is_null() &&
        (!body["name"].is_string() || body["name"].get<std::string>().empty())) {
      throw bad_request("'name' must be a non-empty string", "name");
    }
    const std::string path = body["path"];
    NamedVector v;
    try {
      v.vector = load_emotion_vector(path);
      v.source = path;
    } catch (const Error& e) {
      throw bad_request(e.what(), "path");
    }
    const std::string name = body.contains("name") && body["name"].is_string()
                                 ? body["name"].get<std::string>()
                                 : v.vector.emotion;
    try {
      store_.add(name, std::move(v));
    } catch (const Error& e) {
      throw bad_request(e.what(), "path");
    }
    send_json(res, 200, store_.entry(name));
  }

  void generate(const httplib::Request& req, httplib::Response& res, bool chat) {
    ParsedRequest p = parse_generation_request(req.body, chat, limits_, options_.default_steering);
    std::shared_ptr<const Steering> steering = store_.steering(p.steering);
    std::vector<int32_t> ids;
    try {
      ids = chat ? tokenize_chat(model_, p.messages) : tokenize_prompt(model_, p.prompt);
    } catch (const Error& e) {
      throw bad_request(std::string("cannot build the prompt: ") + e.what(),
                        chat ? "messages" : "prompt");
    }
    const auto n_prompt = static_cast<int64_t>(ids.size());
    const int64_t n_ctx = engine_.n_ctx();
    if (n_prompt == 0) throw bad_request("the prompt gives no tokens");
    if (n_prompt >= n_ctx ||
        (p.generation.n_predict > 0 && n_prompt + p.generation.n_predict > n_ctx)) {
      throw ApiError(400, "invalid_request_error",
                     "the prompt has " + std::to_string(n_prompt) + " tokens" +
                         (p.generation.n_predict > 0
                              ? " and max_tokens is " + std::to_string(p.generation.n_predict)
                              : std::string()) +
                         ": more than the context of " + std::to_string(n_ctx) + " positions",
                     chat ? "messages" : "prompt", "context_length_exceeded");
    }
    JobRequest job_request;
    job_request.prompt = std::move(ids);
    job_request.options = p.generation;
    job_request.steering = steering;
    job_request.cache_prompt = p.cache_prompt;
    std::shared_ptr<Job> job;
    try {
      job = scheduler_.submit(std::move(job_request));
    } catch (const QueueFull& e) {
      throw ApiError(429, "rate_limit_error", e.what(), {}, "too_many_requests");
    } catch (const Error& e) {
      throw bad_request(e.what());
    }

    Reply reply;
    reply.chat = chat;
    reply.id = new_id(chat ? "chatcmpl" : "cmpl");
    reply.created = static_cast<int64_t>(std::time(nullptr));
    reply.model = options_.model_id;
    reply.mix = steering ? mix_to_json(p.steering.mix) : json::object();
    reply.include_usage = p.include_usage;
    if (!p.stream) {
      // Until the reply's first text (queueing and the prompt's evaluation, where failures
      // happen), the handler waits and a failure is answered with its status. After it, the
      // whole reply comes through a content provider that looks every kStreamPoll whether the
      // client is still there: one that went away (a client-side timeout) cancels the job
      // instead of holding a slot until max_tokens. An HTTP/1.0 client, which may not read a
      // chunked body, waits for the whole reply in the handler.
      const bool whole_in_handler = req.version == "HTTP/1.0";
      std::string ignored;
      Job::Wait w = Job::Wait::Timeout;
      while (w == Job::Wait::Timeout || (w == Job::Wait::Text && whole_in_handler)) {
        w = job->wait_text(ignored, kStreamPoll);
      }
      if (w == Job::Wait::Finished) {
        GenerateResult r;
        try {
          r = job->wait_result();
        } catch (const Error& e) {
          throw ApiError(500, "server_error", e.what());
        }
        send_json(res, 200, reply.whole(r));
        return;
      }
      auto state = std::make_shared<WholeState>();
      state->job = job;
      state->reply = std::move(reply);
      res.set_chunked_content_provider(
          "application/json",
          [state](size_t, httplib::DataSink& sink) { return state->pump(sink); },
          [state](bool success) {
            if (!success) state->job->cancel();
          });
      return;
    }
    auto state = std::make_shared<StreamState>();
    state->job = job;
    state->reply = std::move(reply);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream", [state](size_t, httplib::DataSink& sink) { return state->pump(sink); },
        [state](bool success) {
          if (!success) state->job->cancel();
        });
  }

  // What the response of one request says besides the text.
  struct Reply {
    bool chat = true;
    std::string id;
    int64_t created = 0;
    std::string model;
    json mix;
    bool include_usage = false;

    json head(const char* object) const {
      return {{"id", id}, {"object", object}, {"created", created}, {"model", model}};
    }
    static json usage(const GenerateResult& r) {
      const auto completion = static_cast<int64_t>(r.tokens.size());
      // OpenAI's count: every prompt token, those taken from the prompt cache included.
      const int64_t prompt = r.n_prompt + r.n_cached;
      return {{"prompt_tokens", prompt},
              {"completion_tokens", completion},
              {"total_tokens", prompt + completion},
              {"prompt_tokens_details", {{"cached_tokens", r.n_cached}}}};
    }
    json whole(const GenerateResult& r) const {
      json out = head(chat ? "chat.completion" : "text_completion");
      const std::string finish = openai_finish_reason(r.finish_reason);
      if (chat) {
        out["choices"] = {{{"index", 0},
                           {"message", {{"role", "assistant"}, {"content", r.text}}},
                           {"finish_reason", finish}}};
      } else {
        out["choices"] = {
            {{"index", 0}, {"text", r.text}, {"logprobs", nullptr}, {"finish_reason", finish}}};
      }
      out["usage"] = usage(r);
      out["emotion"] = mix;
      return out;
    }
    json chunk(const std::string& text, const json& finish, bool first) const {
      json out = head(chat ? "chat.completion.chunk" : "text_completion");
      json choice = {{"index", 0}, {"finish_reason", finish}};
      if (chat) {
        json delta = json::object();
        if (first) delta["role"] = "assistant";
        if (!text.empty() || first) delta["content"] = text;
        choice["delta"] = delta;
      } else {
        choice["text"] = text;
        choice["logprobs"] = nullptr;
      }
      out["choices"] = json::array({choice});
      return out;
    }
  };

  // A streamed reply: each call of pump() waits briefly for text and writes the events due.
  struct StreamState {
    std::shared_ptr<Job> job;
    Reply reply;
    bool started = false;

    bool pump(httplib::DataSink& sink) {
      std::string out;
      if (!started) {
        out += sse(reply.chunk({}, nullptr, true));
        started = true;
      }
      std::string text;
      const Job::Wait w = job->wait_text(text, kStreamPoll);
      if (!text.empty()) out += sse(reply.chunk(text, nullptr, false));
      const bool finished = w == Job::Wait::Finished;
      if (finished) {
        try {
          const GenerateResult r = job->wait_result();
          out += sse(reply.chunk({}, openai_finish_reason(r.finish_reason), false));
          if (reply.include_usage) {
            json u = reply.head(reply.chat ? "chat.completion.chunk" : "text_completion");
            u["choices"] = json::array();
            u["usage"] = Reply::usage(r);
            out += sse(u);
          }
        } catch (const Error& e) {
          out += sse(error_body("server_error", e.what()));
        }
        out += "data: [DONE]\n\n";
      }
      if (out.empty()) {
        if (!sink.is_writable()) {
          job->cancel();
          return false;
        }
        return true;
      }
      if (!sink.write(out.data(), out.size())) {
        job->cancel();
        return false;
      }
      if (finished) sink.done();
      return true;
    }
  };

  // A reply sent whole once it ends, while the client is watched for going away. A failure after
  // the first text (rare: the server stopping, an engine error in a decoding step) can no longer
  // change the status; its body is then the OpenAI-style error object.
  struct WholeState {
    std::shared_ptr<Job> job;
    Reply reply;

    bool pump(httplib::DataSink& sink) {
      std::string ignored;
      if (job->wait_text(ignored, kStreamPoll) != Job::Wait::Finished) {
        if (!sink.is_writable()) {
          job->cancel();
          return false;
        }
        return true;
      }
      std::string out;
      try {
        out = dump(reply.whole(job->wait_result()));
      } catch (const Error& e) {
        out = dump(error_body("server_error", e.what()));
      }
      if (!sink.write(out.data(), out.size())) return false;
      sink.done();
      return true;
    }
  };

  const DecoderModel& model_;
  Engine& engine_;
  ServerOptions options_;
  EmotionStore store_;
  Scheduler scheduler_;
  RequestLimits limits_;
  int64_t started_ = static_cast<int64_t>(std::time(nullptr));
  httplib::Server http_;
};

}  // namespace

void serve(const DecoderModel& model, Engine& engine, std::vector<NamedVector> vectors,
           const ServerOptions& options) {
  HttpServer server(model, engine, std::move(vectors), options);
  server.run();
}

}  // namespace emovec::server
