// The values a chat template computes with: a small model of the Python objects Jinja sees
// (None, bool, int, float, str, list, tuple, dict, generators, namespaces, callables, the loop
// object and Jinja's Undefined), with Python's truthiness, equality, ordering, str() and repr().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace emovec::chat {

enum class Kind : uint8_t {
  Undefined,
  None,
  Bool,
  Int,
  Float,
  String,
  Seq,  // list, tuple, generator, range, dict views: see SeqKind
  Dict,
  Namespace,
  Callable,
  Loop,
};

// Python has several sequence-like types whose truthiness, len(), indexing and repr differ: a
// generator is always truthy, has no len() and is consumed by iteration, for example.
enum class SeqKind : uint8_t {
  List,
  Tuple,
  Generator,  // results of map/select/selectattr/unique/items/batch/slice
  Iterator,   // reversed(list): like a generator, named list_reverseiterator
  Range,
  DictItems,
  DictKeys,
  DictValues,
};

class Value;
struct Object {
  virtual ~Object() = default;
};
struct StringObj;
struct SeqObj;
struct DictObj;
struct CallableObj;
struct LoopObj;
struct UndefinedObj;

class Value {
 public:
  Value();  // Undefined with no message
  static Value undefined(std::string message, bool security = false);
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double f);
  static Value string(std::string s);
  static Value seq(std::vector<Value> items, SeqKind kind = SeqKind::List);
  static Value range(int64_t start, int64_t stop, int64_t step);
  static Value dict(std::shared_ptr<DictObj> d);
  static Value new_dict();
  static Value namespace_(std::shared_ptr<DictObj> attrs);
  static Value callable(std::shared_ptr<CallableObj> c);
  static Value loop(std::shared_ptr<LoopObj> l);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_int() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }  // bool is an int
  bool is_number() const {
    return kind_ == Kind::Int || kind_ == Kind::Bool || kind_ == Kind::Float;
  }
  bool is_seq() const { return kind_ == Kind::Seq; }
  bool is_dict() const { return kind_ == Kind::Dict; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return kind_ == Kind::Bool ? static_cast<int64_t>(b_) : i_; }
  double as_float() const;  // any number
  const std::string& str() const;
  const SeqObj& seq() const;
  SeqObj& seq_mut() const;
  const DictObj& dict() const;
  DictObj& dict_mut() const;
  const CallableObj& callable() const;
  LoopObj& loop() const;
  const UndefinedObj& undef() const;
  const Object* identity() const { return obj_.get(); }

  // Nesting depth of containers (0 for scalars); bounded so recursive walks stay shallow.
  int depth() const;

 private:
  Kind kind_ = Kind::Undefined;
  union {
    bool b_;
    int64_t i_ = 0;
    double f_;
  };
  std::shared_ptr<Object> obj_;
};

struct StringObj : Object {
  explicit StringObj(std::string v) : s(std::move(v)) {}
  std::string s;
};

struct UndefinedObj : Object {
  std::string message;    // the UndefinedError text raised when the value is used
  bool security = false;  // raised as a SecurityError (unsafe attribute) instead
};

struct SeqObj : Object {
  std::vector<Value> items;
  SeqKind kind = SeqKind::List;
  int depth = 1;
  // Generators and iterators are consumed: items before `consumed` were already yielded.
  size_t consumed = 0;
  bool group_tuple = false;  // groupby's (grouper, list) namedtuple: also has those attributes
  int64_t range_start = 0, range_stop = 0, range_step = 1;  // for repr of a range
};

// An insertion-ordered dict (Python semantics); also the attribute store of a namespace.
struct DictObj : Object {
  std::vector<std::pair<Value, Value>> items;
  std::unordered_map<std::string, size_t> string_index;
  int depth = 1;

  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const;
  void set(Value key, Value value);
  void clear() {
    items.clear();
    string_index.clear();
  }
};

struct MacroDef;
struct Scope;

// Something a template can call: a builtin (global function, filter-like method bound to `self`)
// or a macro defined by the template, which runs in the scope it was defined in.
struct CallableObj : Object {
  enum class Type : uint8_t { Builtin, Macro, LoopRecurse };
  Type type = Type::Builtin;
  int builtin = 0;   // id of a builtin function or method
  std::string name;  // for messages and repr
  Value self;        // receiver of a bound method
  const MacroDef* macro = nullptr;
  std::weak_ptr<Scope> closure;  // weak: a scope holding its own macro must not leak
};

// Shared, mutable loop state: the `loop` variable of a for loop.
struct LoopObj : Object {
  std::vector<Value> items;
  size_t index0 = 0;
  int64_t depth0 = 0;
  std::vector<Value> last_changed;
  bool changed_called = false;
  bool active = true;              // recursion through loop(...) only while the loop runs
  const void* for_node = nullptr;  // the For statement, for recursive loops
  std::weak_ptr<Scope> scope;      // the scope the loop runs in, for recursive loops
};

// Python's equality, ordering and truthiness. `depth` guards recursion on nested containers.
bool py_truthy(const Value& v);
bool py_equal(const Value& a, const Value& b, int depth = 0);
// Throws TypeError when the types cannot be ordered.
bool py_less(const Value& a, const Value& b, int depth = 0);
// a <op> b for op in "<", "<=", ">", ">=".
bool py_compare(const Value& a, const Value& b, std::string_view op, int depth = 0);

// Python type names (type(x).__name__) and Jinja's object_type_repr, for messages.
std::string type_name(const Value& v);
std::string object_type_repr(const Value& v);

// str() and repr(); `budget` caps the output size (Error beyond it).
std::string py_str(const Value& v, size_t budget);
std::string py_repr(const Value& v, size_t budget);
std::string py_repr_string(std::string_view s);
std::string py_float_repr(double d);

// Number of items, as len(); throws TypeError for values without a length.
size_t py_len(const Value& v);
bool has_len(const Value& v);

// Iterates like Python iter(): strings yield code points, dicts their keys, generators the
// items not consumed yet (and are consumed), Undefined nothing. Throws TypeError otherwise.
std::vector<Value> py_iterate(const Value& v);
bool is_iterable(const Value& v);

// A stable merge sort of indices on `less`. Unlike std::sort it stays safe when the comparison is
// not a strict weak order (NaN, mixed types), as Python's sort does.
void py_stable_sort(std::vector<size_t>& order, const std::function<bool(size_t, size_t)>& less);

}  // namespace emovec::chat
