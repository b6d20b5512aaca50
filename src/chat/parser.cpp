#include "chat/parser.h"

#include <algorithm>
#include <string_view>

#include "chat/builtins.h"
#include "chat/limits.h"

namespace emovec::chat {

namespace {

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::Name:
    case Tok::Op:
      return t.text;
    case Tok::Data:
      return "template data / text";
    case Tok::VarBegin:
      return "begin of print statement";
    case Tok::VarEnd:
      return "end of print statement";
    case Tok::BlockBegin:
      return "begin of statement block";
    case Tok::BlockEnd:
      return "end of statement block";
    case Tok::String:
      return "string";
    case Tok::Int:
      return "integer";
    case Tok::Float:
      return "float";
    case Tok::Eof:
      return "end of template";
  }
  return "token";
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

bool is_const_name(const std::string& n) {
  return n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None";
}

const char* node_type_name(ExprKind k) {
  switch (k) {
    case ExprKind::Const:
      return "const";
    case ExprKind::Getattr:
      return "getattr";
    case ExprKind::Getitem:
      return "getitem";
    case ExprKind::List:
      return "list";
    case ExprKind::Dict:
      return "dict";
    case ExprKind::Call:
      return "call";
    case ExprKind::Filter:
      return "filter";
    case ExprKind::Test:
      return "test";
    case ExprKind::CondExpr:
      return "condexpr";
    case ExprKind::Concat:
      return "concat";
    case ExprKind::Compare:
      return "compare";
    default:
      return "expr";
  }
}

bool can_assign(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Name:
    case ExprKind::NSRef:
      return true;
    case ExprKind::Tuple:
      return std::all_of(e.kids.begin(), e.kids.end(),
                         [](const ExprPtr& k) { return can_assign(*k); });
    default:
      return false;
  }
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Body parse() {
    Body body = subparse({});
    check_names(body, false);
    return body;
  }

 private:
  using Names = std::vector<std::string>;

  // RAII nesting counter: deep recursion would overflow the native stack.
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : parser(p) {
      if (++parser.depth_ > kMaxParseDepth) parser.fail("template nested too deeply");
    }
    ~DepthGuard() { --parser.depth_; }
    Parser& parser;
  };

  const Token& cur() const { return toks_[pos_]; }
  const Token& look() const { return toks_[std::min(pos_ + 1, toks_.size() - 1)]; }
  const Token& next() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }

  [[noreturn]] void fail(const std::string& message) const { fail_at(message, cur()); }
  [[noreturn]] static void fail_at(const std::string& message, const Token& t) {
    throw_syntax_error(message, t.line, t.col);
  }
  [[noreturn]] static void fail_at(const std::string& message, const Expr& e) {
    throw_syntax_error(message, e.line, e.col);
  }

  bool skip_op(const char* op) {
    if (!cur().is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!cur().is_name(name)) return false;
    next();
    return true;
  }

  void expect_failed(const std::string& what) const {
    if (cur().type == Tok::Eof) fail("unexpected end of template, expected " + quoted(what) + ".");
    fail("expected token " + quoted(what) + ", got " + quoted(describe(cur())));
  }
  const Token& expect_op(const char* op) {
    if (!cur().is_op(op)) expect_failed(op);
    return next();
  }
  const Token& expect_name(const char* name) {
    if (!cur().is_name(name)) expect_failed(name);
    return next();
  }
  const Token& expect_any_name() {
    if (cur().type != Tok::Name) expect_failed("name");
    return next();
  }
  const Token& expect_type(Tok type, const char* what) {
    if (cur().type != type) expect_failed(what);
    return next();
  }

  static ExprPtr make(ExprKind kind, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = at.line;
    e->col = at.col;
    return e;
  }
  static ExprPtr make(ExprKind kind, const Expr& at) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = at.line;
    e->col = at.col;
    return e;
  }
  // Records a finished node's depth (1 + deepest child) and bounds it: left-associative chains
  // like a+a+a... build deep trees without deep parser recursion, and both evaluating and
  // destroying a tree recurse over its depth.
  ExprPtr finish(ExprPtr node) const {
    int depth = 0;
    auto see = [&](const ExprPtr& kid) {
      if (kid) depth = std::max(depth, kid->depth);
    };
    for (const ExprPtr& k : node->kids) see(k);
    for (const ExprPtr& a : node->call.args) see(a);
    for (const auto& kw : node->call.kwargs) see(kw.second);
    see(node->call.dyn_args);
    see(node->call.dyn_kwargs);
    node->depth = depth + 1;
    if (node->depth > kMaxExprDepth) fail_at("expression nested too deeply", *node);
    return node;
  }

  static StmtPtr make_stmt(StmtKind kind, const Token& at) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->line = at.line;
    s->col = at.col;
    return s;
  }

  // ---- statements ----------------------------------------------------------------------------

  [[noreturn]] void fail_unknown_or_eof(const std::string* tag, const Token& at) const {
    Names expected;
    for (const Names& ends : end_stack_) expected.insert(expected.end(), ends.begin(), ends.end());
    std::string message = tag == nullptr ? "Unexpected end of template."
                                         : "Encountered unknown tag " + quoted(*tag) + ".";
    if (!end_stack_.empty()) {
      std::string looking;
      for (const std::string& n : end_stack_.back()) {
        if (!looking.empty()) looking += " or ";
        looking += quoted(n);
      }
      if (tag != nullptr && std::find(expected.begin(), expected.end(), *tag) != expected.end()) {
        message +=
            " You probably made a nesting mistake. Jinja is expecting this tag, but "
            "currently looking for " +
            looking + ".";
      } else {
        message += " Jinja was looking for the following tags: " + looking + ".";
      }
    }
    if (!tag_stack_.empty()) {
      message +=
          " The innermost block that needs to be closed is " + quoted(tag_stack_.back()) + ".";
    }
    fail_at(message, at);
  }

  Body subparse(const Names& end_names) {
    Body body;
    std::vector<OutputPart> data;
    const Token* data_start = nullptr;
    if (!end_names.empty()) end_stack_.push_back(end_names);
    auto flush = [&] {
      if (data.empty()) return;
      StmtPtr s = make_stmt(StmtKind::Output, *data_start);
      s->parts = std::move(data);
      data.clear();
      body.push_back(std::move(s));
    };
    while (cur().type != Tok::Eof) {
      const Token& t = cur();
      if (t.type == Tok::Data) {
        if (data.empty()) data_start = &t;
        data.push_back(OutputPart{t.text, nullptr});
        next();
      } else if (t.type == Tok::VarBegin) {
        if (data.empty()) data_start = &t;
        next();
        data.push_back(OutputPart{{}, parse_tuple(false, true, {}, false, false)});
        expect_type(Tok::VarEnd, "end of print statement");
      } else if (t.type == Tok::BlockBegin) {
        flush();
        next();
        if (cur().type == Tok::Name &&
            std::find(end_names.begin(), end_names.end(), cur().text) != end_names.end()) {
          end_stack_.pop_back();
          return body;
        }
        parse_statement(body);
        expect_type(Tok::BlockEnd, "end of statement block");
      } else {
        fail("internal parsing error");
      }
    }
    flush();
    if (!end_names.empty()) end_stack_.pop_back();
    return body;
  }

  Body parse_statements(const Names& end_names, bool drop_needle) {
    skip_op(":");
    expect_type(Tok::BlockEnd, "end of statement block");
    Body body = subparse(end_names);
    if (cur().type == Tok::Eof) {
      end_stack_.push_back(end_names);
      fail_unknown_or_eof(nullptr, cur());
    }
    if (drop_needle) next();
    return body;
  }

  void parse_statement(Body& out) {
    DepthGuard guard(*this);
    const Token& t = cur();
    if (t.type != Tok::Name) fail("tag name expected");
    const std::string tag = t.text;
    static const Names kUnsupported = {"extends", "include", "from", "import", "autoescape"};
    if (std::find(kUnsupported.begin(), kUnsupported.end(), tag) != kUnsupported.end()) {
      fail("the '" + tag + "' tag is not supported in chat templates");
    }
    tag_stack_.push_back(tag);
    StmtPtr s;
    if (tag == "for") {
      s = parse_for();
    } else if (tag == "if") {
      s = parse_if();
    } else if (tag == "set") {
      s = parse_set();
    } else if (tag == "macro") {
      s = parse_macro();
    } else if (tag == "call") {
      s = parse_call_block();
    } else if (tag == "filter") {
      s = parse_filter_block();
    } else if (tag == "with") {
      s = parse_with();
    } else if (tag == "block") {
      s = parse_block();
    } else if (tag == "print") {
      s = parse_print();
    } else if (tag == "generation") {
      s = make_stmt(StmtKind::Scope, next());
      const int saved_loop_depth = loop_depth_;
      loop_depth_ = 0;  // the body renders as a caller macro: break cannot leave it
      s->bodies.push_back(parse_statements({"endgeneration"}, true));
      loop_depth_ = saved_loop_depth;
    } else if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail("'" + tag + "' outside loop");
      s = make_stmt(tag == "break" ? StmtKind::Break : StmtKind::Continue, next());
    } else {
      tag_stack_.pop_back();
      fail_unknown_or_eof(&tag, t);
    }
    tag_stack_.pop_back();
    out.push_back(std::move(s));
  }

  StmtPtr parse_for() {
    StmtPtr s = make_stmt(StmtKind::For, expect_name("for"));
    s->target = parse_assign_target(true, false, {"in"}, false);
    expect_name("in");
    s->value = parse_tuple(false, false, {"recursive"}, false, false);
    if (skip_name("if")) s->cond = parse_expression(true);
    s->recursive = skip_name("recursive");
    ++loop_depth_;
    s->bodies.push_back(parse_statements({"endfor", "else"}, false));
    --loop_depth_;
    if (next().text != "endfor") {
      const int saved = loop_depth_;
      loop_depth_ = 0;  // break/continue in the else block is outside the loop
      s->else_body = parse_statements({"endfor"}, true);
      loop_depth_ = saved;
    }
    return s;
  }

  StmtPtr parse_if() {
    StmtPtr s = make_stmt(StmtKind::If, expect_name("if"));
    while (true) {
      s->exprs.push_back(parse_tuple(false, false, {}, false, false));
      s->bodies.push_back(parse_statements({"elif", "else", "endif"}, false));
      const Token& t = next();
      if (t.text == "elif") continue;
      if (t.text == "else") s->else_body = parse_statements({"endif"}, true);
      break;
    }
    return s;
  }

  StmtPtr parse_set() {
    const Token& at = next();
    ExprPtr target = parse_assign_target(true, false, {}, true);
    if (skip_op("=")) {
      StmtPtr s = make_stmt(StmtKind::Set, at);
      s->target = std::move(target);
      s->value = parse_tuple(false, true, {}, false, false);
      return s;
    }
    StmtPtr s = make_stmt(StmtKind::SetBlock, at);
    s->target = std::move(target);
    s->filter = parse_filter(nullptr, false);
    s->bodies.push_back(parse_statements({"endset"}, true));
    return s;
  }

  StmtPtr parse_with() {
    StmtPtr s = make_stmt(StmtKind::With, next());
    while (cur().type != Tok::BlockEnd) {
      if (!s->exprs.empty()) expect_op(",");
      s->exprs.push_back(parse_assign_target(true, false, {}, false));
      expect_op("=");
      s->values.push_back(parse_expression(true));
    }
    s->bodies.push_back(parse_statements({"endwith"}, true));
    return s;
  }

  StmtPtr parse_block() {
    StmtPtr s = make_stmt(StmtKind::Block, next());
    const std::string name = expect_any_name().text;
    skip_name("scoped");
    skip_name("required");
    if (cur().is_op("-")) {
      fail(
          "Block names in Jinja have to be valid Python identifiers and may not contain "
          "hyphens, use an underscore instead.");
    }
    const int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;  // a block renders as its own function: break cannot leave it
    s->bodies.push_back(parse_statements({"endblock"}, true));
    loop_depth_ = saved_loop_depth;
    if (cur().type == Tok::Name && cur().text == name) next();
    return s;
  }

  StmtPtr parse_print() {
    StmtPtr s = make_stmt(StmtKind::Output, next());
    while (cur().type != Tok::BlockEnd) {
      if (!s->parts.empty()) expect_op(",");
      s->parts.push_back(OutputPart{{}, parse_expression(true)});
    }
    return s;
  }

  void parse_signature(MacroDef& m) {
    expect_op("(");
    while (!cur().is_op(")")) {
      if (!m.params.empty()) expect_op(",");
      const Token& name = expect_any_name();
      if (is_const_name(name.text)) fail_at("can't assign to 'name'", name);
      if (skip_op("=")) {
        m.defaults.push_back(parse_expression(true));
      } else if (!m.defaults.empty()) {
        fail("non-default argument follows default argument");
      }
      m.params.push_back(name.text);
    }
    expect_op(")");
  }

  // Parses a macro-like body, noting which implicit names (caller, varargs, kwargs) it reads.
  void parse_macro_body(MacroDef& m, const char* end_tag) {
    macro_stack_.push_back(&m);
    const int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    m.body = parse_statements({end_tag}, true);
    loop_depth_ = saved_loop_depth;
    macro_stack_.pop_back();
  }

  StmtPtr parse_macro() {
    StmtPtr s = make_stmt(StmtKind::Macro, next());
    s->macro = std::make_shared<MacroDef>();
    const Token& name = expect_any_name();
    if (is_const_name(name.text)) fail_at("can't assign to 'name'", name);
    s->macro->name = name.text;
    parse_signature(*s->macro);
    parse_macro_body(*s->macro, "endmacro");
    return s;
  }

  StmtPtr parse_call_block() {
    StmtPtr s = make_stmt(StmtKind::CallBlock, next());
    s->macro = std::make_shared<MacroDef>();
    s->macro->name = "caller";
    if (cur().is_op("(")) parse_signature(*s->macro);
    s->value = parse_expression(true);
    if (s->value->kind != ExprKind::Call) throw_syntax_error("expected call", s->line, s->col);
    parse_macro_body(*s->macro, "endcall");
    return s;
  }

  StmtPtr parse_filter_block() {
    StmtPtr s = make_stmt(StmtKind::FilterBlock, next());
    s->filter = parse_filter(nullptr, true);
    s->bodies.push_back(parse_statements({"endfilter"}, true));
    return s;
  }

  ExprPtr parse_assign_target(bool with_tuple, bool name_only, const Names& extra_end,
                              bool with_namespace) {
    ExprPtr target;
    if (name_only) {
      const Token& t = expect_any_name();
      target = make(ExprKind::Name, t);
      target->name = t.text;
    } else if (with_tuple) {
      target = parse_tuple(true, true, extra_end, false, with_namespace);
    } else {
      target = parse_primary(with_namespace);
    }
    if (!can_assign(*target)) {
      fail_at("can't assign to " + quoted(node_type_name(target->kind)), *target);
    }
    return target;
  }

  // ---- expressions ---------------------------------------------------------------------------

  ExprPtr parse_expression(bool with_condexpr) {
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    DepthGuard guard(*this);
    const Token* at = &cur();
    ExprPtr expr1 = parse_or();
    while (skip_name("if")) {
      ExprPtr test = parse_or();
      ExprPtr expr3;
      if (skip_name("else")) expr3 = parse_condexpr();
      ExprPtr node = make(ExprKind::CondExpr, *at);
      node->kids.push_back(std::move(test));
      node->kids.push_back(std::move(expr1));
      node->kids.push_back(std::move(expr3));
      expr1 = finish(std::move(node));
      at = &cur();
    }
    return expr1;
  }

  ExprPtr parse_bool_chain(ExprKind kind, const char* keyword, ExprPtr (Parser::*sub)()) {
    const Token* at = &cur();
    ExprPtr left = (this->*sub)();
    while (skip_name(keyword)) {
      ExprPtr node = make(kind, *at);
      node->kids.push_back(std::move(left));
      node->kids.push_back((this->*sub)());
      left = finish(std::move(node));
      at = &cur();
    }
    return left;
  }

  ExprPtr parse_or() { return parse_bool_chain(ExprKind::Or, "or", &Parser::parse_and); }
  ExprPtr parse_and() { return parse_bool_chain(ExprKind::And, "and", &Parser::parse_not); }

  ExprPtr parse_not() {
    if (cur().is_name("not")) {
      DepthGuard guard(*this);
      ExprPtr node = make(ExprKind::Not, next());
      node->kids.push_back(parse_not());
      return finish(std::move(node));
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const Token* at = &cur();
    ExprPtr expr = parse_math1();
    ExprPtr node;
    while (true) {
      CmpOp op;
      const Token& t = cur();
      if (t.is_op("==")) {
        op = CmpOp::Eq;
      } else if (t.is_op("!=")) {
        op = CmpOp::Ne;
      } else if (t.is_op("<")) {
        op = CmpOp::Lt;
      } else if (t.is_op("<=")) {
        op = CmpOp::Le;
      } else if (t.is_op(">")) {
        op = CmpOp::Gt;
      } else if (t.is_op(">=")) {
        op = CmpOp::Ge;
      } else if (t.is_name("in")) {
        op = CmpOp::In;
      } else if (t.is_name("not") && look().is_name("in")) {
        next();
        op = CmpOp::NotIn;
      } else {
        break;
      }
      next();
      if (!node) {
        node = make(ExprKind::Compare, *at);
        node->kids.push_back(std::move(expr));
      }
      node->cmp.push_back(op);
      node->kids.push_back(parse_math1());
    }
    return node ? finish(std::move(node)) : std::move(expr);
  }

  ExprPtr binary(ExprKind kind, BinOp op, const Token& at, ExprPtr left, ExprPtr right) {
    ExprPtr node = make(kind, at);
    node->op = op;
    node->kids.push_back(std::move(left));
    node->kids.push_back(std::move(right));
    return finish(std::move(node));
  }

  ExprPtr parse_math1() {
    const Token* at = &cur();
    ExprPtr left = parse_concat();
    while (cur().is_op("+") || cur().is_op("-")) {
      const BinOp op = next().text == "+" ? BinOp::Add : BinOp::Sub;
      ExprPtr right = parse_concat();
      left = binary(ExprKind::Binary, op, *at, std::move(left), std::move(right));
      at = &cur();
    }
    return left;
  }

  ExprPtr parse_concat() {
    const Token& at = cur();
    ExprPtr first = parse_math2();
    if (!cur().is_op("~")) return first;
    ExprPtr node = make(ExprKind::Concat, at);
    node->kids.push_back(std::move(first));
    while (skip_op("~")) node->kids.push_back(parse_math2());
    return finish(std::move(node));
  }

  ExprPtr parse_math2() {
    const Token* at = &cur();
    ExprPtr left = parse_pow();
    while (true) {
      BinOp op;
      if (cur().is_op("*")) {
        op = BinOp::Mul;
      } else if (cur().is_op("/")) {
        op = BinOp::Div;
      } else if (cur().is_op("//")) {
        op = BinOp::FloorDiv;
      } else if (cur().is_op("%")) {
        op = BinOp::Mod;
      } else {
        break;
      }
      next();
      ExprPtr right = parse_pow();
      left = binary(ExprKind::Binary, op, *at, std::move(left), std::move(right));
      at = &cur();
    }
    return left;
  }

  ExprPtr parse_pow() {
    const Token* at = &cur();
    ExprPtr left = parse_unary(true);
    while (skip_op("**")) {
      ExprPtr right = parse_unary(true);
      left = binary(ExprKind::Binary, BinOp::Pow, *at, std::move(left), std::move(right));
      at = &cur();
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    const Token& at = cur();
    ExprPtr node;
    if (at.is_op("-") || at.is_op("+")) {
      node = make(at.text == "-" ? ExprKind::Neg : ExprKind::Pos, next());
      node->kids.push_back(parse_unary(false));
      node = finish(std::move(node));
    } else {
      node = parse_primary(false);
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  void note_implicit_name(const std::string& name) {
    for (MacroDef* m : macro_stack_) {
      if (name == "caller") m->uses_caller = true;
      if (name == "varargs") m->uses_varargs = true;
      if (name == "kwargs") m->uses_kwargs = true;
    }
  }

  ExprPtr parse_primary(bool with_namespace) {
    const Token& t = cur();
    ExprPtr node;
    if (t.type == Tok::Name) {
      next();
      if (t.text == "true" || t.text == "True" || t.text == "false" || t.text == "False") {
        node = make(ExprKind::Const, t);
        node->value = Value::boolean(t.text == "true" || t.text == "True");
      } else if (t.text == "none" || t.text == "None") {
        node = make(ExprKind::Const, t);
        node->value = Value::none();
      } else if (with_namespace && cur().is_op(".")) {
        next();
        node = make(ExprKind::NSRef, t);
        node->name = t.text;
        node->attr = expect_any_name().text;
      } else {
        node = make(ExprKind::Name, t);
        node->name = t.text;
        note_implicit_name(t.text);
      }
    } else if (t.type == Tok::String) {
      std::string text;
      while (cur().type == Tok::String) text += next().text;
      node = make(ExprKind::Const, t);
      node->value = Value::string(std::move(text));
    } else if (t.type == Tok::Int || t.type == Tok::Float) {
      next();
      node = make(ExprKind::Const, t);
      node->value = t.type == Tok::Int ? Value::integer(t.int_value) : Value::number(t.float_value);
    } else if (t.is_op("(")) {
      next();
      node = parse_tuple(false, true, {}, true, false);
      expect_op(")");
    } else if (t.is_op("[")) {
      node = parse_list();
    } else if (t.is_op("{")) {
      node = parse_dict();
    } else {
      fail_at("unexpected " + quoted(describe(t)), t);
    }
    return node;
  }

  bool is_tuple_end(const Names& extra_end) const {
    const Token& t = cur();
    if (t.type == Tok::VarEnd || t.type == Tok::BlockEnd || t.is_op(")")) return true;
    return t.type == Tok::Name &&
           std::find(extra_end.begin(), extra_end.end(), t.text) != extra_end.end();
  }

  ExprPtr parse_tuple(bool simplified, bool with_condexpr, const Names& extra_end,
                      bool explicit_parentheses, bool with_namespace) {
    const Token* at = &cur();
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      args.push_back(simplified ? parse_primary(with_namespace) : parse_expression(with_condexpr));
      if (cur().is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
      at = &cur();
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parentheses) fail("Expected an expression, got " + quoted(describe(cur())));
    }
    ExprPtr node = make(ExprKind::Tuple, *at);
    node->kids = std::move(args);
    return finish(std::move(node));
  }

  ExprPtr parse_list() {
    ExprPtr node = make(ExprKind::List, expect_op("["));
    while (!cur().is_op("]")) {
      if (!node->kids.empty()) expect_op(",");
      if (cur().is_op("]")) break;
      node->kids.push_back(parse_expression(true));
    }
    expect_op("]");
    return finish(std::move(node));
  }

  ExprPtr parse_dict() {
    ExprPtr node = make(ExprKind::Dict, expect_op("{"));
    while (!cur().is_op("}")) {
      if (!node->kids.empty()) expect_op(",");
      if (cur().is_op("}")) break;
      node->kids.push_back(parse_expression(true));
      expect_op(":");
      node->kids.push_back(parse_expression(true));
    }
    expect_op("}");
    return finish(std::move(node));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (cur().is_op(".") || cur().is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (cur().is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (cur().is_op("|")) {
        node = parse_filter(std::move(node), false);
      } else if (cur().is_name("is")) {
        node = parse_test(std::move(node));
      } else if (cur().is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token& t = next();
    if (t.text == ".") {
      const Token& attr = next();
      if (attr.type == Tok::Name) {
        ExprPtr g = make(ExprKind::Getattr, t);
        g->name = attr.text;
        g->kids.push_back(std::move(node));
        return finish(std::move(g));
      }
      if (attr.type != Tok::Int) fail_at("expected name or number", attr);
      ExprPtr key = make(ExprKind::Const, attr);
      key->value = Value::integer(attr.int_value);
      ExprPtr g = make(ExprKind::Getitem, t);
      g->kids.push_back(std::move(node));
      g->kids.push_back(std::move(key));
      return finish(std::move(g));
    }
    std::vector<ExprPtr> args;
    while (!cur().is_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    ExprPtr key;
    if (args.size() == 1) {
      key = std::move(args[0]);
    } else {
      key = make(ExprKind::Tuple, t);
      key->kids = std::move(args);
      key = finish(std::move(key));
    }
    ExprPtr g = make(ExprKind::Getitem, t);
    g->kids.push_back(std::move(node));
    g->kids.push_back(std::move(key));
    return finish(std::move(g));
  }

  ExprPtr parse_subscribed() {
    const Token& at = cur();
    std::vector<ExprPtr> args;
    if (cur().is_op(":")) {
      next();
      args.push_back(nullptr);
    } else {
      ExprPtr node = parse_expression(true);
      if (!cur().is_op(":")) return node;
      next();
      args.push_back(std::move(node));
    }
    if (cur().is_op(":") || cur().is_op("]") || cur().is_op(",")) {
      args.push_back(nullptr);
    } else {
      args.push_back(parse_expression(true));
    }
    if (cur().is_op(":")) {
      next();
      if (!cur().is_op("]") && !cur().is_op(",")) {
        args.push_back(parse_expression(true));
      } else {
        args.push_back(nullptr);
      }
    } else {
      args.push_back(nullptr);
    }
    ExprPtr slice = make(ExprKind::Slice, at);
    slice->kids = std::move(args);
    return finish(std::move(slice));
  }

  CallArgs parse_call_args() {
    const Token& open = expect_op("(");
    CallArgs call;
    bool require_comma = false;
    auto ensure = [&](bool ok) {
      if (!ok) fail_at("invalid syntax for function call expression", open);
    };
    while (!cur().is_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (cur().is_op(")")) break;
      }
      if (cur().is_op("*")) {
        ensure(!call.dyn_args && !call.dyn_kwargs);
        next();
        call.dyn_args = parse_expression(true);
      } else if (cur().is_op("**")) {
        ensure(!call.dyn_kwargs);
        next();
        call.dyn_kwargs = parse_expression(true);
      } else if (cur().type == Tok::Name && look().is_op("=")) {
        ensure(!call.dyn_kwargs);
        std::string key = next().text;
        next();
        call.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        ensure(!call.dyn_args && !call.dyn_kwargs && call.kwargs.empty());
        call.args.push_back(parse_expression(true));
      }
      require_comma = true;
    }
    expect_op(")");
    return call;
  }

  ExprPtr parse_call(ExprPtr node) {
    ExprPtr call = make(ExprKind::Call, cur());
    call->call = parse_call_args();
    call->kids.push_back(std::move(node));
    return finish(std::move(call));
  }

  std::string parse_dotted_name() {
    std::string name = expect_any_name().text;
    while (cur().is_op(".")) {
      next();
      name += "." + expect_any_name().text;
    }
    return name;
  }

  ExprPtr parse_filter(ExprPtr node, bool start_inline) {
    while (cur().is_op("|") || start_inline) {
      if (!start_inline) next();
      const Token& at = cur();
      ExprPtr f = make(ExprKind::Filter, at);
      f->name = parse_dotted_name();
      if (cur().is_op("(")) f->call = parse_call_args();
      f->kids.push_back(std::move(node));
      node = finish(std::move(f));
      start_inline = false;
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    const Token& at = next();
    const bool negated = skip_name("not");
    ExprPtr test = make(ExprKind::Test, at);
    test->name = parse_dotted_name();
    const Token& t = cur();
    if (t.is_op("(")) {
      test->call = parse_call_args();
    } else if ((t.type == Tok::Name || t.type == Tok::String || t.type == Tok::Int ||
                t.type == Tok::Float || t.is_op("(") || t.is_op("[") || t.is_op("{")) &&
               !t.is_name("else") && !t.is_name("or") && !t.is_name("and")) {
      if (t.is_name("is")) fail("You cannot chain multiple tests with is");
      test->call.args.push_back(parse_postfix(parse_primary(false)));
    }
    test->kids.push_back(std::move(node));
    test = finish(std::move(test));
    if (!negated) return test;
    ExprPtr n = make(ExprKind::Not, at);
    n->kids.push_back(std::move(test));
    return finish(std::move(n));
  }

  // ---- compile-time name checks --------------------------------------------------------------

  // Jinja's compiler rejects unknown filters and tests when the template is loaded, except
  // inside if-statements and inline if-expressions ("soft" frames), where it defers to runtime.
  void check_expr(const Expr* e, bool soft) {
    if (e == nullptr) return;
    if (!soft && e->kind == ExprKind::Filter && !is_filter_name(e->name)) {
      fail_at("No filter named " + quoted(e->name) + ".", *e);
    }
    if (!soft && e->kind == ExprKind::Test && !is_test_name(e->name)) {
      fail_at("No test named " + quoted(e->name) + ".", *e);
    }
    const bool kid_soft = soft || e->kind == ExprKind::CondExpr;
    for (const ExprPtr& k : e->kids) check_expr(k.get(), kid_soft);
    for (const ExprPtr& a : e->call.args) check_expr(a.get(), kid_soft);
    for (const auto& kw : e->call.kwargs) check_expr(kw.second.get(), kid_soft);
    check_expr(e->call.dyn_args.get(), kid_soft);
    check_expr(e->call.dyn_kwargs.get(), kid_soft);
  }

  void check_names(const Body& body, bool soft) {
    for (const StmtPtr& s : body) check_stmt(*s, soft);
  }

  void check_stmt(const Stmt& s, bool soft) {
    // An if-statement's tests and branches are soft; loops, blocks and macros start fresh
    // frames that are not.
    const bool is_if = s.kind == StmtKind::If;
    for (const OutputPart& p : s.parts) check_expr(p.expr.get(), soft);
    for (const ExprPtr& e : s.exprs) check_expr(e.get(), soft || is_if);
    for (const ExprPtr& e : s.values) check_expr(e.get(), soft);
    check_expr(s.value.get(), soft);
    check_expr(s.cond.get(), false);
    check_expr(s.filter.get(), false);
    for (const Body& b : s.bodies) check_names(b, is_if);
    check_names(s.else_body, is_if);
    if (s.macro) {
      for (const ExprPtr& d : s.macro->defaults) check_expr(d.get(), false);
      check_names(s.macro->body, false);
    }
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::vector<Names> end_stack_;
  std::vector<std::string> tag_stack_;
  std::vector<MacroDef*> macro_stack_;
};

}  // namespace

Body parse_template(std::vector<Token> tokens) { return Parser(std::move(tokens)).parse(); }

}  // namespace emovec::chat
