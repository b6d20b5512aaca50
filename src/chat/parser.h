// Builds the statement tree from tokens, following jinja2.parser.Parser production by production
// so that precedence, tuple rules and error messages agree with the reference.
#pragma once

#include <vector>

#include "chat/ast.h"
#include "chat/lexer.h"

namespace emovec::chat {

// Parses a whole template. Throws emovec::Error with line and column on syntax errors, on tags
// this interpreter does not implement (extends, include, import, autoescape) and, like Jinja's
// compiler, on unknown filter or test names outside conditional branches.
Body parse_template(std::vector<Token> tokens);

}  // namespace emovec::chat
