// Line charts for evaluation reports, written as self-contained SVG: emotion probability or score
// against the steering strength alpha, topic adherence against alpha, perplexity (log scale)
// against alpha, one line per emotion, and small multiples of such charts (one panel per
// emotion).
//
// The output depends only on the chart: numbers are formatted without the C locale, so the same
// chart gives byte-identical SVG on every machine, and reports can be compared with diff.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace emovec {

struct PlotPoint {
  double x = 0;
  double y = 0;
};

enum class LineStyle { Solid, Dashed };

enum class YScale { Linear, Log };

struct PlotRange {
  double min = 0;
  double max = 1;
};

struct PlotSeries {
  std::string name;
  // "#rrggbb" or any SVG colour. Empty: the fixed colour of an emotion when the name starts with
  // one ("joy", "Joy (steered)"), else the next colour of the default palette not already used.
  std::string colour;
  // Dashed lines are meant for baselines (the unsteered model, a reference scorer).
  LineStyle style = LineStyle::Solid;
  // Joined in the order given. A point with a NaN coordinate is not drawn and breaks the line
  // there; an infinite coordinate is an error.
  std::vector<PlotPoint> points;
};

struct LineChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  // Unset: x spans the data exactly (the first and last points sit on the plot area's edges);
  // y is widened to the nearest "nice" ticks (1, 2, 2.5 or 5 times a power of ten) around the
  // data. Set: that range, with nice ticks inside it. Data outside is clipped.
  std::optional<PlotRange> x_range;
  std::optional<PlotRange> y_range;
  // Log: ticks at powers of ten (with 2 and 5 between them when the data spans few decades);
  // every y must then be positive.
  YScale y_scale = YScale::Linear;
  std::vector<PlotSeries> series;
  // Size of the whole chart in pixels, legend included. The legend goes to the right of the plot
  // area, so it never covers data; a chart whose legend is taller than it grows to fit it, and
  // legend names too long for the space are shortened with an ellipsis.
  int width = 720;
  int height = 420;
};

struct ChartGridLayout {
  std::string title;  // above all panels; may be empty
  int columns = 3;
  int panel_width = 360;  // each panel's size; LineChart::width and height are ignored
  int panel_height = 260;
  // One legend to the right of the grid for every distinct series (by name, colour and style),
  // instead of one per panel: for panels that all show the same series.
  bool shared_legend = false;
};

// The chart as a complete SVG document (<svg> root with width, height and viewBox). Throws Error
// for an infinite coordinate, a non-positive y on a log scale, or an empty or inverted fixed
// range. A chart with no series (or no drawable point) shows its axes and "no data".
std::string render_svg(const LineChart& chart);

// Several charts in one SVG, row by row, `layout.columns` per row.
std::string render_svg_grid(std::span<const LineChart> charts, const ChartGridLayout& layout);

// The fixed colour of an emotion ("anger", "disgust", "fear", "joy", "sadness", "neutral"; case
// does not matter), or nullopt for any other name. Colours are from the Okabe-Ito palette, which
// stays distinguishable under the common forms of colour blindness.
std::optional<std::string> emotion_colour(std::string_view emotion);

// The default palette for series that are not emotions (Okabe-Ito, in the order used).
std::span<const std::string_view> default_palette();

}  // namespace emovec
