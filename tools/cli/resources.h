// Files emovec ships beside its binary: the queries of the paper and the default model's
// emotion vectors. Looked up under $EMOVEC_DATA_DIR, then the source tree the binary was built
// in (build/bin/../..), then an installed share/emovec.
#pragma once

#include <optional>
#include <string>

namespace emovec::cli {

// The first existing location of `relative` (e.g. "vectors/smollm2-135m-instruct"), or nullopt.
std::optional<std::string> find_resource(const std::string& relative);

// The shipped vectors folder for a model argument (a registry name, or the path of a shipped
// model), or nullopt.
std::optional<std::string> shipped_vectors_for(const std::string& model_argument);

}  // namespace emovec::cli
