#include "emovec/steering.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

#include "emovec/error.h"

namespace emovec {
namespace {

std::string trim(std::string_view s) {
  size_t a = 0;
  size_t b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) --b;
  return std::string(s.substr(a, b - a));
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string format_alpha(float a) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(a));
  return buf;
}

void check_alpha(const std::string& emotion, float alpha) {
  if (!std::isfinite(alpha) || std::fabs(alpha) > kMaxAlpha) {
    throw Error("alpha " + format_alpha(alpha) + " for '" + emotion + "' is outside [-" +
                format_alpha(kMaxAlpha) + ", " + format_alpha(kMaxAlpha) + "]");
  }
}

constexpr size_t kSites = kActivationSiteCount;

}  // namespace

EmotionMix parse_emotion_mix(std::string_view spec) {
  EmotionMix mix;
  if (trim(spec).empty())
    throw Error("the emotion mix is empty (expected e.g. joy=1.5,anger=-0.5)");
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string_view::npos) end = spec.size();
    const std::string term = trim(spec.substr(start, end - start));
    start = end + 1;
    if (term.empty()) throw Error("empty term in the emotion mix '" + std::string(spec) + "'");
    const size_t eq = term.find('=');
    const std::string name = trim(std::string_view(term).substr(0, eq));
    float alpha = 1.0f;
    if (eq != std::string::npos) {
      const std::string value = trim(std::string_view(term).substr(eq + 1));
      char* stop = nullptr;
      errno = 0;
      alpha = std::strtof(value.c_str(), &stop);
      if (value.empty() || stop != value.c_str() + value.size()) {
        throw Error("'" + value + "' in the emotion mix term '" + term + "' is not a number");
      }
    }
    if (!valid_name(name)) {
      throw Error("'" + name +
                  "' in the emotion mix is not an emotion name (letters, digits, _ - .)");
    }
    check_alpha(name, alpha);
    for (const auto& [other, a] : mix.terms) {
      if (other == name) throw Error("'" + name + "' appears twice in the emotion mix");
    }
    mix.terms.emplace_back(name, alpha);
    if (end == spec.size()) break;
  }
  return mix;
}

std::string to_string(const EmotionMix& mix) {
  std::string out;
  for (const auto& [name, alpha] : mix.terms) {
    if (!out.empty()) out += ',';
    out += name;
    out += '=';
    out += format_alpha(alpha);
  }
  return out;
}

SteeringPositions parse_steering_positions(std::string_view name) {
  if (name == "last") return SteeringPositions::Last;
  if (name == "all") return SteeringPositions::All;
  if (name == "generated") return SteeringPositions::Generated;
  throw Error("unknown position policy '" + std::string(name) + "' (known: last, all, generated)");
}

std::string_view steering_positions_name(SteeringPositions p) {
  switch (p) {
    case SteeringPositions::Last:
      return "last";
    case SteeringPositions::All:
      return "all";
    case SteeringPositions::Generated:
      return "generated";
  }
  return "unknown";
}

void SteeringOptions::set_layers(int64_t first, int64_t last, int64_t n_layer,
                                 std::string_view what) {
  if (first < 0 || last < first || last >= n_layer) {
    throw Error(std::string(what) + " " + std::to_string(first) + " " + std::to_string(last) +
                ": the model's layers are 0 to " + std::to_string(n_layer - 1));
  }
  layer_begin = static_cast<int32_t>(first);
  layer_end = static_cast<int32_t>(last + 1);
}

Steering Steering::build(const EmotionMix& mix, std::span<const EmotionVector> vectors,
                         int64_t n_layer, int64_t n_embd, const SteeringOptions& options) {
  Steering s;
  s.options_ = options;
  s.n_layer_ = n_layer;
  s.width_ = n_embd;
  if (options.layer_end < 0) s.options_.layer_end = static_cast<int32_t>(n_layer);
  if (options.layer_begin < 0 || s.options_.layer_begin >= s.options_.layer_end ||
      s.options_.layer_end > n_layer) {
    throw Error("layer range [" + std::to_string(options.layer_begin) + ", " +
                std::to_string(options.layer_end) + ") is not within the model's " +
                std::to_string(n_layer) + " layers");
  }
  s.sums_.assign(kSites * static_cast<size_t>(n_layer), {});
  for (const auto& [emotion, alpha] : mix.terms) {
    check_alpha(emotion, alpha);
    const EmotionVector& found = find_emotion_vector(vectors, emotion, n_layer, n_embd);
    if (alpha != 0.0f) s.add(found, alpha);
  }
  return s;
}

Steering Steering::single(const EmotionVector& v, float alpha, int64_t n_layer, int64_t n_embd,
                          const SteeringOptions& options) {
  EmotionMix mix;
  mix.terms.emplace_back(v.emotion, alpha);
  return build(mix, std::span<const EmotionVector>(&v, 1), n_layer, n_embd, options);
}

void Steering::add(const EmotionVector& v, float alpha) {
  const auto site = static_cast<size_t>(v.site);
  for (int32_t l = options_.layer_begin; l < options_.layer_end && l < v.n_layer; ++l) {
    const std::span<const float> row = v.layer(l);
    bool nonzero = false;
    for (const float x : row) nonzero = nonzero || x != 0.0f;
    if (!nonzero) continue;
    const size_t slot = site * static_cast<size_t>(n_layer_) + static_cast<size_t>(l);
    std::vector<float>& sum = sums_[slot];
    if (sum.empty()) sum.assign(static_cast<size_t>(width_), 0.0f);
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += alpha * row[i];
    empty_ = false;
  }
}

std::span<const float> Steering::direction(int32_t layer, ActivationSite site) const {
  if (layer < 0 || layer >= n_layer_ || sums_.empty()) return {};
  return sums_[static_cast<size_t>(site) * static_cast<size_t>(n_layer_) +
               static_cast<size_t>(layer)];
}

bool SteeringHook::wants(int32_t layer, ActivationSite site) const {
  return !steering_->direction(layer, site).empty();
}

int64_t SteeringHook::first_position_seen(int64_t n_prompt) const {
  switch (steering_->options().positions) {
    case SteeringPositions::Last:
      return std::max<int64_t>(0, n_prompt - 1);
    case SteeringPositions::Generated:
      return n_prompt;
    case SteeringPositions::All:
      break;
  }
  return 0;
}

void SteeringHook::on_activation(const ActivationView& view) {
  const std::span<const float> d = steering_->direction(view.layer, view.site);
  if (d.empty() || static_cast<int64_t>(d.size()) != view.width) return;
  int64_t first = 0;
  switch (steering_->options().positions) {
    case SteeringPositions::Last:
      if (!view.last_chunk || view.n_rows == 0) return;
      first = view.n_rows - 1;
      break;
    case SteeringPositions::All:
      break;
    case SteeringPositions::Generated:
      first = std::max<int64_t>(0, generated_from_ - view.first_position);
      break;
  }
  const bool keep_norm = steering_->options().preserve_norm;
  for (int64_t r = first; r < view.n_rows; ++r) {
    float* x = view.rows + r * view.width;
    double before = 0;
    if (keep_norm) {
      for (int64_t i = 0; i < view.width; ++i) before += static_cast<double>(x[i]) * x[i];
    }
    for (int64_t i = 0; i < view.width; ++i) x[i] += d[static_cast<size_t>(i)];
    if (keep_norm) {
      double after = 0;
      for (int64_t i = 0; i < view.width; ++i) after += static_cast<double>(x[i]) * x[i];
      if (after > 0) {
        const auto scale = static_cast<float>(std::sqrt(before / after));
        for (int64_t i = 0; i < view.width; ++i) x[i] *= scale;
      }
    }
  }
}

}  // namespace emovec
