#include "chat/evaluator.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "chat/builtins.h"
#include "chat/errors.h"
#include "chat/limits.h"
#include "chat/unicode.h"

namespace emovec::chat {

const Value* Scope::find(const std::string& name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent.get()) {
    const auto it = s->vars.find(name);
    if (it != s->vars.end()) return &it->second;
  }
  return nullptr;
}

const Value* Args::find_kw(const std::string& name) const {
  for (const auto& [k, v] : kw) {
    if (k == name) return &v;
  }
  return nullptr;
}

namespace {

[[noreturn]] void raise_undefined(const Value& v) {
  const UndefinedObj& u = v.undef();
  throw RenderError(u.security ? "SecurityError" : "UndefinedError", u.message);
}

[[noreturn]] void throw_overflow() {
  throw RenderError("OverflowError", "integer result too large for this interpreter (64-bit)");
}

bool is_hashable(const Value& v) {
  if (v.kind() == Kind::Dict) return false;
  if (v.kind() != Kind::Seq) return true;
  switch (v.seq().kind) {
    case SeqKind::List:
    case SeqKind::DictItems:
    case SeqKind::DictKeys:
    case SeqKind::DictValues:
      return false;
    case SeqKind::Tuple:
      for (const Value& item : v.seq().items) {
        if (!is_hashable(item)) return false;
      }
      return true;
    default:
      return true;
  }
}

void require_hashable(const Value& v) {
  if (!is_hashable(v)) throw_type_error("unhashable type: '" + type_name(v) + "'");
}

std::string attribute_message(const Value& obj, const std::string& name) {
  return py_repr_string(object_type_repr(obj)) + " has no attribute " + py_repr_string(name);
}

// Python's PySlice_AdjustIndices: clamps start/stop for a sequence of `length` items.
struct SliceSpec {
  int64_t start = 0;
  int64_t stop = 0;
  int64_t step = 1;
  int64_t count = 0;
};

SliceSpec adjust_slice(const Value& start_v, const Value& stop_v, const Value& step_v,
                       int64_t length) {
  SliceSpec out;
  out.step = step_v.is_none() ? 1 : step_v.as_int();
  if (out.step == 0) throw_value_error("slice step cannot be zero");
  out.step = std::max(out.step, -INT64_MAX);  // Python clamps to -PY_SSIZE_T_MAX too
  const int64_t lower = out.step > 0 ? 0 : -1;
  const int64_t upper = out.step > 0 ? length : length - 1;
  auto clamp = [&](const Value& v, int64_t if_none) {
    if (v.is_none()) return if_none;
    int64_t x = v.as_int();
    if (x < 0) {
      x = x < -length ? lower : x + length;
      return std::max(x, lower);
    }
    return std::min(x, upper);
  };
  out.start = clamp(start_v, out.step < 0 ? upper : lower);
  out.stop = clamp(stop_v, out.step < 0 ? lower : upper);
  if (out.step > 0) {
    out.count = out.stop > out.start ? (out.stop - out.start - 1) / out.step + 1 : 0;
  } else {
    out.count = out.start > out.stop ? (out.start - out.stop - 1) / (-out.step) + 1 : 0;
  }
  return out;
}

std::string slice_repr(const Value& a, const Value& b, const Value& c) {
  const size_t budget = Renderer::budget();
  return "slice(" + py_repr(a, budget) + ", " + py_repr(b, budget) + ", " + py_repr(c, budget) +
         ")";
}

int64_t checked_add(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) throw_overflow();
  return r;
}
int64_t checked_sub(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) throw_overflow();
  return r;
}
int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) throw_overflow();
  return r;
}

__extension__ using Int128 = __int128;  // GCC/Clang builtin; __extension__ keeps -Wpedantic quiet

// range.start + index * range.step, which must fit in 64 bits.
int64_t range_bound(int64_t start, int64_t index, int64_t step) {
  const Int128 v = static_cast<Int128>(start) + static_cast<Int128>(index) * step;
  if (v < INT64_MIN || v > INT64_MAX) throw_overflow();
  return static_cast<int64_t>(v);
}

int64_t floor_div(int64_t a, int64_t b) {
  if (b == 0) throw_zero_division("integer division or modulo by zero");
  if (a == std::numeric_limits<int64_t>::min() && b == -1) throw_overflow();
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
  if (b == 0) throw_zero_division("integer modulo by zero");
  if (b == -1) return 0;
  int64_t m = a % b;
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

double float_mod(double a, double b) {
  if (b == 0.0) throw_zero_division("float modulo");
  double m = std::fmod(a, b);
  if (m != 0.0) {
    if ((b < 0) != (m < 0)) m += b;
  } else {
    m = std::copysign(0.0, b);
  }
  return m;
}

Value int_pow(int64_t base, int64_t exp) {
  if (exp < 0) {
    if (base == 0) throw_zero_division("0.0 cannot be raised to a negative power");
    return Value::number(std::pow(static_cast<double>(base), static_cast<double>(exp)));
  }
  int64_t result = 1;
  int64_t b = base;
  while (exp > 0) {
    if (exp & 1) result = checked_mul(result, b);
    exp >>= 1;
    if (exp > 0) b = checked_mul(b, b);
  }
  return Value::integer(result);
}

Value float_pow(double a, double b) {
  if (a == 0.0 && b < 0) throw_zero_division("0.0 cannot be raised to a negative power");
  if (a < 0 && std::floor(b) != b) {
    throw_value_error("negative number cannot be raised to a fractional power");
  }
  return Value::number(std::pow(a, b));
}

[[noreturn]] void unsupported_operands(const char* op, const Value& a, const Value& b) {
  throw_type_error(std::string("unsupported operand type(s) for ") + op + ": '" + type_name(a) +
                   "' and '" + type_name(b) + "'");
}

bool is_plain_seq(const Value& v, SeqKind kind) { return v.is_seq() && v.seq().kind == kind; }

Value repeat(const Value& seq, int64_t n) {
  if (n <= 0) return seq.is_string() ? Value::string("") : Value::seq({}, seq.seq().kind);
  if (seq.is_string()) {
    const std::string& s = seq.str();
    if (!s.empty() && static_cast<uint64_t>(n) > Renderer::budget() / s.size()) {
      throw_limit("string too large");
    }
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += s;
    return Value::string(std::move(out));
  }
  const auto& items = seq.seq().items;
  if (!items.empty() && static_cast<uint64_t>(n) > kMaxItems / items.size()) {
    throw_limit("sequence too long");
  }
  std::vector<Value> out;
  out.reserve(items.size() * static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::seq(std::move(out), seq.seq().kind);
}

Value add(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind() == Kind::Float || b.kind() == Kind::Float) {
      return Value::number(a.as_float() + b.as_float());
    }
    return Value::integer(checked_add(a.as_int(), b.as_int()));
  }
  if (a.is_string()) {
    if (!b.is_string()) {
      throw_type_error("can only concatenate str (not \"" + type_name(b) + "\") to str");
    }
    if (a.str().size() + b.str().size() > Renderer::budget()) throw_limit("string too large");
    return Value::string(a.str() + b.str());
  }
  for (SeqKind k : {SeqKind::List, SeqKind::Tuple}) {
    if (!is_plain_seq(a, k)) continue;
    if (!is_plain_seq(b, k)) {
      throw_type_error(std::string("can only concatenate ") + type_name(a) + " (not \"" +
                       type_name(b) + "\") to " + type_name(a));
    }
    std::vector<Value> items = a.seq().items;
    items.insert(items.end(), b.seq().items.begin(), b.seq().items.end());
    return Value::seq(std::move(items), k);
  }
  unsupported_operands("+", a, b);
}

bool is_repeatable(const Value& v) {
  return v.is_string() || is_plain_seq(v, SeqKind::List) || is_plain_seq(v, SeqKind::Tuple);
}

Value multiply(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind() == Kind::Float || b.kind() == Kind::Float) {
      return Value::number(a.as_float() * b.as_float());
    }
    return Value::integer(checked_mul(a.as_int(), b.as_int()));
  }
  if (is_repeatable(a) || is_repeatable(b)) {
    const Value& seq = is_repeatable(a) ? a : b;
    const Value& count = is_repeatable(a) ? b : a;
    if (!count.is_int()) {
      throw_type_error("can't multiply sequence by non-int of type '" + type_name(count) + "'");
    }
    return repeat(seq, count.as_int());
  }
  unsupported_operands("*", a, b);
}

Value arithmetic(BinOp op, const Value& a, const Value& b) {
  if (a.is_undefined()) raise_undefined(a);
  if (b.is_undefined()) raise_undefined(b);
  switch (op) {
    case BinOp::Add:
      return add(a, b);
    case BinOp::Mul:
      return multiply(a, b);
    case BinOp::Mod:
      if (a.is_string()) return Value::string(percent_format(a.str(), b));
      break;
    default:
      break;
  }
  const char* symbol = op == BinOp::Sub        ? "-"
                       : op == BinOp::Div      ? "/"
                       : op == BinOp::FloorDiv ? "//"
                       : op == BinOp::Mod      ? "%"
                                               : "** or pow()";
  if (!a.is_number() || !b.is_number()) unsupported_operands(symbol, a, b);
  const bool floats = a.kind() == Kind::Float || b.kind() == Kind::Float;
  switch (op) {
    case BinOp::Sub:
      return floats ? Value::number(a.as_float() - b.as_float())
                    : Value::integer(checked_sub(a.as_int(), b.as_int()));
    case BinOp::Div:
      if (b.as_float() == 0.0) throw_zero_division("division by zero");
      return Value::number(a.as_float() / b.as_float());
    case BinOp::FloorDiv:
      if (!floats) return Value::integer(floor_div(a.as_int(), b.as_int()));
      if (b.as_float() == 0.0) throw_zero_division("float floor division by zero");
      return Value::number(std::floor(a.as_float() / b.as_float()));
    case BinOp::Mod:
      return floats ? Value::number(float_mod(a.as_float(), b.as_float()))
                    : Value::integer(floor_mod(a.as_int(), b.as_int()));
    case BinOp::Pow:
      return floats ? float_pow(a.as_float(), b.as_float()) : int_pow(a.as_int(), b.as_int());
    default:
      break;
  }
  unsupported_operands(symbol, a, b);
}

// `item in container` with Python's rules for each container type.
bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Kind::Undefined:
      return false;
    case Kind::String:
      if (!item.is_string()) {
        throw_type_error("'in <string>' requires string as left operand, not " + type_name(item));
      }
      charge_bytes(container.str().size());
      return container.str().find(item.str()) != std::string::npos;
    case Kind::Dict:
      require_hashable(item);
      return container.dict().find(item) != nullptr;
    case Kind::Seq: {
      SeqObj& s = container.seq_mut();
      const bool consuming = s.kind == SeqKind::Generator || s.kind == SeqKind::Iterator;
      for (size_t i = consuming ? s.consumed : 0; i < s.items.size(); ++i) {
        if (py_equal(s.items[i], item)) {
          if (consuming) s.consumed = i + 1;
          return true;
        }
      }
      if (consuming) s.consumed = s.items.size();
      return false;
    }
    default:
      throw_type_error("argument of type '" + type_name(container) + "' is not iterable");
  }
}

bool compare_op(CmpOp op, const Value& a, const Value& b) {
  switch (op) {
    case CmpOp::Eq:
      return py_equal(a, b);
    case CmpOp::Ne:
      return !py_equal(a, b);
    case CmpOp::In:
      return contains(b, a);
    case CmpOp::NotIn:
      return !contains(b, a);
    default:
      break;
  }
  if (a.is_undefined()) raise_undefined(a);
  if (b.is_undefined()) raise_undefined(b);
  const char* symbol = op == CmpOp::Lt   ? "<"
                       : op == CmpOp::Le ? "<="
                       : op == CmpOp::Gt ? ">"
                                         : ">=";
  return py_compare(a, b, symbol);
}

}  // namespace

Renderer::Renderer(const Body& body, const std::vector<std::pair<std::string, Value>>& context)
    : body_(body), root_(std::make_shared<Scope>()) {
  for (const auto& [name, value] : context) root_->vars[name] = value;
}

Renderer::~Renderer() {
  for (const Value& ns : namespaces_) ns.dict_mut().clear();
}

size_t Renderer::budget() { return kMaxOutputBytes; }

void Renderer::step(uint64_t n) { charge_work(n); }

std::string Renderer::render() {
  WorkMeter meter;
  std::string out;
  exec_body(body_, root_, out);
  return out;
}

void Renderer::emit(std::string& out, std::string_view text) const {
  if (out.size() + text.size() > kMaxOutputBytes) throw_limit("rendered output too large");
  charge_bytes(text.size());
  out.append(text);
}

namespace {

// Counts nested exec/eval frames: macros calling macros inside deeply nested blocks would
// otherwise multiply the parser's per-template bounds.
struct EvalDepthGuard {
  explicit EvalDepthGuard(int& d) : depth(d) {
    if (++depth > kMaxEvalDepth) {
      --depth;
      throw_limit("template evaluation nested too deeply");
    }
  }
  ~EvalDepthGuard() { --depth; }
  EvalDepthGuard(const EvalDepthGuard&) = delete;
  EvalDepthGuard& operator=(const EvalDepthGuard&) = delete;
  int& depth;
};

}  // namespace

// ---- statements ------------------------------------------------------------------------------

Renderer::Flow Renderer::exec_body(const Body& body, const ScopePtr& scope, std::string& out) {
  for (const StmtPtr& s : body) {
    step();
    const Flow flow = exec(*s, scope, out);
    if (flow != Flow::Normal) return flow;
  }
  return Flow::Normal;
}

Renderer::Flow Renderer::exec(const Stmt& s, const ScopePtr& scope, std::string& out) {
  const EvalDepthGuard guard(eval_depth_);
  try {
    switch (s.kind) {
      case StmtKind::Output:
        exec_output(s, scope, out);
        return Flow::Normal;
      case StmtKind::If:
        return exec_if(s, scope, out);
      case StmtKind::For:
        exec_for(s, scope, out, eval(*s.value, scope), 0);
        return Flow::Normal;
      case StmtKind::Set:
      case StmtKind::SetBlock:
        exec_set(s, scope);
        return Flow::Normal;
      case StmtKind::Macro:
        exec_macro(s, scope);
        return Flow::Normal;
      case StmtKind::CallBlock:
        exec_call_block(s, scope, out);
        return Flow::Normal;
      case StmtKind::FilterBlock: {
        std::string captured;
        exec_body(s.bodies[0], std::make_shared<Scope>(Scope{scope, {}}), captured);
        const Value text = Value::string(std::move(captured));
        emit(out, py_str(eval_filter(*s.filter, scope, &text), kMaxOutputBytes));
        return Flow::Normal;
      }
      case StmtKind::With:
        exec_with(s, scope, out);
        return Flow::Normal;
      case StmtKind::Break:
        return Flow::Break;
      case StmtKind::Continue:
        return Flow::Continue;
      case StmtKind::Block:
        exec_body(s.bodies[0], std::make_shared<Scope>(Scope{root_, {}}), out);
        return Flow::Normal;
      case StmtKind::Scope:
        exec_body(s.bodies[0], std::make_shared<Scope>(Scope{scope, {}}), out);
        return Flow::Normal;
    }
  } catch (RenderError& e) {
    e.set_line(s.line);
    throw;
  }
  return Flow::Normal;
}

void Renderer::exec_output(const Stmt& s, const ScopePtr& scope, std::string& out) {
  for (const OutputPart& part : s.parts) {
    if (part.expr == nullptr) {
      emit(out, part.text);
    } else {
      emit(out, py_str(eval(*part.expr, scope), kMaxOutputBytes));
    }
  }
}

Renderer::Flow Renderer::exec_if(const Stmt& s, const ScopePtr& scope, std::string& out) {
  for (size_t i = 0; i < s.exprs.size(); ++i) {
    if (py_truthy(eval(*s.exprs[i], scope))) return exec_body(s.bodies[i], scope, out);
  }
  return exec_body(s.else_body, scope, out);
}

void Renderer::exec_for(const Stmt& s, const ScopePtr& scope, std::string& out,
                        const Value& iterable, int64_t depth0) {
  std::vector<Value> items = py_iterate(iterable);
  step(items.size());
  if (s.cond) {
    std::vector<Value> kept;
    for (Value& item : items) {
      auto test_scope = std::make_shared<Scope>(Scope{scope, {}});
      assign(*s.target, item, *test_scope);
      if (py_truthy(eval(*s.cond, test_scope))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    exec_body(s.else_body, std::make_shared<Scope>(Scope{scope, {}}), out);
    return;
  }
  auto loop = std::make_shared<LoopObj>();
  loop->items = std::move(items);
  loop->depth0 = depth0;
  loop->for_node = &s;
  loop->scope = scope;
  const Value loop_value = Value::loop(loop);
  for (size_t i = 0; i < loop->items.size(); ++i) {
    step();
    loop->index0 = i;
    auto iteration = std::make_shared<Scope>(Scope{scope, {}});
    assign(*s.target, loop->items[i], *iteration);
    iteration->vars["loop"] = loop_value;
    if (exec_body(s.bodies[0], iteration, out) == Flow::Break) break;
  }
  loop->active = false;
}

void Renderer::exec_set(const Stmt& s, const ScopePtr& scope) {
  if (s.kind == StmtKind::Set) {
    assign(*s.target, eval(*s.value, scope), *scope);
    return;
  }
  std::string captured;
  exec_body(s.bodies[0], std::make_shared<Scope>(Scope{scope, {}}), captured);
  Value value = Value::string(std::move(captured));
  if (s.filter) value = eval_filter(*s.filter, scope, &value);
  assign(*s.target, value, *scope);
}

void Renderer::exec_macro(const Stmt& s, const ScopePtr& scope) {
  auto fn = std::make_shared<CallableObj>();
  fn->type = CallableObj::Type::Macro;
  fn->name = s.macro->name;
  fn->macro = s.macro.get();
  fn->closure = scope;
  scope->vars[s.macro->name] = Value::callable(std::move(fn));
}

void Renderer::exec_call_block(const Stmt& s, const ScopePtr& scope, std::string& out) {
  auto caller = std::make_shared<CallableObj>();
  caller->type = CallableObj::Type::Macro;
  caller->name = "caller";
  caller->macro = s.macro.get();
  caller->closure = scope;
  const Expr& call = *s.value;
  const Value callee = eval(*call.kids[0], scope);
  Args args = eval_args(call.call, scope);
  args.kw.emplace_back("caller", Value::callable(std::move(caller)));
  emit(out, py_str(this->call(callee, args), kMaxOutputBytes));
}

void Renderer::exec_with(const Stmt& s, const ScopePtr& scope, std::string& out) {
  std::vector<Value> values;
  for (const ExprPtr& v : s.values) values.push_back(eval(*v, scope));
  auto inner = std::make_shared<Scope>(Scope{scope, {}});
  for (size_t i = 0; i < s.exprs.size(); ++i) assign(*s.exprs[i], values[i], *inner);
  exec_body(s.bodies[0], inner, out);
}

void Renderer::assign(const Expr& target, const Value& value, Scope& scope) {
  if (target.kind == ExprKind::Name) {
    scope.vars[target.name] = value;
    return;
  }
  if (target.kind == ExprKind::NSRef) {
    const Value* ns = scope.find(target.name);
    if (ns == nullptr || ns->kind() != Kind::Namespace) {
      throw RenderError("TemplateRuntimeError", "cannot assign attribute on non-namespace object");
    }
    if (!target.attr.empty() && target.attr[0] == '_') {
      throw RenderError("SecurityError",
                        "Chat templates cannot store underscore-prefixed attributes on a "
                        "namespace, but got " +
                            py_repr_string(target.attr) + ". Please rename the attribute.");
    }
    ns->dict_mut().set(Value::string(target.attr), value);
    return;
  }
  // Tuple unpacking.
  const std::vector<Value> items = py_iterate(value);
  const size_t expected = target.kids.size();
  if (items.size() < expected) {
    throw_value_error("not enough values to unpack (expected " + std::to_string(expected) +
                      ", got " + std::to_string(items.size()) + ")");
  }
  if (items.size() > expected) {
    throw_value_error("too many values to unpack (expected " + std::to_string(expected) + ")");
  }
  for (size_t i = 0; i < expected; ++i) assign(*target.kids[i], items[i], scope);
}

// ---- expressions -----------------------------------------------------------------------------

Value Renderer::eval(const Expr& e, const ScopePtr& scope) {
  const EvalDepthGuard guard(eval_depth_);
  try {
    return eval_inner(e, scope);
  } catch (RenderError& err) {
    err.set_line(e.line);
    throw;
  }
}

Value Renderer::eval_inner(const Expr& e, const ScopePtr& scope) {
  switch (e.kind) {
    case ExprKind::Const:
      return e.value;
    case ExprKind::Name:
      return eval_name(e, scope);
    case ExprKind::Getattr:
      return get_attr(eval(*e.kids[0], scope), e.name);
    case ExprKind::Getitem: {
      const Value obj = eval(*e.kids[0], scope);
      if (e.kids[1]->kind == ExprKind::Slice) return eval_slice(*e.kids[1], scope, obj);
      return get_item(obj, eval(*e.kids[1], scope));
    }
    case ExprKind::List:
    case ExprKind::Tuple:
    case ExprKind::Dict:
      return eval_collection(e, scope);
    case ExprKind::Neg:
    case ExprKind::Pos: {
      const Value v = eval(*e.kids[0], scope);
      if (v.is_undefined()) raise_undefined(v);
      const char* op = e.kind == ExprKind::Neg ? "-" : "+";
      if (!v.is_number()) {
        throw_type_error(std::string("bad operand type for unary ") + op + ": '" + type_name(v) +
                         "'");
      }
      if (e.kind == ExprKind::Pos) return v.kind() == Kind::Float ? v : Value::integer(v.as_int());
      if (v.kind() == Kind::Float) return Value::number(-v.as_float());
      return Value::integer(checked_sub(0, v.as_int()));
    }
    case ExprKind::Not:
      return Value::boolean(!py_truthy(eval(*e.kids[0], scope)));
    case ExprKind::And:
    case ExprKind::Or: {
      Value left = eval(*e.kids[0], scope);
      const bool truthy = py_truthy(left);
      if (e.kind == ExprKind::And ? !truthy : truthy) return left;
      return eval(*e.kids[1], scope);
    }
    case ExprKind::Binary:
      return eval_binary(e, scope);
    case ExprKind::Concat:
      return eval_concat(e, scope);
    case ExprKind::Compare:
      return eval_compare(e, scope);
    case ExprKind::CondExpr:
      if (py_truthy(eval(*e.kids[0], scope))) return eval(*e.kids[1], scope);
      if (e.kids[2]) return eval(*e.kids[2], scope);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined.");
    case ExprKind::Call:
      return eval_call(e, scope);
    case ExprKind::Filter:
      return eval_filter(e, scope, nullptr);
    case ExprKind::Test: {
      const Value input = eval(*e.kids[0], scope);
      return Value::boolean(apply_test(e.name, input, eval_args(e.call, scope)));
    }
    case ExprKind::Slice:
      throw_type_error("unhashable type: 'slice'");
    case ExprKind::NSRef:
      throw RenderError("TemplateRuntimeError", "namespace attribute reference outside of set");
  }
  return Value();
}

Value Renderer::eval_name(const Expr& e, const ScopePtr& scope) {
  if (const Value* v = scope->find(e.name)) return *v;
  Value global = global_value(e.name);
  if (!global.is_undefined()) return global;
  return Value::undefined(py_repr_string(e.name) + " is undefined");
}

Value Renderer::eval_binary(const Expr& e, const ScopePtr& scope) {
  const Value a = eval(*e.kids[0], scope);
  const Value b = eval(*e.kids[1], scope);
  return arithmetic(e.op, a, b);
}

Value Renderer::eval_concat(const Expr& e, const ScopePtr& scope) {
  std::string out;
  for (const ExprPtr& kid : e.kids) {
    out += py_str(eval(*kid, scope), kMaxOutputBytes);
    if (out.size() > kMaxOutputBytes) throw_limit("string too large");
  }
  return Value::string(std::move(out));
}

Value Renderer::eval_compare(const Expr& e, const ScopePtr& scope) {
  Value left = eval(*e.kids[0], scope);
  for (size_t i = 0; i < e.cmp.size(); ++i) {
    Value right = eval(*e.kids[i + 1], scope);
    if (!compare_op(e.cmp[i], left, right)) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

Value Renderer::eval_slice(const Expr& e, const ScopePtr& scope, const Value& obj) {
  Value parts[3];
  for (int i = 0; i < 3; ++i) {
    parts[i] = e.kids[static_cast<size_t>(i)] ? eval(*e.kids[static_cast<size_t>(i)], scope)
                                              : Value::none();
  }
  if (obj.is_undefined()) raise_undefined(obj);
  const bool sliceable = obj.is_string() || (obj.is_seq() && (obj.seq().kind == SeqKind::List ||
                                                              obj.seq().kind == SeqKind::Tuple ||
                                                              obj.seq().kind == SeqKind::Range));
  if (!sliceable) {
    return Value::undefined(object_type_repr(obj) + " has no element " +
                            slice_repr(parts[0], parts[1], parts[2]));
  }
  for (const Value& p : parts) {
    if (!p.is_none() && !p.is_int()) {
      throw_type_error("slice indices must be integers or None or have an __index__ method");
    }
  }
  if (obj.is_string()) {
    const std::string& s = obj.str();
    const std::vector<size_t> offsets = code_point_offsets(s);
    const SliceSpec spec =
        adjust_slice(parts[0], parts[1], parts[2], static_cast<int64_t>(offsets.size() - 1));
    std::string out;
    for (int64_t i = 0, at = spec.start; i < spec.count; ++i, at += spec.step) {
      const size_t idx = static_cast<size_t>(at);
      out.append(s, offsets[idx], offsets[idx + 1] - offsets[idx]);
    }
    return Value::string(std::move(out));
  }
  const SeqObj& seq = obj.seq();
  const SliceSpec spec =
      adjust_slice(parts[0], parts[1], parts[2], static_cast<int64_t>(seq.items.size()));
  std::vector<Value> out;
  for (int64_t i = 0, at = spec.start; i < spec.count; ++i, at += spec.step) {
    out.push_back(seq.items[static_cast<size_t>(at)]);
  }
  if (seq.kind != SeqKind::Range) return Value::seq(std::move(out), seq.kind);
  // Python computes these with unbounded ints; the intermediate products may exceed 64 bits
  // even when the results fit.
  const int64_t start = range_bound(seq.range_start, spec.start, seq.range_step);
  const int64_t step = checked_mul(seq.range_step, spec.step);
  Value range = Value::seq(std::move(out), SeqKind::Range);
  SeqObj& r = range.seq_mut();
  r.range_start = start;
  r.range_step = step;
  r.range_stop = range_bound(seq.range_start, spec.stop, seq.range_step);
  return range;
}

Value Renderer::eval_collection(const Expr& e, const ScopePtr& scope) {
  if (e.kind == ExprKind::Dict) {
    auto d = std::make_shared<DictObj>();
    for (size_t i = 0; i + 1 < e.kids.size(); i += 2) {
      Value key = eval(*e.kids[i], scope);
      Value value = eval(*e.kids[i + 1], scope);
      require_hashable(key);
      d->set(std::move(key), std::move(value));
    }
    return Value::dict(std::move(d));
  }
  std::vector<Value> items;
  items.reserve(e.kids.size());
  for (const ExprPtr& kid : e.kids) items.push_back(eval(*kid, scope));
  return Value::seq(std::move(items), e.kind == ExprKind::List ? SeqKind::List : SeqKind::Tuple);
}

Args Renderer::eval_args(const CallArgs& call, const ScopePtr& scope) {
  Args args;
  for (const ExprPtr& a : call.args) args.pos.push_back(eval(*a, scope));
  if (call.dyn_args) {
    const std::vector<Value> extra = py_iterate(eval(*call.dyn_args, scope));
    args.pos.insert(args.pos.end(), extra.begin(), extra.end());
  }
  for (const auto& [name, expr] : call.kwargs) args.kw.emplace_back(name, eval(*expr, scope));
  if (call.dyn_kwargs) {
    const Value d = eval(*call.dyn_kwargs, scope);
    if (d.kind() != Kind::Dict) {
      throw_type_error("argument after ** must be a mapping, not " + type_name(d));
    }
    for (const auto& [k, v] : d.dict().items) {
      if (!k.is_string()) throw_type_error("keywords must be strings");
      args.kw.emplace_back(k.str(), v);
    }
  }
  return args;
}

Value Renderer::eval_call(const Expr& e, const ScopePtr& scope) {
  const Value callee = eval(*e.kids[0], scope);
  return call(callee, eval_args(e.call, scope));
}

Value Renderer::eval_filter(const Expr& e, const ScopePtr& scope, const Value* block_input) {
  Value input;
  if (e.kids[0] == nullptr) {
    if (block_input != nullptr) input = *block_input;
  } else if (e.kids[0]->kind == ExprKind::Filter && block_input != nullptr) {
    input = eval_filter(*e.kids[0], scope, block_input);
  } else {
    input = eval(*e.kids[0], scope);
  }
  try {
    return apply_filter(e.name, input, eval_args(e.call, scope));
  } catch (RenderError& err) {
    err.set_line(e.line);
    throw;
  }
}

// ---- services --------------------------------------------------------------------------------

Value Renderer::get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) raise_undefined(obj);
  Value out;
  if (python_attribute(obj, name, out)) return out;
  if (obj.kind() == Kind::Dict) {
    if (const Value* v = obj.dict().find(name)) return *v;
  }
  return Value::undefined(attribute_message(obj, name));
}

Value Renderer::get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) raise_undefined(obj);
  if (obj.kind() == Kind::Dict && is_hashable(key)) {
    if (const Value* v = obj.dict().find(key)) return *v;
  } else if (key.is_int() && (obj.is_string() || obj.is_seq())) {
    const bool indexable = obj.is_string() || obj.seq().kind == SeqKind::List ||
                           obj.seq().kind == SeqKind::Tuple || obj.seq().kind == SeqKind::Range;
    if (indexable) {
      int64_t index = key.as_int();
      if (obj.is_string()) {
        const std::vector<size_t> offsets = code_point_offsets(obj.str());
        const auto n = static_cast<int64_t>(offsets.size() - 1);
        if (index < 0) index += n;
        if (index >= 0 && index < n) {
          const auto i = static_cast<size_t>(index);
          return Value::string(obj.str().substr(offsets[i], offsets[i + 1] - offsets[i]));
        }
      } else {
        const auto n = static_cast<int64_t>(obj.seq().items.size());
        if (index < 0) index += n;
        if (index >= 0 && index < n) return obj.seq().items[static_cast<size_t>(index)];
      }
    }
  }
  if (key.is_string()) {
    Value out;
    if (python_attribute(obj, key.str(), out)) return out;
    return Value::undefined(attribute_message(obj, key.str()));
  }
  return Value::undefined(object_type_repr(obj) + " has no element " +
                          py_repr(key, kMaxOutputBytes));
}

Value Renderer::call(const Value& callee, const Args& args) {
  step();
  if (callee.is_undefined()) raise_undefined(callee);
  if (callee.kind() == Kind::Loop) {
    CallableObj fn;
    fn.type = CallableObj::Type::LoopRecurse;
    fn.self = callee;
    return call_loop(fn, args);
  }
  if (callee.kind() != Kind::Callable) {
    throw_type_error("'" + type_name(callee) + "' object is not callable");
  }
  const CallableObj& fn = callee.callable();
  switch (fn.type) {
    case CallableObj::Type::Macro:
      return call_macro(fn, args);
    case CallableObj::Type::LoopRecurse:
      return call_loop(fn, args);
    case CallableObj::Type::Builtin:
      break;
  }
  return call_builtin(*this, fn, args);
}

namespace {

// RAII depth counter for macro calls and recursive loops.
struct CallDepthGuard {
  CallDepthGuard(int& d, const char* what) : depth(d) {
    if (++depth > kMaxCallDepth) {
      --depth;
      throw_limit(what);
    }
  }
  ~CallDepthGuard() { --depth; }
  CallDepthGuard(const CallDepthGuard&) = delete;
  CallDepthGuard& operator=(const CallDepthGuard&) = delete;
  int& depth;
};

// jinja2.runtime.Macro.__call__: binds positional and keyword arguments to parameters, extra
// ones to varargs/kwargs when the body reads those. Returns which parameters got a value.
std::vector<bool> bind_macro_args(const MacroDef& m, const Args& args, Scope& scope) {
  const std::string quoted = py_repr_string(m.name);
  std::vector<bool> bound(m.params.size(), false);
  std::vector<Value> varargs;
  for (size_t i = 0; i < args.pos.size(); ++i) {
    if (i < m.params.size()) {
      scope.vars[m.params[i]] = args.pos[i];
      bound[i] = true;
    } else if (m.uses_varargs) {
      varargs.push_back(args.pos[i]);
    } else {
      throw_type_error("macro " + quoted + " takes not more than " +
                       std::to_string(m.params.size()) + " argument(s)");
    }
  }
  auto kwargs = std::make_shared<DictObj>();
  Value caller = Value::undefined("No caller defined");
  for (const auto& [name, value] : args.kw) {
    const auto param = std::find(m.params.begin(), m.params.end(), name);
    const auto i = static_cast<size_t>(param - m.params.begin());
    if (name == "caller" && m.uses_caller) {
      caller = value;
    } else if (param != m.params.end()) {
      if (bound[i]) {
        throw_type_error("macro " + quoted + " got multiple values for argument " +
                         py_repr_string(name));
      }
      scope.vars[name] = value;
      bound[i] = true;
    } else if (m.uses_kwargs) {
      kwargs->set(Value::string(name), value);
    } else {
      throw_type_error("macro " + quoted + " takes no keyword argument " + py_repr_string(name));
    }
  }
  if (m.uses_caller) scope.vars["caller"] = caller;
  if (m.uses_varargs) scope.vars["varargs"] = Value::seq(std::move(varargs), SeqKind::Tuple);
  if (m.uses_kwargs) scope.vars["kwargs"] = Value::dict(kwargs);
  return bound;
}

}  // namespace

Value Renderer::call_macro(const CallableObj& fn, const Args& args) {
  const MacroDef& m = *fn.macro;
  ScopePtr closure = fn.closure.lock();
  if (!closure) {
    throw RenderError("TemplateRuntimeError", "macro " + py_repr_string(m.name) +
                                                  " was called after its defining scope ended");
  }
  const CallDepthGuard guard(call_depth_, "macro calls nested too deeply");
  auto scope = std::make_shared<Scope>(Scope{closure, {}});
  const std::vector<bool> bound = bind_macro_args(m, args, *scope);
  // Defaults are evaluated at call time, in the macro's scope: they may use earlier parameters.
  const size_t first_default = m.params.size() - m.defaults.size();
  for (size_t i = 0; i < m.params.size(); ++i) {
    if (bound[i]) continue;
    scope->vars[m.params[i]] =
        i >= first_default
            ? eval(*m.defaults[i - first_default], scope)
            : Value::undefined("parameter " + py_repr_string(m.params[i]) + " was not provided");
  }
  std::string out;
  exec_body(m.body, scope, out);
  return Value::string(std::move(out));
}

Value Renderer::call_loop(const CallableObj& fn, const Args& args) {
  LoopObj& loop = fn.self.loop();
  const auto* node = static_cast<const Stmt*>(loop.for_node);
  if (node == nullptr || !node->recursive) {
    throw_type_error("The loop must have the 'recursive' marker to be called recursively.");
  }
  ScopePtr scope = loop.scope.lock();
  if (!loop.active || !scope) {
    throw RenderError("TemplateRuntimeError", "the loop was called after it ended");
  }
  if (args.pos.size() != 1 || !args.kw.empty()) {
    throw_type_error("loop() takes exactly one argument");
  }
  const CallDepthGuard guard(call_depth_, "recursive loops nested too deeply");
  std::string out;
  exec_for(*node, scope, out, args.pos[0], loop.depth0 + 1);
  return Value::string(std::move(out));
}

Value Renderer::apply_filter(const std::string& name, const Value& input, const Args& args) {
  step();
  if (input.is_string()) charge_bytes(input.str().size());
  return run_filter(*this, name, input, args);
}

bool Renderer::apply_test(const std::string& name, const Value& input, const Args& args) {
  step();
  return run_test(*this, name, input, args);
}

Value Renderer::make_namespace(const Args& args) {
  if (args.pos.size() > 1) {
    throw_type_error("dict expected at most 1 argument, got " + std::to_string(args.pos.size()));
  }
  auto attrs = std::make_shared<DictObj>();
  auto add = [&](const Value& key, const Value& value) {
    if (key.is_string() && !key.str().empty() && key.str()[0] == '_') {
      throw RenderError("SecurityError",
                        "Chat templates cannot store underscore-prefixed attributes on a "
                        "namespace, but got " +
                            py_repr_string(key.str()) + ". Please rename the attribute.");
    }
    attrs->set(key, value);
  };
  if (!args.pos.empty()) {
    const Value& init = args.pos[0];
    if (init.kind() == Kind::Dict || init.kind() == Kind::Namespace) {
      for (const auto& [k, v] : init.dict().items) add(k, v);
    } else {
      for (const Value& pair : py_iterate(init)) {
        const std::vector<Value> kv = py_iterate(pair);
        if (kv.size() != 2) {
          throw_value_error("dictionary update sequence element has length " +
                            std::to_string(kv.size()) + "; 2 is required");
        }
        require_hashable(kv[0]);
        add(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [k, v] : args.kw) add(Value::string(k), v);
  Value ns = Value::namespace_(std::move(attrs));
  namespaces_.push_back(ns);
  return ns;
}

}  // namespace emovec::chat
