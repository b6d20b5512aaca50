// What templates can call without defining it: Jinja's filters and tests, the globals Jinja and
// transformers add (range, dict, namespace, raise_exception, strftime_now), and the Python methods
// of str, dict and list that chat templates use (.strip(), .items(), .get(), ...).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/evaluator.h"
#include "chat/value.h"

namespace emovec::chat {

bool is_filter_name(std::string_view name);
bool is_test_name(std::string_view name);

Value run_filter(Renderer& r, const std::string& name, const Value& input, const Args& args);
bool run_test(Renderer& r, const std::string& name, const Value& input, const Args& args);

// The global a name resolves to when no template variable has it (Undefined when none).
Value global_value(const std::string& name);

// Python attribute lookup on builtin types: true, with `out` set to a bound method (or to the
// sandbox's "unsafe" Undefined for methods that mutate), when `obj` has attribute `name`.
bool python_attribute(const Value& obj, const std::string& name, Value& out);

// Calls a builtin global or bound method.
Value call_builtin(Renderer& r, const CallableObj& fn, const Args& args);

// Binds call arguments to parameter names the way Python does; a parameter not given is
// std::nullopt. Throws TypeError for unknown keywords or too many positional arguments.
std::vector<std::optional<Value>> bind_args(const Args& args, const std::vector<const char*>& names,
                                            const char* function);

// Python's `fmt % values` (printf-style) and str.format().
std::string percent_format(const std::string& fmt, const Value& values);
std::string str_format(Renderer& r, const std::string& fmt, const Args& args);

// Python int(x) / float(x) conversions as Jinja's int and float filters attempt them.
bool parse_py_int(std::string_view text, int base, int64_t& out);
bool parse_py_float(std::string_view text, double& out);

}  // namespace emovec::chat
