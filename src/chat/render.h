// Renders a template string with exactly the given variables, without the conversation handling
// of ChatTemplate (no messages normalization, no tools/documents defaults). For tests and tools
// that exercise the interpreter on its own.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace emovec::chat {

// Throws emovec::Error: syntax errors as ChatTemplate's constructor does, runtime errors as
// "<PythonErrorType>: <message> (chat template line N)", raise_exception with its bare message.
std::string render_template_string(const std::string& source,
                                   const nlohmann::ordered_json& variables);

}  // namespace emovec::chat
