// Whole text files, and their lines.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace emovec {

// The file's bytes. Throws Error "WHAT PATH: cannot open" (or "...: read failed"), `what`
// saying what the file is for ("the queries file"); an empty `what` leaves the path alone.
std::string read_text_file(const std::filesystem::path& path, std::string_view what = {});

// The lines of a text, without their line ends ("\n" or "\r\n"); a last line without one
// counts, an empty text has none. Empty lines are kept, so index + 1 is a line number.
std::vector<std::string> text_lines(std::string_view text);

// A JSON file (configs and indexes: at most max_bytes). Throws Error naming the path when it
// cannot be read, is larger, or is not valid JSON.
inline constexpr uintmax_t kMaxJsonFileBytes = 64ull << 20;
nlohmann::json read_json_file(const std::filesystem::path& path,
                              uintmax_t max_bytes = kMaxJsonFileBytes);

}  // namespace emovec
