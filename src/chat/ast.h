// The parsed form of a template: expression and statement nodes mirroring jinja2.nodes. Nodes are
// plain structs with a kind tag; each documents which of the shared fields it uses.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/value.h"

namespace emovec::chat {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind : uint8_t {
  Const,     // value
  Name,      // name
  Getattr,   // kids[0] . name
  Getitem,   // kids[0] [ kids[1] ]
  Slice,     // kids[0..2] = start, stop, step (each may be null)
  List,      // kids
  Tuple,     // kids
  Dict,      // kids = key, value, key, value, ...
  Neg,       // - kids[0]
  Pos,       // + kids[0]
  Not,       // not kids[0]
  And,       // kids[0] and kids[1]
  Or,        // kids[0] or kids[1]
  Binary,    // kids[0] op kids[1]
  Concat,    // kids joined with ~
  Compare,   // kids[0] cmp[0] kids[1] cmp[1] kids[2] ...
  CondExpr,  // kids[1] if kids[0] else kids[2] (kids[2] may be null)
  Call,      // kids[0] ( args )
  Filter,    // kids[0] | name ( args ); kids[0] null inside {% filter %} / {% set %} blocks
  Test,      // kids[0] is name ( args )
  NSRef,     // name . attr, only as an assignment target
};

enum class BinOp : uint8_t { Add, Sub, Mul, Div, FloorDiv, Mod, Pow };
enum class CmpOp : uint8_t { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };

struct CallArgs {
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  ExprPtr dyn_args;    // *args
  ExprPtr dyn_kwargs;  // **kwargs
};

struct Expr {
  ExprKind kind = ExprKind::Const;
  int line = 1;
  int col = 1;
  int depth = 1;  // of the subtree, bounded by the parser
  Value value;
  std::string name;
  std::string attr;
  BinOp op = BinOp::Add;
  std::vector<CmpOp> cmp;
  std::vector<ExprPtr> kids;
  CallArgs call;
};

struct MacroDef {
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // for the last defaults.size() params
  Body body;
  // Whether the body reads these implicit names, which changes how calls bind arguments.
  bool uses_caller = false;
  bool uses_varargs = false;
  bool uses_kwargs = false;
};

enum class StmtKind : uint8_t {
  Output,       // parts
  If,           // exprs = tests (if, elif...), bodies = their bodies, else_body
  For,          // target, iter, cond (optional filter), bodies[0] = body, else_body, recursive
  Set,          // target = value
  SetBlock,     // target, bodies[0]; filter (optional chain applied to the captured text)
  Macro,        // macro
  CallBlock,    // value = the call expression, macro = the caller
  FilterBlock,  // filter = chain, bodies[0]
  With,         // exprs = targets, values = values, bodies[0]
  Break,
  Continue,
  Block,  // bodies[0]; a named {% block %} renders in place in a standalone template
  Scope,  // bodies[0]; {% generation %} (transformers' assistant-mask extension)
};

struct OutputPart {
  std::string text;  // literal template data when expr is null
  ExprPtr expr;
};

struct Stmt {
  StmtKind kind = StmtKind::Output;
  int line = 1;
  int col = 1;
  std::vector<OutputPart> parts;
  std::vector<ExprPtr> exprs;
  std::vector<ExprPtr> values;
  std::vector<Body> bodies;
  Body else_body;
  ExprPtr target;
  ExprPtr value;
  ExprPtr cond;
  ExprPtr filter;
  bool recursive = false;
  std::shared_ptr<MacroDef> macro;
};

}  // namespace emovec::chat
