// Renders a parsed template: walks statements, evaluates expressions over Values, and keeps the
// scoping Jinja's compiled code has (loop bodies and macros get fresh scopes per run, if-blocks
// share their parent's). Also the services builtins need: attribute and item lookup with the
// sandbox's rules, calls, filter and test dispatch, and the resource budget.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chat/ast.h"
#include "chat/value.h"

namespace emovec::chat {

struct Scope {
  std::shared_ptr<Scope> parent;
  std::unordered_map<std::string, Value> vars;

  const Value* find(const std::string& name) const;
};

// Positional and keyword arguments of a call, filter or test.
struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;

  const Value* find_kw(const std::string& name) const;
};

class Renderer {
 public:
  // `context` holds the template variables (messages, add_generation_prompt, extra...).
  Renderer(const Body& body, const std::vector<std::pair<std::string, Value>>& context);
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  std::string render();

  // Services for filters, tests and methods.
  Value get_attr(const Value& obj, const std::string& name);
  Value get_item(const Value& obj, const Value& key);
  Value call(const Value& callee, const Args& args);
  Value apply_filter(const std::string& name, const Value& input, const Args& args);
  bool apply_test(const std::string& name, const Value& input, const Args& args);
  Value make_namespace(const Args& args);
  void step(uint64_t n = 1);  // counts work against the step budget
  static size_t budget();     // the most bytes any one string may have

 private:
  enum class Flow { Normal, Break, Continue };
  using ScopePtr = std::shared_ptr<Scope>;

  Flow exec_body(const Body& body, const ScopePtr& scope, std::string& out);
  Flow exec(const Stmt& s, const ScopePtr& scope, std::string& out);
  void exec_output(const Stmt& s, const ScopePtr& scope, std::string& out);
  Flow exec_if(const Stmt& s, const ScopePtr& scope, std::string& out);
  void exec_for(const Stmt& s, const ScopePtr& scope, std::string& out, const Value& iterable,
                int64_t depth0);
  void exec_set(const Stmt& s, const ScopePtr& scope);
  void exec_macro(const Stmt& s, const ScopePtr& scope);
  void exec_call_block(const Stmt& s, const ScopePtr& scope, std::string& out);
  void exec_with(const Stmt& s, const ScopePtr& scope, std::string& out);

  Value eval(const Expr& e, const ScopePtr& scope);
  Value eval_inner(const Expr& e, const ScopePtr& scope);
  Value eval_name(const Expr& e, const ScopePtr& scope);
  Value eval_binary(const Expr& e, const ScopePtr& scope);
  Value eval_compare(const Expr& e, const ScopePtr& scope);
  Value eval_slice(const Expr& e, const ScopePtr& scope, const Value& obj);
  Value eval_concat(const Expr& e, const ScopePtr& scope);
  Value eval_collection(const Expr& e, const ScopePtr& scope);
  Value eval_call(const Expr& e, const ScopePtr& scope);
  Value eval_filter(const Expr& e, const ScopePtr& scope, const Value* block_input);
  Args eval_args(const CallArgs& call, const ScopePtr& scope);

  void assign(const Expr& target, const Value& value, Scope& scope);
  Value call_macro(const CallableObj& fn, const Args& args);
  Value call_loop(const CallableObj& fn, const Args& args);
  void emit(std::string& out, std::string_view text) const;

  const Body& body_;
  ScopePtr root_;
  int call_depth_ = 0;
  int eval_depth_ = 0;  // nested exec/eval calls, bounded to protect the native stack
  // Namespaces may reference themselves (ns.self = ns); emptying them all when the render ends
  // breaks such cycles so nothing leaks.
  std::vector<Value> namespaces_;
};

}  // namespace emovec::chat
