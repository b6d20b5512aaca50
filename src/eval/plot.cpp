#include "eval/plot.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <utility>

#include "emovec/error.h"

namespace emovec {
namespace {

// Sizes in pixels. Text widths are estimated (no font metrics in the standard library) from
// the advance of DejaVu Sans digits and lower case, about 0.62 em (Arial is narrower);
// over-estimating only costs margin.
constexpr double kTitleFont = 15;
constexpr double kLabelFont = 12.5;
constexpr double kTickFont = 11;
constexpr double kLegendFont = 12;
constexpr double kNoteFont = 13;
constexpr double kCharWidthEm = 0.62;
constexpr double kTickLength = 5;
constexpr double kMarkerRadius = 3.5;
constexpr double kLegendRow = 20;
constexpr double kLegendSwatch = 26;
constexpr double kLegendGap = 18;  // between the plot area and the legend
constexpr int kMinChartSize = 120;

constexpr const char* kTextColour = "#222222";
constexpr const char* kAxisColour = "#444444";
constexpr const char* kFrameColour = "#c8c8c8";
constexpr const char* kGridColour = "#e8e8e8";
constexpr const char* kFontFamily = "DejaVu Sans, Helvetica, Arial, sans-serif";

// Stands for the document's id prefix until the whole document is known; a control character
// cannot come from user text, since escaping drops those.
constexpr char kIdPlaceholder = '\x01';

// Okabe & Ito, "Color Universal Design" (2008). The two colours no emotion has come first, so a
// baseline drawn beside one emotion keeps its colour from panel to panel; yellow is last, as it
// is faint on white.
constexpr std::array<std::string_view, 8> kPalette = {"#000000", "#56B4E9", "#0072B2", "#D55E00",
                                                      "#009E73", "#CC79A7", "#E69F00", "#F0E442"};

struct EmotionColour {
  std::string_view emotion;
  std::string_view colour;
};
constexpr std::array<EmotionColour, 6> kEmotionColours = {{{"anger", "#D55E00"},
                                                           {"disgust", "#009E73"},
                                                           {"fear", "#CC79A7"},
                                                           {"joy", "#E69F00"},
                                                           {"sadness", "#0072B2"},
                                                           {"neutral", "#7F7F7F"}}};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// ---- text -----------------------------------------------------------------------------------

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = byte(i);
  size_t n = 0;
  uint32_t cp = 0;
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) {
    n = 2;
    cp = b & 0x1Fu;
  } else if ((b & 0xF0) == 0xE0) {
    n = 3;
    cp = b & 0x0Fu;
  } else if ((b & 0xF8) == 0xF0) {
    n = 4;
    cp = b & 0x07u;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3Fu);
  }
  const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  // U+FFFE and U+FFFF are not XML characters.
  if (cp == 0xFFFE || cp == 0xFFFF) return 0;
  return n;
}

// Text as XML character data or attribute value: markup characters escaped, characters XML 1.0
// does not allow (most C0 controls) dropped, invalid UTF-8 replaced by U+FFFD, so a strict
// parser accepts any label.
std::string escape_xml(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    const size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    ++i;
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\t':
      case '\n':
      case '\r':
        out += ' ';
        break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
  }
  return out;
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

double text_width(std::string_view s, double font_size) {
  return static_cast<double>(code_points(s)) * font_size * kCharWidthEm;
}

// The text, cut at a code-point boundary and ended with an ellipsis when it would be wider
// than max_width.
std::string fit_text(std::string_view s, double font_size, double max_width) {
  if (text_width(s, font_size) <= max_width) return std::string(s);
  const double per_char = font_size * kCharWidthEm;
  const size_t keep = max_width > per_char ? static_cast<size_t>(max_width / per_char) - 1 : 0;
  size_t i = 0;
  for (size_t kept = 0; i < s.size() && kept < keep; ++kept) {
    const size_t n = utf8_sequence_length(s, i);
    i += n == 0 ? 1 : n;
  }
  return std::string(s.substr(0, i)) + "\xE2\x80\xA6";
}

// ---- numbers --------------------------------------------------------------------------------

// std::to_chars, unlike printf and streams, never consults the locale.
std::string fixed(double v, int decimals) {
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
  return std::string(buf, result.ptr);
}

// A coordinate: two decimals (a hundredth of a pixel), trailing zeros dropped.
std::string px(double v) {
  std::string s = fixed(v, 2);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

// "1e-05" -> "1e-5", "2.5e+07" -> "2.5e7".
std::string scientific(double v) {
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string s(buf, result.ptr);
  const size_t e = s.find('e');
  if (e == std::string::npos) return s;
  std::string exponent = s.substr(e + 1);
  const bool negative = exponent[0] == '-';
  if (exponent[0] == '-' || exponent[0] == '+') exponent.erase(0, 1);
  while (exponent.size() > 1 && exponent[0] == '0') exponent.erase(0, 1);
  return s.substr(0, e) + (negative ? "e-" : "e") + exponent;
}

// Tick labels use the typographic minus sign, which lines up with the digits.
std::string typographic_minus(std::string s) {
  if (!s.empty() && s[0] == '-') s.replace(0, 1, "\xE2\x88\x92");
  return s;
}

double power_of_ten(int exponent) {
  double p = 1;
  for (int i = 0; i < std::abs(exponent); ++i) p *= 10;
  return exponent < 0 ? 1 / p : p;
}

// m * 10^e computed so that short decimals come out as the nearest double (3 * 0.1 would not).
double scaled(double m, int exponent) {
  return exponent < 0 ? m / power_of_ten(-exponent) : m * power_of_ten(exponent);
}

// ---- axes -----------------------------------------------------------------------------------

struct Tick {
  double value;
  std::string label;
};

struct Axis {
  double lo = 0;
  double hi = 1;
  bool log = false;
  std::vector<Tick> ticks;

  double unit(double v) const {  // 0 at lo, 1 at hi
    if (log) return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    return (v - lo) / (hi - lo);
  }
};

struct NiceStep {
  double mantissa;  // 1, 2, 2.5 or 5
  int exponent;
  double value() const { return scaled(mantissa, exponent); }
};

// The smallest step of the form {1, 2, 2.5, 5} x 10^e that is at least `raw`.
NiceStep nice_step(double raw) {
  const int exponent = static_cast<int>(std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0}) {
    if (scaled(m, exponent) >= raw * (1 - 1e-9)) return {m, exponent};
  }
  return {1.0, exponent + 1};
}

std::string linear_label(double v, NiceStep step, double largest) {
  if (std::abs(v) < step.value() * 1e-6) v = 0;
  if (largest >= 1e6 || step.exponent < -4) return typographic_minus(scientific(v));
  const int decimals = std::max(0, -step.exponent + (step.mantissa == 2.5 ? 1 : 0));
  std::string s = fixed(v, decimals);
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);
  return typographic_minus(s);
}

// Ticks evenly spaced by a nice step, about `target` of them. Automatic: the range widens to
// the ticks around the data. Fixed: the range stays, the ticks fall inside it.
Axis linear_axis(double lo, double hi, int target, bool fixed_range) {
  const NiceStep step = nice_step((hi - lo) / std::max(1, target));
  const double s = step.value();
  long long first = 0;
  long long last = 0;
  if (fixed_range) {
    first = static_cast<long long>(std::ceil(lo / s - 1e-9));
    last = static_cast<long long>(std::floor(hi / s + 1e-9));
  } else {
    first = static_cast<long long>(std::floor(lo / s + 1e-9));
    last = static_cast<long long>(std::ceil(hi / s - 1e-9));
  }
  Axis axis;
  const auto tick_at = [&](long long k) {
    return scaled(static_cast<double>(k) * step.mantissa, step.exponent);
  };
  axis.lo = fixed_range ? lo : tick_at(first);
  axis.hi = fixed_range ? hi : tick_at(last);
  const double largest = std::max(std::abs(tick_at(first)), std::abs(tick_at(last)));
  for (long long k = first; k <= last; ++k) {
    const double v = tick_at(k);
    axis.ticks.push_back({v, linear_label(v, step, largest)});
  }
  return axis;
}

std::string log_label(double mantissa, int exponent) {
  const double v = scaled(mantissa, exponent);
  if (exponent < -4 || exponent >= 6) return scientific(v);
  return fixed(v, std::max(0, -exponent));
}

// Ticks m x 10^e for m in `mantissas` and e a multiple of `stride`. Automatic: the range widens
// to the nearest such ticks around the data.
Axis log_axis_with(double lo, double hi, bool fixed_range, std::initializer_list<double> mantissas,
                   int stride) {
  struct Candidate {
    double value;
    double mantissa;
    int exponent;
  };
  std::vector<Candidate> candidates;
  const int e_lo = static_cast<int>(std::floor(std::log10(lo))) - stride;
  const int e_hi = static_cast<int>(std::ceil(std::log10(hi))) + stride;
  for (int e = e_lo; e <= e_hi; ++e) {
    if (((e % stride) + stride) % stride != 0) continue;
    for (double m : mantissas) candidates.push_back({scaled(m, e), m, e});
  }
  Axis axis;
  axis.log = true;
  axis.lo = lo;
  axis.hi = hi;
  if (!fixed_range) {
    for (const Candidate& c : candidates) {
      if (c.value <= lo * (1 + 1e-12)) axis.lo = c.value;
    }
    for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
      if (it->value >= hi * (1 - 1e-12)) axis.hi = it->value;
    }
  }
  for (const Candidate& c : candidates) {
    if (c.value >= axis.lo * (1 - 1e-12) && c.value <= axis.hi * (1 + 1e-12)) {
      axis.ticks.push_back({c.value, log_label(c.mantissa, c.exponent)});
    }
  }
  return axis;
}

// Powers of ten with 2 and 5 between them when that gives a readable number of ticks; fewer
// decades when the data spans many; evenly spaced ticks when it spans less than a decade or so.
Axis log_axis(double lo, double hi, int target, bool fixed_range) {
  const size_t max_ticks = static_cast<size_t>(target) + 2;
  Axis axis = log_axis_with(lo, hi, fixed_range, {1, 2, 5}, 1);
  if (axis.ticks.size() >= 3 && axis.ticks.size() <= max_ticks) return axis;
  if (axis.ticks.size() > max_ticks) {
    for (int stride = 1;; ++stride) {
      Axis decades = log_axis_with(lo, hi, fixed_range, {1}, stride);
      if (decades.ticks.size() <= max_ticks) return decades;
    }
  }
  Axis linear = linear_axis(lo, hi, target, fixed_range);
  if (linear.lo > 0 && linear.ticks.size() >= 3) {
    linear.log = true;
    return linear;
  }
  Axis fine = log_axis_with(lo, hi, fixed_range, {1, 2, 3, 4, 5, 6, 7, 8, 9}, 1);
  return fine.ticks.size() >= 2 ? fine : axis;
}

Axis make_axis(double lo, double hi, bool log, int target, bool fixed_range) {
  // Beyond these the arithmetic of ticks and pixels overflows.
  if (log ? !(lo >= 1e-300 && hi <= 1e300) : !std::isfinite(hi - lo)) {
    throw Error("y values from " + scientific(lo) + " to " + scientific(hi) +
                " span too wide a range to draw");
  }
  return log ? log_axis(lo, hi, target, fixed_range) : linear_axis(lo, hi, target, fixed_range);
}

// ---- the chart ------------------------------------------------------------------------------

enum class Marker { Circle, Square, Diamond, TriangleUp, TriangleDown };
constexpr std::array<Marker, 5> kMarkers = {Marker::Circle, Marker::Square, Marker::Diamond,
                                            Marker::TriangleUp, Marker::TriangleDown};

struct LegendEntry {
  std::string name;
  std::string colour;
  LineStyle style;
  Marker marker;
  bool operator==(const LegendEntry&) const = default;
};

std::string describe(const LineChart& chart) {
  return chart.title.empty() ? std::string("chart") : "chart \"" + chart.title + "\"";
}

void check_range(const LineChart& chart, const std::optional<PlotRange>& range, const char* axis,
                 bool log) {
  if (!range) return;
  if (!std::isfinite(range->min) || !std::isfinite(range->max) || !(range->min < range->max)) {
    throw Error(describe(chart) + ": the fixed " + axis + " range must be finite with min < max");
  }
  if (log && range->min <= 0) {
    throw Error(describe(chart) + ": the fixed " + axis + " range of a log scale must be positive");
  }
}

void validate(const LineChart& chart) {
  const bool log = chart.y_scale == YScale::Log;
  check_range(chart, chart.x_range, "x", false);
  check_range(chart, chart.y_range, "y", log);
  for (const PlotSeries& series : chart.series) {
    for (size_t i = 0; i < series.points.size(); ++i) {
      const PlotPoint& p = series.points[i];
      const char* bad = std::isinf(p.x) ? "x" : std::isinf(p.y) ? "y" : nullptr;
      const std::string where =
          describe(chart) + ", series \"" + series.name + "\", point " + std::to_string(i);
      if (bad) throw Error(where + ": " + bad + " is infinite (use NaN for a missing value)");
      if (log && p.y <= 0) {
        throw Error(where + ": y = " + fixed(p.y, 6) + " cannot be drawn on a log scale");
      }
    }
  }
}

// Colours and markers of the chart's series, in order (see PlotSeries::colour).
std::vector<LegendEntry> resolve_series(const LineChart& chart) {
  std::vector<std::string> colours(chart.series.size());
  std::vector<std::string> used;
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const PlotSeries& s = chart.series[i];
    if (!s.colour.empty()) {
      colours[i] = s.colour;
    } else {
      const std::string name = lower(s.name);
      const size_t letters =
          std::find_if(name.begin(), name.end(), [](char c) { return c < 'a' || c > 'z'; }) -
          name.begin();
      if (auto colour = emotion_colour(std::string_view(name).substr(0, letters))) {
        colours[i] = *colour;
      }
    }
    if (!colours[i].empty()) used.push_back(lower(colours[i]));
  }
  size_t next = 0;
  for (std::string& colour : colours) {
    if (!colour.empty()) continue;
    size_t pick = next % kPalette.size();
    for (size_t tries = 0; tries < kPalette.size(); ++tries) {
      const size_t k = (next + tries) % kPalette.size();
      if (std::find(used.begin(), used.end(), lower(kPalette[k])) == used.end()) {
        pick = k;
        break;
      }
    }
    colour = kPalette[pick];
    used.push_back(lower(colour));
    next = pick + 1;
  }
  std::vector<LegendEntry> entries;
  for (size_t i = 0; i < chart.series.size(); ++i) {
    entries.push_back(
        {chart.series[i].name, colours[i], chart.series[i].style, kMarkers[i % kMarkers.size()]});
  }
  return entries;
}

double legend_width(const std::vector<LegendEntry>& entries, double max_text) {
  double text = 0;
  for (const LegendEntry& e : entries) {
    text = std::max(text, text_width(fit_text(e.name, kLegendFont, max_text), kLegendFont));
  }
  return kLegendSwatch + 8 + text;
}

double legend_height(size_t entries) { return static_cast<double>(entries) * kLegendRow; }

// "x,y" appended to an SVG points list.
void append_point(std::string& points, double x, double y) {
  if (!points.empty()) points += ' ';
  points += px(x);
  points += ',';
  points += px(y);
}

void append_marker(std::string& out, Marker marker, double x, double y, const std::string& colour,
                   bool hollow) {
  const std::string paint =
      hollow ? "fill=\"#ffffff\" stroke=\"" + escape_xml(colour) + "\" stroke-width=\"1.5\""
             : "fill=\"" + escape_xml(colour) + "\"";
  const double r = kMarkerRadius;
  switch (marker) {
    case Marker::Circle:
      out += "<circle class=\"marker\" cx=\"" + px(x) + "\" cy=\"" + px(y) + "\" r=\"" + px(r) +
             "\" " + paint + "/>";
      break;
    case Marker::Square: {
      const double h = r * 0.9;
      out += "<rect class=\"marker\" x=\"" + px(x - h) + "\" y=\"" + px(y - h) + "\" width=\"" +
             px(2 * h) + "\" height=\"" + px(2 * h) + "\" " + paint + "/>";
      break;
    }
    default: {
      std::vector<std::pair<double, double>> corners;
      const double d = r * 1.3;
      if (marker == Marker::Diamond) {
        corners = {{x, y - d}, {x + d, y}, {x, y + d}, {x - d, y}};
      } else {
        const double sign = marker == Marker::TriangleUp ? 1 : -1;
        corners = {{x, y - sign * d}, {x + d, y + sign * d * 0.75}, {x - d, y + sign * d * 0.75}};
      }
      std::string points;
      for (const auto& [cx, cy] : corners) append_point(points, cx, cy);
      out += "<polygon class=\"marker\" points=\"" + points + "\" " + paint + "/>";
    }
  }
  out += "\n";
}

void append_legend(std::string& out, const std::vector<LegendEntry>& entries, double x, double y,
                   double max_text) {
  out += "<g class=\"legend\" font-size=\"" + px(kLegendFont) + "\">\n";
  for (size_t i = 0; i < entries.size(); ++i) {
    const LegendEntry& e = entries[i];
    const double mid = y + kLegendRow * (static_cast<double>(i) + 0.5);
    out += "<line x1=\"" + px(x) + "\" y1=\"" + px(mid) + "\" x2=\"" + px(x + kLegendSwatch) +
           "\" y2=\"" + px(mid) + "\" stroke=\"" + escape_xml(e.colour) + "\" stroke-width=\"2\"" +
           (e.style == LineStyle::Dashed ? " stroke-dasharray=\"6 3\"" : "") + "/>\n";
    append_marker(out, e.marker, x + kLegendSwatch / 2, mid, e.colour,
                  e.style == LineStyle::Dashed);
    out += "<text class=\"legend-label\" x=\"" + px(x + kLegendSwatch + 8) + "\" y=\"" +
           px(mid + kLegendFont * 0.35) + "\" fill=\"" + kTextColour + "\">" +
           escape_xml(fit_text(e.name, kLegendFont, max_text)) + "</text>\n";
  }
  out += "</g>\n";
}

struct Frame {
  double x;
  double y;
  double width;
  double height;
};

struct Bounds {
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  bool empty() const { return x_lo > x_hi; }
};

Bounds data_bounds(const LineChart& chart) {
  Bounds b;
  for (const PlotSeries& s : chart.series) {
    for (const PlotPoint& p : s.points) {
      if (std::isnan(p.x) || std::isnan(p.y)) continue;
      b.x_lo = std::min(b.x_lo, p.x);
      b.x_hi = std::max(b.x_hi, p.x);
      b.y_lo = std::min(b.y_lo, p.y);
      b.y_hi = std::max(b.y_hi, p.y);
    }
  }
  return b;
}

// A range that has width: a single value is shown with room on both sides.
std::pair<double, double> widen(double lo, double hi, bool log) {
  if (lo < hi) return {lo, hi};
  if (log) return {lo / 2, hi * 2};
  const double half = std::max(0.5, std::abs(lo) * 0.1);
  return {lo - half, hi + half};
}

int clamp_target(double pixels, double per_tick, int lo, int hi) {
  return std::clamp(static_cast<int>(std::lround(pixels / per_tick)), lo, hi);
}

// Room the chart needs below the plot area's top for its legend.
double legend_needs(const LineChart& chart) {
  return chart.series.empty() ? 0 : legend_height(chart.series.size()) + 10;
}

double top_margin(const LineChart& chart) { return chart.title.empty() ? 14 : 40; }

// Where one chart's plot area lies in the document and how values map onto it.
struct ChartLayout {
  Axis x_axis;
  Axis y_axis;
  double left = 0;
  double right = 0;
  double top = 0;
  double bottom = 0;
  bool legend = false;
  double legend_text = 0;  // the widest legend label allowed, in pixels

  double width() const { return right - left; }
  double height() const { return bottom - top; }
  double map_x(double v) const { return left + x_axis.unit(v) * width(); }
  double map_y(double v) const { return bottom - y_axis.unit(v) * height(); }
};

Axis y_axis_for(const LineChart& chart, const Bounds& data, int target) {
  const bool log = chart.y_scale == YScale::Log;
  if (chart.y_range) return make_axis(chart.y_range->min, chart.y_range->max, log, target, true);
  if (data.empty())
    return log ? make_axis(1, 10, true, target, true) : make_axis(0, 1, false, target, true);
  const auto [lo, hi] = widen(data.y_lo, data.y_hi, log);
  return make_axis(lo, hi, log, target, false);
}

// x spans the data (or the fixed range) exactly; ticks fall inside it, fewer of them until
// their labels do not touch.
Axis x_axis_for(const LineChart& chart, const Bounds& data, double plot_width) {
  const auto [lo, hi] = chart.x_range  ? std::pair(chart.x_range->min, chart.x_range->max)
                        : data.empty() ? std::pair(0.0, 1.0)
                                       : widen(data.x_lo, data.x_hi, false);
  if (!std::isfinite(hi - lo)) {
    throw Error("x values from " + scientific(lo) + " to " + scientific(hi) +
                " span too wide a range to draw");
  }
  for (int target = clamp_target(plot_width, 55, 2, 10);; --target) {
    Axis axis = linear_axis(lo, hi, target, true);
    double widest = 0;
    for (const Tick& t : axis.ticks) widest = std::max(widest, text_width(t.label, kTickFont));
    const double spacing = axis.ticks.size() < 2 ? plot_width
                                                 : (axis.ticks[1].value - axis.ticks[0].value) /
                                                       (hi - lo) * plot_width;
    if (widest + 10 <= spacing || target <= 2) return axis;
  }
}

// Margins follow what sits in them: the title above, tick labels and the axis labels left and
// below, the legend to the right.
ChartLayout layout_chart(const LineChart& chart, const Frame& frame,
                         const std::vector<LegendEntry>& entries, bool with_legend) {
  const Bounds data = data_bounds(chart);
  ChartLayout l;
  l.top = frame.y + top_margin(chart);
  l.bottom =
      frame.y + frame.height - (8 + kTickLength + kTickFont + (chart.x_label.empty() ? 8 : 28));
  l.y_axis = y_axis_for(chart, data, clamp_target(l.height(), 40, 3, 9));

  double y_tick_width = 0;
  for (const Tick& t : l.y_axis.ticks) {
    y_tick_width = std::max(y_tick_width, text_width(t.label, kTickFont));
  }
  l.left =
      frame.x + 10 + (chart.y_label.empty() ? 0 : kLabelFont + 10) + y_tick_width + kTickLength + 5;

  l.legend = with_legend && !entries.empty();
  l.legend_text = std::max(60.0, frame.width * 0.3 - kLegendSwatch - 8);
  const double legend_w = l.legend ? legend_width(entries, l.legend_text) : 0;
  l.right = frame.x + frame.width - (l.legend ? legend_w + kLegendGap + 10 : 24);
  l.x_axis = x_axis_for(chart, data, l.width());
  return l;
}

std::string line_element(double x1, double y1, double x2, double y2, const std::string& cls = "") {
  return "<line" + (cls.empty() ? std::string() : " class=\"" + cls + "\"") + " x1=\"" + px(x1) +
         "\" y1=\"" + px(y1) + "\" x2=\"" + px(x2) + "\" y2=\"" + px(y2) + "\"/>\n";
}

// Grid lines, the plot area's frame, the axes with their ticks and tick labels.
void append_axes(std::string& out, const ChartLayout& l) {
  out += "<g class=\"grid\" stroke=\"" + std::string(kGridColour) +
         "\" stroke-width=\"1\" shape-rendering=\"crispEdges\">\n";
  for (const Tick& t : l.y_axis.ticks) {
    out += line_element(l.left, l.map_y(t.value), l.right, l.map_y(t.value), "grid-y");
  }
  for (const Tick& t : l.x_axis.ticks) {
    out += line_element(l.map_x(t.value), l.top, l.map_x(t.value), l.bottom, "grid-x");
  }
  out += "</g>\n";
  out += "<rect class=\"plot-area\" x=\"" + px(l.left) + "\" y=\"" + px(l.top) + "\" width=\"" +
         px(l.width()) + "\" height=\"" + px(l.height()) + "\" fill=\"none\" stroke=\"" +
         kFrameColour + "\" shape-rendering=\"crispEdges\"/>\n";

  out += "<g class=\"axes\" stroke=\"" + std::string(kAxisColour) +
         "\" stroke-width=\"1\" shape-rendering=\"crispEdges\">\n";
  out += line_element(l.left, l.top, l.left, l.bottom);
  out += line_element(l.left, l.bottom, l.right, l.bottom);
  for (const Tick& t : l.y_axis.ticks) {
    out += line_element(l.left - kTickLength, l.map_y(t.value), l.left, l.map_y(t.value));
  }
  for (const Tick& t : l.x_axis.ticks) {
    out += line_element(l.map_x(t.value), l.bottom, l.map_x(t.value), l.bottom + kTickLength);
  }
  out += "</g>\n";

  out += "<g class=\"tick-labels\" font-size=\"" + px(kTickFont) + "\" fill=\"" + kTextColour +
         "\">\n";
  for (const Tick& t : l.y_axis.ticks) {
    out += "<text class=\"y-tick\" x=\"" + px(l.left - kTickLength - 3) + "\" y=\"" +
           px(l.map_y(t.value) + kTickFont * 0.35) + "\" text-anchor=\"end\">" +
           escape_xml(t.label) + "</text>\n";
  }
  for (const Tick& t : l.x_axis.ticks) {
    out += "<text class=\"x-tick\" x=\"" + px(l.map_x(t.value)) + "\" y=\"" +
           px(l.bottom + kTickLength + 3 + kTickFont) + "\" text-anchor=\"middle\">" +
           escape_xml(t.label) + "</text>\n";
  }
  out += "</g>\n";
}

// The axis labels and the title.
void append_labels(std::string& out, const LineChart& chart, const Frame& frame,
                   const ChartLayout& l) {
  if (!chart.x_label.empty()) {
    out += "<text class=\"x-label\" x=\"" + px(l.left + l.width() / 2) + "\" y=\"" +
           px(frame.y + frame.height - 10) + "\" text-anchor=\"middle\" font-size=\"" +
           px(kLabelFont) + "\" fill=\"" + kTextColour + "\">" +
           escape_xml(fit_text(chart.x_label, kLabelFont, l.width())) + "</text>\n";
  }
  if (!chart.y_label.empty()) {
    const double x = frame.x + 10 + kLabelFont * 0.8;
    const double y = l.top + l.height() / 2;
    out += "<text class=\"y-label\" x=\"" + px(x) + "\" y=\"" + px(y) +
           "\" text-anchor=\"middle\" transform=\"rotate(-90 " + px(x) + " " + px(y) +
           ")\" font-size=\"" + px(kLabelFont) + "\" fill=\"" + kTextColour + "\">" +
           escape_xml(fit_text(chart.y_label, kLabelFont, l.height())) + "</text>\n";
  }
  if (!chart.title.empty()) {
    // Long titles shrink a little before they are cut. Centred over the plot area, moved
    // towards the frame's centre as far as needed to stay inside it.
    const double room = frame.width - 20;
    const double font =
        std::clamp(kTitleFont * room / text_width(chart.title, kTitleFont), 11.0, kTitleFont);
    const std::string title = fit_text(chart.title, font, room);
    const double half = text_width(title, font) / 2;
    const double centre =
        std::clamp(l.left + l.width() / 2, frame.x + 10 + half,
                   std::max(frame.x + 10 + half, frame.x + frame.width - 10 - half));
    out += "<text class=\"title\" x=\"" + px(centre) + "\" y=\"" + px(frame.y + 26) +
           "\" text-anchor=\"middle\" font-size=\"" + px(font) + "\" font-weight=\"bold\" fill=\"" +
           kTextColour + "\">" + escape_xml(title) + "</text>\n";
  }
}

// Lines and markers, clipped to the plot area (widened so markers on its edges are drawn whole).
void append_series(std::string& out, const LineChart& chart,
                   const std::vector<LegendEntry>& entries, const ChartLayout& l,
                   const std::string& id) {
  const double pad = kMarkerRadius * 1.5 + 1;
  out += "<defs><clipPath id=\"" + id + "\"><rect x=\"" + px(l.left - pad) + "\" y=\"" +
         px(l.top - pad) + "\" width=\"" + px(l.width() + 2 * pad) + "\" height=\"" +
         px(l.height() + 2 * pad) + "\"/></clipPath></defs>\n";
  out += "<g class=\"series-area\" clip-path=\"url(#" + id + ")\">\n";
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const PlotSeries& s = chart.series[i];
    const LegendEntry& e = entries[i];
    const bool dashed = s.style == LineStyle::Dashed;
    // Runs of drawable points; a NaN ends one.
    std::vector<std::vector<std::pair<double, double>>> runs(1);
    for (const PlotPoint& p : s.points) {
      if (std::isnan(p.x) || std::isnan(p.y)) {
        if (!runs.back().empty()) runs.emplace_back();
        continue;
      }
      runs.back().emplace_back(l.map_x(p.x), l.map_y(p.y));
    }
    const std::string name = escape_xml(s.name);
    for (const auto& run : runs) {
      if (run.size() < 2) continue;
      std::string points;
      for (const auto& [x, y] : run) append_point(points, x, y);
      out += "<polyline class=\"series\" data-series=\"" + name + "\" points=\"" + points +
             "\" fill=\"none\" stroke=\"" + escape_xml(e.colour) +
             "\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"" +
             (dashed ? " stroke-dasharray=\"7 4\"" : "") + "/>\n";
    }
    out += "<g class=\"markers\" data-series=\"" + name + "\">\n";
    for (const auto& run : runs) {
      for (const auto& [x, y] : run) append_marker(out, e.marker, x, y, e.colour, dashed);
    }
    out += "</g>\n";
  }
  out += "</g>\n";
}

// Draws one chart into `frame`. `id` makes its clip path's id unique within the document.
void append_chart(std::string& out, const LineChart& chart, const Frame& frame, bool with_legend,
                  const std::string& id) {
  const std::vector<LegendEntry> entries = resolve_series(chart);
  const ChartLayout l = layout_chart(chart, frame, entries, with_legend);
  append_axes(out, l);
  append_labels(out, chart, frame, l);
  append_series(out, chart, entries, l, id);
  if (data_bounds(chart).empty()) {
    out += "<text class=\"no-data\" x=\"" + px(l.left + l.width() / 2) + "\" y=\"" +
           px(l.top + l.height() / 2) + "\" text-anchor=\"middle\" font-size=\"" + px(kNoteFont) +
           "\" fill=\"#777777\">no data</text>\n";
  }
  if (l.legend) append_legend(out, entries, l.right + kLegendGap, l.top + 2, l.legend_text);
}

// FNV-1a: a stable hash of the document, so ids differ between charts inlined in one page.
std::string document_id(const std::string& body) {
  uint64_t h = 1469598103934665603ull;
  for (char c : body) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "emovec-plot-%08x", static_cast<unsigned>(h >> 32));
  return buf;
}

std::string finish_document(const std::string& body, double width, double height,
                            const std::string& title) {
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + px(width) +
                    "\" height=\"" + px(height) + "\" viewBox=\"0 0 " + px(width) + " " +
                    px(height) + "\" font-family=\"" + kFontFamily + "\">\n";
  if (!title.empty()) out += "<title>" + escape_xml(title) + "</title>\n";
  out += "<rect class=\"background\" x=\"0\" y=\"0\" width=\"" + px(width) + "\" height=\"" +
         px(height) + "\" fill=\"#ffffff\"/>\n";
  out += body;
  out += "</svg>\n";
  const std::string id = document_id(out);
  std::string result;
  result.reserve(out.size() + 64);
  for (char c : out) {
    if (c == kIdPlaceholder) {
      result += id;
    } else {
      result += c;
    }
  }
  return result;
}

void check_size(double width, double height) {
  if (width < kMinChartSize || height < kMinChartSize) {
    throw Error("chart size " + px(width) + "x" + px(height) + " is too small (at least " +
                std::to_string(kMinChartSize) + "x" + std::to_string(kMinChartSize) + ")");
  }
}

}  // namespace

std::optional<std::string> emotion_colour(std::string_view emotion) {
  const std::string name = lower(emotion);
  for (const EmotionColour& e : kEmotionColours) {
    if (name == e.emotion) return std::string(e.colour);
  }
  return std::nullopt;
}

std::span<const std::string_view> default_palette() { return kPalette; }

std::string render_svg(const LineChart& chart) {
  check_size(chart.width, chart.height);
  validate(chart);
  const double width = chart.width;
  // A legend longer than the plot area is tall makes the chart taller rather than overflow.
  const double height = std::max(
      static_cast<double>(chart.height),
      std::ceil(top_margin(chart) + legend_needs(chart) + 8 + kTickLength + kTickFont + 28));
  std::string body;
  append_chart(body, chart, {0, 0, width, height}, true, std::string(1, kIdPlaceholder) + "-0");
  return finish_document(body, width, height, chart.title);
}

std::string render_svg_grid(std::span<const LineChart> charts, const ChartGridLayout& layout) {
  if (layout.columns < 1) throw Error("chart grid: columns must be at least 1");
  check_size(layout.panel_width, layout.panel_height);
  for (const LineChart& chart : charts) validate(chart);

  const double title_height = layout.title.empty() ? 0 : 36;
  const size_t columns =
      std::min<size_t>(static_cast<size_t>(layout.columns), std::max<size_t>(charts.size(), 1));
  const size_t rows = std::max<size_t>((charts.size() + columns - 1) / columns, 1);
  const double pw = layout.panel_width;
  const double ph = layout.panel_height;

  // Shared legend: each distinct series once, in order of first appearance.
  std::vector<LegendEntry> shared;
  if (layout.shared_legend) {
    for (const LineChart& chart : charts) {
      for (const LegendEntry& e : resolve_series(chart)) {
        const bool seen = std::any_of(shared.begin(), shared.end(), [&](const LegendEntry& s) {
          return s.name == e.name && s.colour == e.colour && s.style == e.style;
        });
        if (!seen) shared.push_back(e);
      }
    }
  }
  const double legend_text = 200;
  const double legend_w = shared.empty() ? 0 : legend_width(shared, legend_text) + 2 * kLegendGap;

  const double width = std::ceil(static_cast<double>(columns) * pw + legend_w);
  const double height = std::max(title_height + static_cast<double>(rows) * ph,
                                 title_height + 40 + legend_height(shared.size()) + 10);

  std::string body;
  if (!layout.title.empty()) {
    body += "<text class=\"grid-title\" x=\"" + px(width / 2) +
            "\" y=\"26\" text-anchor=\"middle\" font-size=\"" + px(kTitleFont + 2) +
            "\" font-weight=\"bold\" fill=\"" + kTextColour + "\">" +
            escape_xml(fit_text(layout.title, kTitleFont + 2, width - 20)) + "</text>\n";
  }
  if (charts.empty()) {
    body += "<text class=\"no-data\" x=\"" + px(width / 2) + "\" y=\"" + px(title_height + ph / 2) +
            "\" text-anchor=\"middle\" font-size=\"" + px(kNoteFont) +
            "\" fill=\"#777777\">no data</text>\n";
  }
  for (size_t i = 0; i < charts.size(); ++i) {
    const Frame frame{static_cast<double>(i % columns) * pw,
                      title_height + static_cast<double>(i / columns) * ph, pw, ph};
    body += "<g class=\"panel\">\n";
    append_chart(body, charts[i], frame, !layout.shared_legend,
                 std::string(1, kIdPlaceholder) + "-" + std::to_string(i));
    body += "</g>\n";
  }
  if (!shared.empty()) {
    append_legend(body, shared, static_cast<double>(columns) * pw + kLegendGap, title_height + 40,
                  legend_text);
  }
  return finish_document(body, width, height, layout.title);
}

}  // namespace emovec
