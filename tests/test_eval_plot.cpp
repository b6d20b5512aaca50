// SVG line charts: every document is parsed by a strict XML reader written here (balanced tags,
// quoted attributes, known entities only), and the geometry is checked from the parsed document:
// where points land against the plot area and the grid lines, how NaN breaks a line, which ticks
// are chosen, escaping, the legend, errors. The example charts are also written to test-output/
// in the build folder, for looking at.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "emovec/error.h"
#include "eval/plot.h"

namespace emovec {
namespace {

// ---- a strict XML reader ----------------------------------------------------------------------

struct Element {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::vector<Element> children;
  std::string text;  // the element's own character data, entities decoded

  bool has(const std::string& key) const {
    return std::any_of(attributes.begin(), attributes.end(),
                       [&](const auto& a) { return a.first == key; });
  }
  const std::string& attr(const std::string& key) const {
    for (const auto& [k, v] : attributes) {
      if (k == key) return v;
    }
    throw std::runtime_error("<" + name + "> has no attribute " + key);
  }
  double number(const std::string& key) const { return std::stod(attr(key)); }
};

class XmlReader {
 public:
  explicit XmlReader(std::string_view doc) : doc_(doc) {}

  Element read() {
    skip_space();
    if (starts_with("<?xml")) skip_past("?>");
    skip_misc();
    Element root = element();
    skip_misc();
    if (pos_ != doc_.size()) fail("content after the root element");
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("XML error at byte " + std::to_string(pos_) + ": " + what);
  }
  bool starts_with(std::string_view s) const { return doc_.substr(pos_, s.size()) == s; }
  void skip_space() {
    while (pos_ < doc_.size() &&
           std::string_view(" \t\r\n").find(doc_[pos_]) != std::string::npos) {
      ++pos_;
    }
  }
  void skip_past(std::string_view end) {
    const size_t at = doc_.find(end, pos_);
    if (at == std::string::npos) fail("unterminated construct");
    pos_ = at + end.size();
  }
  void skip_misc() {
    for (skip_space(); starts_with("<!--"); skip_space()) skip_past("-->");
  }
  static bool name_char(char c, bool first) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    return letter || (!first && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
  }
  std::string name() {
    const size_t start = pos_;
    while (pos_ < doc_.size() && name_char(doc_[pos_], pos_ == start)) ++pos_;
    if (pos_ == start) fail("expected a name");
    return std::string(doc_.substr(start, pos_ - start));
  }
  static void append_utf8(std::string& out, unsigned long cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  // Character data up to `stop`, with entities decoded; raw '<' and stray '&' are errors.
  std::string characters(char stop) {
    std::string out;
    while (pos_ < doc_.size() && doc_[pos_] != stop) {
      const char c = doc_[pos_];
      if (c == '<') fail("raw '<' in character data");
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
        fail("control character");
      }
      if (c != '&') {
        out += c;
        ++pos_;
        continue;
      }
      const size_t end = doc_.find(';', pos_);
      if (end == std::string::npos || end - pos_ > 10) fail("'&' that starts no entity");
      const std::string entity(doc_.substr(pos_ + 1, end - pos_ - 1));
      if (entity == "amp") {
        out += '&';
      } else if (entity == "lt") {
        out += '<';
      } else if (entity == "gt") {
        out += '>';
      } else if (entity == "quot") {
        out += '"';
      } else if (entity == "apos") {
        out += '\'';
      } else if (entity.size() > 1 && entity[0] == '#') {
        const bool hex = entity[1] == 'x';
        append_utf8(out, std::stoul(entity.substr(hex ? 2 : 1), nullptr, hex ? 16 : 10));
      } else {
        fail("unknown entity &" + entity + ";");
      }
      pos_ = end + 1;
    }
    return out;
  }
  Element element() {
    if (!starts_with("<")) fail("expected '<'");
    ++pos_;
    Element e;
    e.name = name();
    while (true) {
      const size_t before = pos_;
      skip_space();
      if (starts_with("/>")) {
        pos_ += 2;
        return e;
      }
      if (starts_with(">")) {
        ++pos_;
        break;
      }
      if (pos_ == before) fail("attributes must be separated by white space");
      std::string key = name();
      skip_space();
      if (!starts_with("=")) fail("attribute " + key + " has no value");
      ++pos_;
      skip_space();
      if (pos_ >= doc_.size() || (doc_[pos_] != '"' && doc_[pos_] != '\'')) {
        fail("attribute " + key + " is not quoted");
      }
      const char quote = doc_[pos_++];
      std::string value = characters(quote);
      if (pos_ >= doc_.size()) fail("unterminated attribute value");
      ++pos_;
      if (e.has(key)) fail("duplicate attribute " + key);
      e.attributes.emplace_back(std::move(key), std::move(value));
    }
    while (true) {
      e.text += characters('<');
      if (pos_ >= doc_.size()) fail("<" + e.name + "> is not closed");
      if (starts_with("<!--")) {
        skip_past("-->");
      } else if (starts_with("</")) {
        pos_ += 2;
        const std::string closing = name();
        if (closing != e.name) fail("<" + e.name + "> closed by </" + closing + ">");
        skip_space();
        if (!starts_with(">")) fail("bad closing tag");
        ++pos_;
        return e;
      } else {
        e.children.push_back(element());
      }
    }
  }

  std::string_view doc_;
  size_t pos_ = 0;
};

void collect(const Element& e, const std::function<bool(const Element&)>& match,
             std::vector<const Element*>& out) {
  if (match(e)) out.push_back(&e);
  for (const Element& child : e.children) collect(child, match, out);
}

// Elements with class `cls`, in document order.
std::vector<const Element*> by_class(const Element& root, const std::string& cls) {
  std::vector<const Element*> out;
  collect(
      root, [&](const Element& e) { return e.has("class") && e.attr("class") == cls; }, out);
  return out;
}

struct Doc {
  std::string svg;
  Element root;
};

Doc parse(std::string svg) {
  Element root = XmlReader(svg).read();
  return {std::move(svg), std::move(root)};
}

void write_output(const std::string& name, const std::string& svg) {
  const std::filesystem::path dir = std::filesystem::path(EMOVEC_BINARY_DIR) / "test-output";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << svg;
}

struct Rect {
  double x, y, width, height;
  double right() const { return x + width; }
  double bottom() const { return y + height; }
};

Rect plot_area(const Element& root, size_t i = 0) {
  const auto areas = by_class(root, "plot-area");
  if (i >= areas.size()) throw std::runtime_error("no plot area " + std::to_string(i));
  const Element& a = *areas[i];
  return {a.number("x"), a.number("y"), a.number("width"), a.number("height")};
}

std::vector<std::pair<double, double>> polyline_points(const Element& polyline) {
  std::vector<std::pair<double, double>> out;
  const std::string& s = polyline.attr("points");
  size_t pos = 0;
  while (pos < s.size()) {
    size_t used = 0;
    const double x = std::stod(s.substr(pos), &used);
    pos += used;
    if (s[pos] != ',') throw std::runtime_error("bad points list: " + s);
    ++pos;
    const double y = std::stod(s.substr(pos), &used);
    pos += used;
    out.emplace_back(x, y);
    while (pos < s.size() && s[pos] == ' ') ++pos;
  }
  return out;
}

// A tick label as a number ("−0.25" uses U+2212).
double tick_value(std::string label) {
  const std::string minus = "\xE2\x88\x92";
  if (label.rfind(minus, 0) == 0) label.replace(0, minus.size(), "-");
  size_t used = 0;
  const double v = std::stod(label, &used);
  if (used != label.size()) throw std::runtime_error("tick label is not a number: " + label);
  return v;
}

struct Ticks {
  std::vector<double> values;
  std::vector<double> pixels;  // where their grid lines are
};

// Labels and grid lines of one axis ("y" or "x") of the first panel.
Ticks ticks(const Element& root, const std::string& axis) {
  Ticks t;
  for (const Element* label : by_class(root, axis + "-tick")) {
    t.values.push_back(tick_value(label->text));
  }
  for (const Element* line : by_class(root, "grid-" + axis)) {
    t.pixels.push_back(line->number(axis == "y" ? "y1" : "x1"));
  }
  EXPECT_EQ(t.values.size(), t.pixels.size());
  return t;
}

// m x 10^k for m in {1, 2, 2.5, 5}.
bool is_nice(double step) {
  const double e = std::floor(std::log10(step));
  const double m = step / std::pow(10.0, e);
  for (double nice : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (std::abs(m - nice) < 1e-6) return true;
  }
  return false;
}

PlotSeries series(std::string name, std::vector<PlotPoint> points,
                  LineStyle style = LineStyle::Solid) {
  PlotSeries s;
  s.name = std::move(name);
  s.points = std::move(points);
  s.style = style;
  return s;
}

LineChart simple_chart(std::vector<PlotPoint> points) {
  LineChart chart;
  chart.title = "Probability of joy";
  chart.x_label = "alpha";
  chart.y_label = "probability";
  chart.series.push_back(series("joy", std::move(points)));
  return chart;
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kPixel = 0.011;  // coordinates are written to a hundredth of a pixel

// ---- the XML reader itself rejects what it should ---------------------------------------------

TEST(EvalPlotXmlReader, RejectsMalformedDocuments) {
  EXPECT_NO_THROW(XmlReader("<a x=\"1\"><b/>t&amp;t</a>").read());
  EXPECT_THROW(XmlReader("<a><b></a>").read(), std::runtime_error);
  EXPECT_THROW(XmlReader("<a x=1/>").read(), std::runtime_error);
  EXPECT_THROW(XmlReader("<a>x < y</a>").read(), std::runtime_error);
  EXPECT_THROW(XmlReader("<a>fish & chips</a>").read(), std::runtime_error);
  EXPECT_THROW(XmlReader("<a x=\"1\" x=\"2\"/>").read(), std::runtime_error);
  EXPECT_THROW(XmlReader("<a/><b/>").read(), std::runtime_error);
  EXPECT_THROW(XmlReader("<a>&nbsp;</a>").read(), std::runtime_error);
}

// ---- single charts ------------------------------------------------------------------------------

TEST(EvalPlot, DocumentIsWellFormedAndSized) {
  LineChart chart = simple_chart({{0, 0.1}, {1, 0.4}, {2, 0.9}});
  chart.width = 800;
  chart.height = 500;
  const Doc doc = parse(render_svg(chart));
  EXPECT_EQ(doc.root.name, "svg");
  EXPECT_EQ(doc.root.attr("xmlns"), "http://www.w3.org/2000/svg");
  EXPECT_EQ(doc.root.attr("width"), "800");
  EXPECT_EQ(doc.root.attr("height"), "500");
  EXPECT_EQ(doc.root.attr("viewBox"), "0 0 800 500");
  const auto background = by_class(doc.root, "background");
  ASSERT_EQ(background.size(), 1u);
  EXPECT_EQ(background[0]->attr("fill"), "#ffffff");
  EXPECT_EQ(by_class(doc.root, "title").at(0)->text, "Probability of joy");
  EXPECT_EQ(by_class(doc.root, "x-label").at(0)->text, "alpha");
  EXPECT_EQ(by_class(doc.root, "y-label").at(0)->text, "probability");
  // Same chart, same bytes.
  EXPECT_EQ(render_svg(chart), doc.svg);
}

TEST(EvalPlot, XSpansThePlotAreaAndLargerYIsHigher) {
  const Doc doc = parse(render_svg(simple_chart({{-1, 0.2}, {0.5, 0.7}, {3, 0.4}})));
  const Rect area = plot_area(doc.root);
  const auto lines = by_class(doc.root, "series");
  ASSERT_EQ(lines.size(), 1u);
  const auto points = polyline_points(*lines[0]);
  ASSERT_EQ(points.size(), 3u);
  EXPECT_NEAR(points.front().first, area.x, kPixel);
  EXPECT_NEAR(points.back().first, area.right(), kPixel);
  // x = 0.5 is 1.5 / 4 of the way along.
  EXPECT_NEAR(points[1].first, area.x + area.width * 1.5 / 4, kPixel);
  // 0.7 > 0.4 > 0.2: higher on the page means a smaller y coordinate.
  EXPECT_LT(points[1].second, points[2].second);
  EXPECT_LT(points[2].second, points[0].second);
  for (const auto& [x, y] : points) {
    EXPECT_GE(y, area.y - kPixel);
    EXPECT_LE(y, area.bottom() + kPixel);
  }
}

TEST(EvalPlot, PointsSitWhereTheGridLinesSay) {
  const Doc doc = parse(render_svg(simple_chart({{0, 3.7}, {1, 12.2}, {2, -4.9}})));
  const Ticks y = ticks(doc.root, "y");
  ASSERT_GE(y.values.size(), 2u);
  // The value-to-pixel line through the first and last grid lines.
  const double slope = (y.pixels.back() - y.pixels.front()) / (y.values.back() - y.values.front());
  const auto expected = [&](double v) { return y.pixels.front() + (v - y.values.front()) * slope; };
  const auto points = polyline_points(*by_class(doc.root, "series").at(0));
  EXPECT_NEAR(points[0].second, expected(3.7), 2 * kPixel);
  EXPECT_NEAR(points[1].second, expected(12.2), 2 * kPixel);
  EXPECT_NEAR(points[2].second, expected(-4.9), 2 * kPixel);
  // Every grid line lies on that same line (the axis is linear).
  for (size_t i = 0; i < y.values.size(); ++i) {
    EXPECT_NEAR(y.pixels[i], expected(y.values[i]), 2 * kPixel);
  }
  // The automatic range ends on ticks: the first and last grid lines are the plot area's edges.
  const Rect area = plot_area(doc.root);
  EXPECT_NEAR(y.pixels.front(), area.bottom(), kPixel);
  EXPECT_NEAR(y.pixels.back(), area.y, kPixel);
}

TEST(EvalPlot, TicksAreNiceAndCoverTheData) {
  const std::vector<std::pair<double, double>> ranges = {
      {0.013, 0.87}, {-3.2, 17.5}, {1234, 5678}, {0.5, 0.5}, {-0.004, -0.001}, {0, 1}, {98, 103}};
  for (const auto& [lo, hi] : ranges) {
    SCOPED_TRACE(std::to_string(lo) + " .. " + std::to_string(hi));
    const Doc doc = parse(render_svg(simple_chart({{0, lo}, {1, (lo + hi) / 2}, {2, hi}})));
    for (const std::string axis : {"y", "x"}) {
      SCOPED_TRACE(axis);
      const Ticks t = ticks(doc.root, axis);
      ASSERT_GE(t.values.size(), 2u);
      EXPECT_LE(t.values.size(), 11u);
      const double step = t.values[1] - t.values[0];
      EXPECT_GT(step, 0);
      EXPECT_TRUE(is_nice(step)) << step;
      for (size_t i = 1; i < t.values.size(); ++i) {
        EXPECT_NEAR(t.values[i] - t.values[i - 1], step, step * 1e-6);
      }
      for (double v : t.values) {
        const double k = v / step;
        EXPECT_NEAR(k, std::round(k), 1e-6) << v << " is not a multiple of " << step;
      }
    }
    const Ticks y = ticks(doc.root, "y");
    EXPECT_GE(y.values.size(), 3u);
    EXPECT_LE(y.values.front(), lo);
    EXPECT_GE(y.values.back(), hi);
    // x spans the data exactly, so its ticks lie inside [0, 2].
    const Ticks x = ticks(doc.root, "x");
    EXPECT_GE(x.values.front(), 0);
    EXPECT_LE(x.values.back(), 2);
  }
}

TEST(EvalPlot, TickLabelsHaveOneFormatPerAxis) {
  const Doc doc = parse(render_svg(simple_chart({{0, 0}, {1, 1}})));
  std::vector<std::string> labels;
  for (const Element* e : by_class(doc.root, "y-tick")) labels.push_back(e->text);
  // Steps of 0.2 (or 0.25): every label has the same number of decimals.
  ASSERT_GE(labels.size(), 3u);
  const size_t decimals = labels[0].size() - labels[0].find('.') - 1;
  for (const std::string& label : labels) {
    ASSERT_NE(label.find('.'), std::string::npos) << label;
    EXPECT_EQ(label.size() - label.find('.') - 1, decimals) << label;
  }
  EXPECT_EQ(labels.front().substr(0, 2), "0.");
  // Negative numbers use the minus sign, and -0 is never printed.
  const Doc negative = parse(render_svg(simple_chart({{0, -2}, {1, 2}})));
  std::vector<std::string> signed_labels;
  for (const Element* e : by_class(negative.root, "y-tick")) signed_labels.push_back(e->text);
  EXPECT_EQ(signed_labels.front().rfind("\xE2\x88\x92", 0), 0u) << signed_labels.front();
  const auto zero = std::find_if(signed_labels.begin(), signed_labels.end(),
                                 [](const std::string& l) { return tick_value(l) == 0; });
  ASSERT_NE(zero, signed_labels.end());
  EXPECT_NE((*zero)[0], '-');
  EXPECT_NE(zero->rfind("\xE2\x88\x92", 0), 0u);
}

TEST(EvalPlot, FixedRangeKeepsItsEnds) {
  LineChart chart = simple_chart({{0, 0.3}, {1, 1.4}, {2, -0.2}});  // partly outside
  chart.y_range = PlotRange{0, 1};
  const Doc doc = parse(render_svg(chart));
  const Rect area = plot_area(doc.root);
  const Ticks y = ticks(doc.root, "y");
  EXPECT_DOUBLE_EQ(y.values.front(), 0);
  EXPECT_DOUBLE_EQ(y.values.back(), 1);
  EXPECT_NEAR(y.pixels.front(), area.bottom(), kPixel);
  EXPECT_NEAR(y.pixels.back(), area.y, kPixel);
  // 0.3 is 30% of the way up; the line is clipped to (about) the plot area.
  const auto points = polyline_points(*by_class(doc.root, "series").at(0));
  EXPECT_NEAR(points[0].second, area.bottom() - 0.3 * area.height, kPixel);
  EXPECT_FALSE(by_class(doc.root, "series-area").at(0)->attr("clip-path").empty());
}

TEST(EvalPlot, LogScaleGivesEqualStepsForEqualRatios) {
  LineChart chart;
  chart.title = "Perplexity";
  chart.y_scale = YScale::Log;
  chart.series.push_back(series("fear", {{0, 10}, {1, 100}, {2, 1000}, {3, 31.6227766}}));
  const Doc doc = parse(render_svg(chart));
  const auto points = polyline_points(*by_class(doc.root, "series").at(0));
  const double decade = points[0].second - points[1].second;
  EXPECT_GT(decade, 10);
  EXPECT_NEAR(points[1].second - points[2].second, decade, 2 * kPixel);
  // sqrt(10) x 10 is half a decade above 10.
  EXPECT_NEAR(points[0].second - points[3].second, decade / 2, 2 * kPixel);

  const Ticks y = ticks(doc.root, "y");
  ASSERT_GE(y.values.size(), 3u);
  EXPECT_LE(y.values.front(), 10);
  EXPECT_GE(y.values.back(), 1000);
  for (double v : y.values) {
    const double m = v / std::pow(10.0, std::floor(std::log10(v) + 1e-9));
    EXPECT_TRUE(std::abs(m - 1) < 1e-9 || std::abs(m - 2) < 1e-9 || std::abs(m - 5) < 1e-9) << v;
  }
  // Grid lines sit at log10 of their values.
  for (size_t i = 1; i < y.values.size(); ++i) {
    const double expected =
        y.pixels[0] - std::log10(y.values[i] / y.values[0]) * decade;  // decade px per 10x
    EXPECT_NEAR(y.pixels[i], expected, 2 * kPixel) << y.values[i];
  }
}

TEST(EvalPlot, LogScaleOverANarrowRangeStillHasTicks) {
  LineChart chart;
  chart.y_scale = YScale::Log;
  chart.series.push_back(series("ppl", {{0, 12.3}, {1, 13.1}, {2, 14.2}}));
  const Ticks y = ticks(parse(render_svg(chart)).root, "y");
  EXPECT_GE(y.values.size(), 3u);
  EXPECT_LE(y.values.front(), 12.3);
  EXPECT_GE(y.values.back(), 14.2);
}

TEST(EvalPlot, NaNBreaksTheLine) {
  LineChart chart =
      simple_chart({{0, 0.1}, {1, 0.2}, {2, kNaN}, {3, 0.4}, {4, 0.5}, {kNaN, 0.3}, {6, 0.2}});
  const Doc doc = parse(render_svg(chart));
  const auto lines = by_class(doc.root, "series");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(polyline_points(*lines[0]).size(), 2u);
  EXPECT_EQ(polyline_points(*lines[1]).size(), 2u);
  EXPECT_EQ(lines[0]->attr("data-series"), "joy");
  EXPECT_EQ(lines[1]->attr("data-series"), "joy");
  // Every finite point has a marker, the lone one after the second NaN included.
  EXPECT_EQ(by_class(doc.root, "marker").size(), 5u + 1u /* legend */);
  // The second line starts right of where the first ended.
  EXPECT_GT(polyline_points(*lines[1]).front().first, polyline_points(*lines[0]).back().first);
}

TEST(EvalPlot, TextIsEscaped) {
  LineChart chart = simple_chart({{0, 1}, {1, 2}});
  chart.title = "a <b> & \"c\" 'd'";
  chart.series[0].name = "x<y&z>\"";
  chart.y_label = "p(joy | <steer>)";
  const Doc doc = parse(render_svg(chart));
  EXPECT_NE(doc.svg.find("a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;"), std::string::npos);
  EXPECT_EQ(doc.svg.find("<b>"), std::string::npos);
  EXPECT_EQ(by_class(doc.root, "title").at(0)->text, chart.title);
  EXPECT_EQ(by_class(doc.root, "legend-label").at(0)->text, "x<y&z>\"");
  EXPECT_EQ(by_class(doc.root, "series").at(0)->attr("data-series"), "x<y&z>\"");
  EXPECT_EQ(by_class(doc.root, "y-label").at(0)->text, "p(joy | <steer>)");
}

TEST(EvalPlot, ControlCharactersAndBadUtf8StayParseable) {
  LineChart chart = simple_chart({{0, 1}, {1, 2}});
  chart.title = std::string("bell\x07 tab\t bad\xFF end");
  const Doc doc = parse(render_svg(chart));
  EXPECT_EQ(by_class(doc.root, "title").at(0)->text, "bell tab  bad\xEF\xBF\xBD end");
}

TEST(EvalPlot, LegendListsSeriesInOrderBesideThePlot) {
  LineChart chart;
  chart.title = "Order";
  for (const char* name : {"zeta", "alpha", "middle"}) {
    chart.series.push_back(series(name, {{0, 1}, {1, 2}}));
  }
  const Doc doc = parse(render_svg(chart));
  const auto labels = by_class(doc.root, "legend-label");
  ASSERT_EQ(labels.size(), 3u);
  EXPECT_EQ(labels[0]->text, "zeta");
  EXPECT_EQ(labels[1]->text, "alpha");
  EXPECT_EQ(labels[2]->text, "middle");
  const Rect area = plot_area(doc.root);
  double previous = -1;
  for (const Element* label : labels) {
    EXPECT_GT(label->number("x"), area.right() + 20) << "the legend must not cover the data";
    EXPECT_GT(label->number("y"), previous);
    previous = label->number("y");
  }
  // The longest label fits in the chart (estimated at 0.6 em per character, 12 px).
  EXPECT_LE(labels[0]->number("x") + 6 * 0.6 * 12, doc.root.number("width"));
}

TEST(EvalPlot, LongAndManyLegendEntriesStayInside) {
  LineChart chart;
  chart.series.push_back(series(std::string(120, 'n'), {{0, 1}, {1, 2}}));
  for (int i = 0; i < 29; ++i)
    chart.series.push_back(series(std::string("s").append(std::to_string(i)), {{0, 1}}));
  const Doc doc = parse(render_svg(chart));
  const double width = doc.root.number("width");
  const double height = doc.root.number("height");
  EXPECT_EQ(width, 720);
  EXPECT_GT(height, 420) << "30 legend rows do not fit in 420 pixels";
  const auto labels = by_class(doc.root, "legend-label");
  ASSERT_EQ(labels.size(), 30u);
  const std::string& shortened = labels[0]->text;
  EXPECT_EQ(shortened.substr(shortened.size() - 3), "\xE2\x80\xA6");
  EXPECT_LE(labels[0]->number("x") + static_cast<double>(shortened.size() - 2) * 0.6 * 12, width);
  EXPECT_LT(labels.back()->number("y"), height);
  EXPECT_GT(labels[0]->number("x"), plot_area(doc.root).right());
}

TEST(EvalPlot, ColoursFollowEmotionsAndThePalette) {
  LineChart chart;
  chart.series.push_back(series("anger", {{0, 1}, {1, 2}}));
  chart.series.push_back(series("Joy (steered)", {{0, 1}, {1, 3}}));
  chart.series.push_back(series("first other", {{0, 2}, {1, 3}}));
  chart.series.push_back(series("second other", {{0, 2}, {1, 1}}));
  chart.series.push_back(series("unsteered", {{0, 2}, {1, 2}}, LineStyle::Dashed));
  chart.series.push_back(series("mine", {{0, 1}, {1, 1}}));
  chart.series.back().colour = "#123456";
  const Doc doc = parse(render_svg(chart));
  const auto lines = by_class(doc.root, "series");
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0]->attr("stroke"), *emotion_colour("anger"));
  EXPECT_EQ(lines[1]->attr("stroke"), *emotion_colour("joy"));
  EXPECT_EQ(lines[5]->attr("stroke"), "#123456");
  std::set<std::string> colours;
  for (const Element* line : lines) colours.insert(line->attr("stroke"));
  EXPECT_EQ(colours.size(), 6u) << "each series gets its own colour";
  // Other series take palette colours the emotions did not take.
  const auto palette = default_palette();
  for (size_t i : {2u, 3u, 4u}) {
    EXPECT_NE(std::find(palette.begin(), palette.end(), lines[i]->attr("stroke")), palette.end());
  }
  EXPECT_FALSE(lines[0]->has("stroke-dasharray"));
  EXPECT_TRUE(lines[4]->has("stroke-dasharray"));

  EXPECT_EQ(emotion_colour("SADNESS"), emotion_colour("sadness"));
  EXPECT_FALSE(emotion_colour("joyful").has_value());
  std::set<std::string> emotions;
  for (const char* e : {"anger", "disgust", "fear", "joy", "sadness", "neutral"}) {
    emotions.insert(emotion_colour(e).value());
  }
  EXPECT_EQ(emotions.size(), 6u);
}

TEST(EvalPlot, EmptyChartHasAxesAndSaysNoData) {
  LineChart chart;
  chart.title = "Nothing yet";
  for (const LineChart& c : {chart, [&] {
                               LineChart all_nan = chart;
                               all_nan.series.push_back(series("joy", {{0, kNaN}, {kNaN, 1}}));
                               return all_nan;
                             }()}) {
    const Doc doc = parse(render_svg(c));
    EXPECT_EQ(by_class(doc.root, "no-data").at(0)->text, "no data");
    EXPECT_EQ(by_class(doc.root, "plot-area").size(), 1u);
    EXPECT_GE(by_class(doc.root, "y-tick").size(), 2u);
    EXPECT_GE(by_class(doc.root, "x-tick").size(), 2u);
    EXPECT_TRUE(by_class(doc.root, "series").empty());
  }
  // With data there is no note.
  EXPECT_TRUE(by_class(parse(render_svg(simple_chart({{0, 1}}))).root, "no-data").empty());
}

TEST(EvalPlot, BadInputThrows) {
  EXPECT_THROW(render_svg(simple_chart({{0, 1}, {1, kInf}})), Error);
  EXPECT_THROW(render_svg(simple_chart({{-kInf, 1}, {1, 2}})), Error);
  LineChart log = simple_chart({{0, 1}, {1, 0}});
  log.y_scale = YScale::Log;
  EXPECT_THROW(render_svg(log), Error);
  LineChart inverted = simple_chart({{0, 1}});
  inverted.y_range = PlotRange{1, 0};
  EXPECT_THROW(render_svg(inverted), Error);
  EXPECT_THROW(render_svg(simple_chart({{0, -1e308}, {1, 1e308}})), Error);
  EXPECT_THROW(render_svg(simple_chart({{-1e308, 0}, {1e308, 1}})), Error);
  LineChart tiny = simple_chart({{0, 1}});
  tiny.width = 10;
  EXPECT_THROW(render_svg(tiny), Error);
  try {
    render_svg(simple_chart({{0, 1}, {1, 2}, {2, -kInf}}));
    FAIL() << "no exception";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("joy"), std::string::npos) << what;
    EXPECT_NE(what.find("point 2"), std::string::npos) << what;
  }
  const LineChart ok = simple_chart({{0, 1}});
  ChartGridLayout no_columns;
  no_columns.columns = 0;
  EXPECT_THROW(render_svg_grid(std::span(&ok, 1), no_columns), Error);
}

// ---- grids --------------------------------------------------------------------------------------

std::vector<LineChart> emotion_panels() {
  std::vector<LineChart> panels;
  int k = 0;
  for (const char* emotion : {"anger", "disgust", "fear", "joy", "sadness"}) {
    LineChart chart;
    chart.title = emotion;
    chart.x_label = "alpha";
    chart.y_label = "probability";
    chart.y_range = PlotRange{0, 1};
    PlotSeries steered = series(emotion, {});
    PlotSeries base = series("neutral", {}, LineStyle::Dashed);
    for (int i = 0; i <= 8; ++i) {
      const double alpha = i * 0.25;
      const double p = 1 / (1 + std::exp(-(alpha - 0.8 - 0.1 * k) * 4));
      steered.points.push_back({alpha, 0.05 + 0.85 * p});
      base.points.push_back({alpha, 0.6 - 0.5 * p});
    }
    chart.series = {steered, base};
    panels.push_back(chart);
    ++k;
  }
  return panels;
}

bool overlap(const Rect& a, const Rect& b) {
  return a.x < b.right() && b.x < a.right() && a.y < b.bottom() && b.y < a.bottom();
}

TEST(EvalPlot, GridPlacesPanelsWithoutOverlap) {
  const std::vector<LineChart> panels = emotion_panels();
  for (bool shared : {false, true}) {
    SCOPED_TRACE(shared ? "shared legend" : "legend per panel");
    ChartGridLayout layout;
    layout.title = "Emotion probability vs alpha";
    layout.columns = 3;
    layout.shared_legend = shared;
    const Doc doc = parse(render_svg_grid(panels, layout));
    const double width = doc.root.number("width");
    const double height = doc.root.number("height");
    std::vector<Rect> areas;
    for (size_t i = 0; i < 5; ++i) areas.push_back(plot_area(doc.root, i));
    EXPECT_EQ(by_class(doc.root, "plot-area").size(), 5u);
    EXPECT_EQ(by_class(doc.root, "panel").size(), 5u);
    for (size_t i = 0; i < areas.size(); ++i) {
      EXPECT_GE(areas[i].x, 0);
      EXPECT_LE(areas[i].right(), width);
      EXPECT_GE(areas[i].y, 36);  // below the grid title
      EXPECT_LE(areas[i].bottom(), height);
      for (size_t j = i + 1; j < areas.size(); ++j) {
        EXPECT_FALSE(overlap(areas[i], areas[j])) << i << " and " << j;
      }
    }
    // Row by row: panels 0-2 side by side, 3-4 below them.
    EXPECT_LT(areas[0].x, areas[1].x);
    EXPECT_NEAR(areas[0].y, areas[2].y, kPixel);
    EXPECT_GT(areas[3].y, areas[0].bottom());
    // Panel titles in order.
    const auto titles = by_class(doc.root, "title");
    ASSERT_EQ(titles.size(), 5u);
    EXPECT_EQ(titles[0]->text, "anger");
    EXPECT_EQ(titles[4]->text, "sadness");
    // Ids are unique and every clip path reference resolves.
    std::vector<const Element*> with_id;
    collect(
        doc.root, [](const Element& e) { return e.has("id"); }, with_id);
    std::set<std::string> ids;
    for (const Element* e : with_id) EXPECT_TRUE(ids.insert(e->attr("id")).second);
    for (const Element* g : by_class(doc.root, "series-area")) {
      const std::string ref = g->attr("clip-path");  // url(#id)
      EXPECT_TRUE(ids.count(ref.substr(5, ref.size() - 6))) << ref;
    }
    const auto labels = by_class(doc.root, "legend-label");
    if (shared) {
      // "anger" ... "sadness" and one "neutral" baseline, to the right of every panel.
      ASSERT_EQ(labels.size(), 6u);
      EXPECT_EQ(labels[0]->text, "anger");
      EXPECT_EQ(labels[1]->text, "neutral");
      for (const Element* label : labels) {
        for (const Rect& a : areas) EXPECT_GT(label->number("x"), a.right());
      }
    } else {
      EXPECT_EQ(labels.size(), 10u);
    }
  }
}

TEST(EvalPlot, EmptyGridIsADocumentToo) {
  ChartGridLayout layout;
  layout.title = "none";
  const Doc doc = parse(render_svg_grid({}, layout));
  EXPECT_EQ(by_class(doc.root, "no-data").size(), 1u);
}

// ---- example charts, written for looking at ---------------------------------------------------

TEST(EvalPlot, WritesExampleCharts) {
  const char* emotions[] = {"anger", "disgust", "fear", "joy", "sadness"};
  LineChart probability;
  probability.title = "Emotion probability vs alpha (SmolLM2-135M, judge scorer)";
  probability.x_label = "alpha (steering strength)";
  probability.y_label = "probability of the target emotion";
  probability.y_range = PlotRange{0, 1};
  for (int k = 0; k < 5; ++k) {
    PlotSeries s = series(emotions[k], {});
    for (int i = 0; i <= 12; ++i) {
      const double alpha = i * 0.25;
      const double p = 0.08 + 0.85 / (1 + std::exp(-(alpha - 1.0 - 0.2 * k) * 3.5));
      s.points.push_back({alpha, k == 2 && i == 5 ? kNaN : p});
    }
    probability.series.push_back(s);
  }
  PlotSeries neutral = series("neutral (unsteered)", {}, LineStyle::Dashed);
  for (int i = 0; i <= 12; ++i) neutral.points.push_back({i * 0.25, 0.12});
  probability.series.push_back(neutral);

  LineChart perplexity;
  perplexity.title = "Perplexity vs alpha";
  perplexity.x_label = "alpha";
  perplexity.y_label = "perplexity (log scale)";
  perplexity.y_scale = YScale::Log;
  for (int k = 0; k < 5; ++k) {
    PlotSeries s = series(emotions[k], {});
    for (int i = 0; i <= 12; ++i) {
      const double alpha = i * 0.25;
      s.points.push_back({alpha, 9.5 * std::exp(alpha * alpha * (0.35 + 0.08 * k))});
    }
    perplexity.series.push_back(s);
  }

  ChartGridLayout layout;
  layout.title = "Target-emotion probability vs alpha, one panel per emotion";
  layout.columns = 3;
  layout.shared_legend = true;

  const std::string single = render_svg(probability);
  const std::string log = render_svg(perplexity);
  const std::string grid = render_svg_grid(emotion_panels(), layout);
  for (const std::string* svg : {&single, &log, &grid}) EXPECT_NO_THROW(parse(*svg));
  write_output("plot_probability.svg", single);
  write_output("plot_perplexity_log.svg", log);
  write_output("plot_grid.svg", grid);
}

}  // namespace
}  // namespace emovec
