#include "format/text_file.h"

#include <fstream>
#include <iterator>

#include "emovec/error.h"

namespace emovec {

std::string read_text_file(const std::filesystem::path& path, std::string_view what) {
  const std::string name = what.empty() ? path.string() : std::string(what) + " " + path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(name + ": cannot open");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(name + ": read failed");
  return text;
}

std::vector<std::string> text_lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    const size_t next = end == std::string_view::npos ? text.size() : end + 1;
    if (end == std::string_view::npos) end = text.size();
    if (end > start && text[end - 1] == '\r') --end;
    lines.emplace_back(text.substr(start, end - start));
    start = next;
  }
  return lines;
}

nlohmann::json read_json_file(const std::filesystem::path& path, uintmax_t max_bytes) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(path.string() + ": cannot read: " + ec.message());
  if (size > max_bytes) {
    throw Error(path.string() + ": " + std::to_string(size) + " bytes is too large (limit " +
                std::to_string(max_bytes) + ")");
  }
  const std::string text = read_text_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": not valid JSON: " + e.what());
  }
}

}  // namespace emovec
