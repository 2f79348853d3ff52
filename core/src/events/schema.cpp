#include "events/schema.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <regex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include <runhost/json.h>

#include "events/event_types.hpp"

namespace runhost::events {

using nlohmann::json;

namespace detail {

// Lets maps keyed by std::string be searched with a std::string_view, without a copy.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <class T>
using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;

enum TypeBit : uint8_t {
  kNull = 1,
  kBoolean = 2,
  kObject = 4,
  kArray = 8,
  kNumber = 16,   // any number
  kInteger = 32,  // a number with no fractional part
  kString = 64,
};

// A pattern, compiled twice. libstdc++'s default (backtracking) matcher recurses once or more
// per input character, so a long enough string overflows the stack (about 250 bytes per
// character); its polynomial (Thompson NFA) matcher runs in constant stack and linear time but
// costs about four times as much on short strings. Short strings take the fast one.
struct Pattern {
  static constexpr size_t kBacktrackLimit = 200;  // bytes: at most ~50 KiB of stack
  std::string text;
  std::regex backtracking;
  std::regex linear;

  bool matches(std::string_view s) const {
#if defined(__GLIBCXX__)
    return std::regex_search(s.begin(), s.end(), s.size() <= kBacktrackLimit ? backtracking : linear);
#else
    return s.size() <= kBacktrackLimit && std::regex_search(s.begin(), s.end(), backtracking);  // longer: refused
#endif
  }
};

struct Node {
  bool reject_all = false;  // the boolean schema false
  uint8_t types = 0;        // TypeBit mask; 0 accepts every type
  std::string types_text;   // "string or null", for messages
  std::optional<json> const_value;
  std::vector<json> enum_values;
  bool has_enum = false;
  std::string enum_text;
  StringMap<const Node*> properties;
  std::vector<std::string> required;
  bool closed = false;  // additionalProperties: false
  const Node* items = nullptr;
  const Node* ref = nullptr;
  std::vector<const Node*> all_of, any_of, one_of;
  const Node *if_ = nullptr, *then_ = nullptr, *else_ = nullptr;
  std::optional<double> minimum, maximum;
  std::string minimum_text, maximum_text;
  std::optional<size_t> min_length, max_length;
  std::optional<Pattern> pattern;
  std::vector<std::string> keywords;  // the assertions this node has, for the optimisation below

  // An allOf made only of {"if": {"properties": {K: {"const": "..."}}, "required": [K]},
  // "then": S} for one K is a switch on the string at K, kept here instead of in all_of: one
  // lookup instead of one "if" per case. (For a value that is not an object every "if" holds,
  // so every S applies: `in_order` keeps them for that case.)
  struct Switch {
    std::string key;
    StringMap<const Node*> cases;
    std::vector<const Node*> in_order;
  };
  std::optional<Switch> switch_on;
};

// Lives behind a unique_ptr and never moves: nodes point into it.
struct CompiledSchema {
  CompiledSchema() = default;  // NOLINT(bugprone-exception-escape): may throw bad_alloc, as any allocation
  CompiledSchema(const CompiledSchema&) = delete;
  CompiledSchema& operator=(const CompiledSchema&) = delete;

  json document;
  std::vector<std::unique_ptr<Node>> nodes;
  StringMap<Node*> by_pointer;  // every compiled subschema
  const Node* root = nullptr;
};

}  // namespace detail

namespace {

using detail::CompiledSchema;
using detail::Node;

// ---- Compiling ----------------------------------------------------------------------------

Error schema_error(const std::string& where, const std::string& problem) {
  return Error{ErrorCode::internal, "schema " + (where.empty() ? std::string("(root)") : where) + ": " + problem};
}

std::string escape_token(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

class Compiler {
 public:
  explicit Compiler(CompiledSchema& out) : out_(out) {}

  // The node for the subschema at `pointer` (compiled once; refs to it share it).
  Result<const Node*> at(const std::string& pointer) {
    if (auto it = out_.by_pointer.find(pointer); it != out_.by_pointer.end())
      return static_cast<const Node*>(it->second);
    const json* schema = nullptr;
    try {
      schema = &out_.document.at(json::json_pointer(pointer));
    } catch (const json::exception&) {
      return schema_error(pointer, "no such subschema");
    }
    out_.nodes.push_back(std::make_unique<Node>());
    Node* node = out_.nodes.back().get();
    out_.by_pointer.emplace(pointer, node);  // before compiling, so a $ref cycle finds it
    if (auto st = fill(*node, *schema, pointer); !st) return st.error();
    return static_cast<const Node*>(node);
  }

 private:
  Result<const Node*> child(const std::string& pointer, std::string_view key) {
    return at(pointer + "/" + escape_token(key));
  }

  Status list(std::vector<const Node*>& into, const json& value, const std::string& where) {
    if (!value.is_array() || value.empty()) return schema_error(where, "must be a non-empty array of schemas");
    for (size_t i = 0; i < value.size(); ++i) {
      auto n = at(where + "/" + std::to_string(i));
      if (!n) return n.error();
      into.push_back(*n);
    }
    return {};
  }

  static Result<uint8_t> type_bit(const json& name, const std::string& where) {
    static const std::pair<const char*, uint8_t> kNames[] = {{"null", detail::kNull},     {"boolean", detail::kBoolean},
                                                             {"object", detail::kObject}, {"array", detail::kArray},
                                                             {"number", detail::kNumber}, {"integer", detail::kInteger},
                                                             {"string", detail::kString}};
    if (name.is_string()) {
      for (const auto& [text, bit] : kNames) {
        if (name.get_ref<const std::string&>() == text) return bit;
      }
    }
    return schema_error(where, "unknown type " + name.dump());
  }

  Status fill(Node& node, const json& schema, const std::string& where) {
    if (schema.is_boolean()) {
      node.reject_all = !schema.get<bool>();
      return {};
    }
    if (!schema.is_object()) return schema_error(where, "a schema must be an object or a boolean");
    for (const auto& [key, value] : schema.items()) {
      if (is_annotation(key)) continue;
      const std::string here = where + "/" + escape_token(key);
      if (auto st = keyword(node, key, value, here, where); !st) return st;
      node.keywords.push_back(key);  // once compiled: a node on a $ref cycle is seen half-built
    }
    make_switch(node);
    return {};
  }

  static bool has_exactly(const Node& n, std::initializer_list<std::string_view> keywords) {
    if (n.keywords.size() != keywords.size()) return false;
    for (auto k : keywords) {
      if (std::find(n.keywords.begin(), n.keywords.end(), k) == n.keywords.end()) return false;
    }
    return true;
  }

  // The case value when `n` is {"if": {"properties": {K: {"const": "value"}}, "required": [K]},
  // "then": ...}, with K in *key; nullptr otherwise, also for a node still being built (a $ref
  // cycle can lead back to one), whose keywords are not all there yet.
  static const std::string* case_of(const Node& n, std::string* key) {
    if (!has_exactly(n, {"if", "then"}) || !n.if_ || !n.then_) return nullptr;
    const Node& cond = *n.if_;
    if (!has_exactly(cond, {"properties", "required"}) || cond.properties.size() != 1 || cond.required.size() != 1) {
      return nullptr;
    }
    const auto& [name, value] = *cond.properties.begin();
    if (name != cond.required.front() || !has_exactly(*value, {"const"}) || !value->const_value ||
        !value->const_value->is_string()) {
      return nullptr;
    }
    *key = name;
    return &value->const_value->get_ref<const std::string&>();
  }

  static void make_switch(Node& node) {
    if (node.all_of.size() < 2) return;
    Node::Switch sw;
    for (const Node* sub : node.all_of) {
      std::string key;
      const std::string* value = case_of(*sub, &key);
      if (value == nullptr || (!sw.key.empty() && key != sw.key) || sw.cases.count(*value)) return;
      sw.key = key;
      sw.cases.emplace(*value, sub->then_);
      sw.in_order.push_back(sub->then_);
    }
    node.switch_on = std::move(sw);
    node.all_of.clear();
  }

  static bool is_annotation(std::string_view key) {
    static constexpr std::string_view kAnnotations[] = {"$schema",     "$id",    "$defs",    "$comment", "title",
                                                        "description", "format", "examples", "default",  "deprecated"};
    return std::find(std::begin(kAnnotations), std::end(kAnnotations), key) != std::end(kAnnotations);
  }

  Status keyword(Node& node, const std::string& key, const json& value, const std::string& here,
                 const std::string& where) {
    if (key == "type") {
      const json names = value.is_array() ? value : json::array({value});
      for (const auto& name : names) {
        auto bit = type_bit(name, here);
        if (!bit) return bit.error();
        node.types |= *bit;
        node.types_text += (node.types_text.empty() ? "" : " or ") + name.get<std::string>();
      }
    } else if (key == "const") {
      node.const_value = value;
    } else if (key == "enum") {
      if (!value.is_array() || value.empty()) return schema_error(here, "must be a non-empty array");
      node.has_enum = true;
      for (const auto& v : value) {
        node.enum_values.push_back(v);
        node.enum_text += (node.enum_text.empty() ? "" : ", ") + (v.is_string() ? v.get<std::string>() : v.dump());
      }
    } else if (key == "required") {
      if (!value.is_array()) return schema_error(here, "must be an array of names");
      for (const auto& name : value) {
        if (!name.is_string()) return schema_error(here, "must be an array of names");
        node.required.push_back(name.get<std::string>());
      }
    } else if (key == "properties") {
      if (!value.is_object()) return schema_error(here, "must be an object of schemas");
      for (const auto& [name, sub] : value.items()) {
        auto n = child(here, name);
        if (!n) return n.error();
        node.properties.emplace(name, *n);
      }
    } else if (key == "additionalProperties") {
      if (!value.is_boolean()) return schema_error(here, "only true or false is supported");
      node.closed = !value.get<bool>();
    } else if (key == "items") {
      auto n = at(here);
      if (!n) return n.error();
      node.items = *n;
    } else if (key == "$ref") {
      if (!value.is_string() || value.get_ref<const std::string&>().rfind('#', 0) != 0) {
        return schema_error(here, "only references within this document (\"#/...\") are supported");
      }
      auto n = at(value.get<std::string>().substr(1));
      if (!n) return n.error();
      node.ref = *n;
    } else if (key == "allOf" || key == "anyOf" || key == "oneOf") {
      auto& into = key == "allOf" ? node.all_of : key == "anyOf" ? node.any_of : node.one_of;
      return list(into, value, here);
    } else if (key == "if" || key == "then" || key == "else") {
      auto n = at(here);
      if (!n) return n.error();
      (key == "if" ? node.if_ : key == "then" ? node.then_ : node.else_) = *n;
    } else if (key == "minimum" || key == "maximum") {
      if (!value.is_number()) return schema_error(here, "must be a number");
      (key == "minimum" ? node.minimum : node.maximum) = value.get<double>();
      (key == "minimum" ? node.minimum_text : node.maximum_text) = value.dump();
    } else if (key == "minLength" || key == "maxLength") {
      if (!value.is_number_unsigned()) return schema_error(here, "must be a non-negative integer");
      (key == "minLength" ? node.min_length : node.max_length) = value.get<size_t>();
    } else if (key == "pattern") {
      if (!value.is_string()) return schema_error(here, "must be a string");
      try {
        const auto& text = value.get_ref<const std::string&>();
        detail::Pattern p{text, std::regex(text, std::regex::ECMAScript), {}};
#if defined(__GLIBCXX__)
        p.linear = std::regex(text, std::regex::ECMAScript | std::regex_constants::__polynomial);
#endif
        node.pattern = std::move(p);
      } catch (const std::regex_error& e) {
        return schema_error(here, std::string("std::regex cannot compile it: ") + e.what());
      }
    } else {
      return schema_error(where, "keyword \"" + key + "\" is not supported by runhost's validator");
    }
    return {};
  }

  CompiledSchema& out_;
};

// ---- Validating ---------------------------------------------------------------------------

// Where in the instance a check is: a chain of frames on the C++ stack, rendered only when a
// check fails.
struct Frame {
  const Frame* parent;
  std::string_view key;
  size_t index;
  bool is_index;
};

std::string render(const Frame* at) {
  std::vector<const Frame*> chain;
  for (; at != nullptr; at = at->parent) chain.push_back(at);
  if (chain.empty()) return "(root)";
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if (!out.empty()) out += '/';
    out += (*it)->is_index ? std::to_string((*it)->index) : escape_token((*it)->key);
  }
  return out;
}

// The instance as the checker reads it: a tree (TreeValue) or the JSON text itself (TextValue,
// for payloads as adapters write them: the hot path never builds a tree). Both answer the same
// questions, so one Checker serves both.
enum class Kind { null, boolean, number, string, array, object };

bool integral(double d) {
  return std::isfinite(d) && std::floor(d) == d;
}

class TreeValue {
 public:
  static constexpr bool kFindWalks = false;  // member() is a lookup
  explicit TreeValue(const json& v) : v_(&v) {}

  Kind kind() const {
    switch (v_->type()) {
      case json::value_t::null:
        return Kind::null;
      case json::value_t::boolean:
        return Kind::boolean;
      case json::value_t::object:
        return Kind::object;
      case json::value_t::array:
        return Kind::array;
      case json::value_t::string:
        return Kind::string;
      default:
        return Kind::number;
    }
  }
  bool is_integral() const { return v_->is_number_integer() || (v_->is_number_float() && integral(number())); }
  double number() const { return v_->get<double>(); }
  std::string_view string(std::string& /*scratch*/) const { return v_->get_ref<const std::string&>(); }
  std::optional<TreeValue> member(std::string_view name) const {
    auto it = v_->find(name);
    return it == v_->end() ? std::nullopt : std::optional<TreeValue>(TreeValue(*it));
  }
  // f(name, value) for each member, until f returns false; false then.
  template <class F>
  bool members(F&& f) const {
    for (const auto& [key, value] : v_->items()) {
      if (!f(std::string_view(key), TreeValue(value))) return false;
    }
    return true;
  }
  template <class F>
  bool elements(F&& f) const {
    for (size_t i = 0; i < v_->size(); ++i) {
      if (!f(i, TreeValue((*v_)[i]))) return false;
    }
    return true;
  }
  bool equals(const json& other) const { return *v_ == other; }
  std::string dump() const { return v_->dump(-1, ' ', false, json::error_handler_t::replace); }

 private:
  const json* v_;
};

// A view of one JSON value inside text that well_formed() accepted, so nothing here diagnoses
// malformed text.
class TextValue {
 public:
  static constexpr bool kFindWalks = true;  // member() reads the object up to its end
  explicit TextValue(rh_str v) : v_(v) {}

  Kind kind() const {
    switch (rh_json_type_of(v_)) {
      case RH_JSON_NULL:
        return Kind::null;
      case RH_JSON_BOOL:
        return Kind::boolean;
      case RH_JSON_OBJECT:
        return Kind::object;
      case RH_JSON_ARRAY:
        return Kind::array;
      case RH_JSON_STRING:
        return Kind::string;
      default:
        return Kind::number;
    }
  }
  bool is_integral() const { return integral(number()); }
  double number() const {
    double d = 0;
    const auto [end, ec] = std::from_chars(v_.data, v_.data + v_.len, d);
    if (ec == std::errc::result_out_of_range) return v_.data[0] == '-' ? -HUGE_VAL : HUGE_VAL;
    return d;
  }
  // The decoded string: the text itself when it has no escape, else decoded into `scratch`.
  std::string_view string(std::string& scratch) const {
    const std::string_view inside(v_.data + 1, v_.len - 2);
    if (inside.find('\\') == std::string_view::npos) return inside;
    size_t len = 0;
    (void)rh_json_string(v_, nullptr, 0, &len);
    scratch.resize(len + 1);
    (void)rh_json_string(v_, scratch.data(), scratch.size(), nullptr);
    scratch.resize(len);
    return scratch;
  }
  std::optional<TextValue> member(std::string_view name) const {
    rh_str found{};
    if (rh_json_impl_find(v_, name.data(), name.size(), &found) != RH_OK) return std::nullopt;
    return TextValue(found);
  }
  template <class F>
  bool members(F&& f) const {
    rh_json_iter it;
    rh_str key;
    rh_str value;
    std::string scratch;
    rh_json_iter_begin(&it, v_);
    while (rh_json_iter_next(&it, &key, &value)) {
      if (!f(TextValue(key).string(scratch), TextValue(value))) return false;
    }
    return true;
  }
  template <class F>
  bool elements(F&& f) const {
    rh_json_iter it;
    rh_str value;
    rh_json_iter_begin(&it, v_);
    for (size_t i = 0; rh_json_iter_next(&it, nullptr, &value); ++i) {
      if (!f(i, TextValue(value))) return false;
    }
    return true;
  }
  bool equals(const json& other) const {
    if (other.is_string()) {
      const auto& s = other.get_ref<const std::string&>();
      return rh_json_equals(v_, s.data(), s.size());
    }
    if (kind() == Kind::string) return false;
    return json::parse(v_.data, v_.data + v_.len, nullptr, false) == other;  // a schema's rare non-string const
  }
  std::string dump() const { return std::string(v_.data, v_.len); }

 private:
  rh_str v_;
};

// A short rendering of a value for messages: long strings would drown the message.
std::string brief(std::string text) {
  constexpr size_t kMax = 60;
  if (text.size() <= kMax) return text;
  size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // whole code points
  return text.substr(0, cut) + "...";
}

template <class V>
const char* type_name(const V& v) {
  static constexpr const char* kNames[] = {"null", "boolean", "number", "string", "array", "object"};
  const Kind k = v.kind();
  return k == Kind::number && v.is_integral() ? "integer" : kNames[static_cast<int>(k)];
}

template <class V>
bool has_type(uint8_t types, const V& v) {
  switch (v.kind()) {
    case Kind::null:
      return types & detail::kNull;
    case Kind::boolean:
      return types & detail::kBoolean;
    case Kind::object:
      return types & detail::kObject;
    case Kind::array:
      return types & detail::kArray;
    case Kind::string:
      return types & detail::kString;
    default:
      return (types & detail::kNumber) || ((types & detail::kInteger) && v.is_integral());
  }
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Checks `v` against `node`. With `error` non-null, the first failure is described there as
// "pointer: problem"; without, failures are only counted (inside if, anyOf, oneOf).
template <class V>
class Checker {
 public:
  explicit Checker(std::string* error) : error_(error) {}

  bool check(const Node& n, const V& v, const Frame* at) const {
    if (n.reject_all) return fail(at, [] { return std::string("not allowed here"); });
    if (n.types != 0 && !has_type(n.types, v)) {
      return fail(at, [&] { return "expected " + n.types_text + ", got " + type_name(v); });
    }
    if (n.const_value && !v.equals(*n.const_value))
      return fail(at, [&] { return "must be " + n.const_value->dump() + ", got " + brief(v.dump()); });
    if (n.has_enum && !in_enum(n, v))
      return fail(at, [&] { return "not one of " + n.enum_text + " (got " + brief(v.dump()) + ")"; });
    switch (v.kind()) {
      case Kind::string:
        if (!check_string(n, v, at)) return false;
        break;
      case Kind::number:
        if (!check_number(n, v, at)) return false;
        break;
      case Kind::object:
        if (!check_object(n, v, at)) return false;
        break;
      case Kind::array:
        if (n.items && !v.elements([&](size_t i, const V& item) {
              const Frame here{at, {}, i, true};
              return check(*n.items, item, &here);
            })) {
          return false;
        }
        break;
      default:
        break;
    }
    if (n.ref && !check(*n.ref, v, at)) return false;
    for (const Node* sub : n.all_of) {
      if (!check(*sub, v, at)) return false;
    }
    if (n.switch_on && !check_switch(*n.switch_on, v, at)) return false;
    if (!n.any_of.empty() && !check_any_of(n, v, at)) return false;
    if (!n.one_of.empty() && !check_one_of(n, v, at)) return false;
    if (n.if_) {
      const bool matched = Checker(nullptr).check(*n.if_, v, at);
      const Node* branch = matched ? n.then_ : n.else_;
      if (branch && !check(*branch, v, at)) return false;
    }
    return true;
  }

 private:
  template <class Describe>
  bool fail(const Frame* at, Describe&& describe) const {
    if (error_ != nullptr) *error_ = render(at) + ": " + describe();
    return false;
  }

  static bool in_enum(const Node& n, const V& v) {
    for (const auto& e : n.enum_values) {
      if (v.equals(e)) return true;
    }
    return false;
  }

  bool check_string(const Node& n, const V& v, const Frame* at) const {
    if (!n.min_length && !n.max_length && !n.pattern) return true;
    std::string scratch;
    const std::string_view s = v.string(scratch);
    if (n.min_length || n.max_length) {
      const size_t len = code_points(s);
      if (n.min_length && len < *n.min_length) {
        return fail(at, [&] { return "must be at least " + std::to_string(*n.min_length) + " characters long"; });
      }
      if (n.max_length && len > *n.max_length) {
        return fail(at, [&] {
          return "must be at most " + std::to_string(*n.max_length) + " characters long, got " + std::to_string(len);
        });
      }
    }
    if (n.pattern) {
      bool matched = false;
      try {
        matched = n.pattern->matches(s);
      } catch (const std::regex_error&) {  // error_complexity / error_stack: treat as no match
      }
      if (!matched) {
        return fail(at, [&] {
          return "does not match the pattern " + n.pattern->text + " (got " + brief(json(s).dump()) + ")";
        });
      }
    }
    return true;
  }

  bool check_number(const Node& n, const V& v, const Frame* at) const {
    if (!n.minimum && !n.maximum) return true;
    const double d = v.number();
    if (n.minimum && !(d >= *n.minimum))
      return fail(at, [&] { return "must be >= " + n.minimum_text + ", got " + brief(v.dump()); });
    if (n.maximum && !(d <= *n.maximum))
      return fail(at, [&] { return "must be <= " + n.maximum_text + ", got " + brief(v.dump()); });
    return true;
  }

  bool check_object(const Node& n, const V& v, const Frame* at) const {
    if constexpr (V::kFindWalks) return check_object_in_one_walk(n, v, at);
    for (const auto& name : n.required) {
      if (!v.member(name)) {
        const Frame missing{at, name, 0, false};
        return fail(&missing, [] { return std::string("required, but missing"); });
      }
    }
    if (!n.closed) {  // look up each property the schema names: an "if" typically names one
      for (const auto& [name, schema] : n.properties) {
        auto member = v.member(name);
        if (!member) continue;
        const Frame here{at, name, 0, false};
        if (!check(*schema, *member, &here)) return false;
      }
      return true;
    }
    return v.members([&](std::string_view key, const V& value) {  // closed: every member must be known
      const Frame member{at, key, 0, false};
      auto p = n.properties.find(key);
      if (p == n.properties.end())
        return fail(&member, [] { return std::string("not allowed here (unknown property)"); });
      return check(*p->second, value, &member);
    });
  }

  // For values whose member() walks the whole object: every member checked in one walk, and
  // the required names counted on the way. Each duplicate's value is checked, where a tree keeps
  // only the last (stricter: a text refused here goes to the tree, which has the last word).
  bool check_object_in_one_walk(const Node& n, const V& v, const Frame* at) const {
    uint64_t seen = 0;  // bit i: n.required[i] met (names past the 64th are looked up afterwards)
    const bool walked = v.members([&](std::string_view key, const V& value) {
      for (size_t i = 0; i < n.required.size() && i < 64; ++i) {
        if (n.required[i] == key) seen |= uint64_t{1} << i;
      }
      const Frame member{at, key, 0, false};
      auto p = n.properties.find(key);
      if (p == n.properties.end())
        return !n.closed || fail(&member, [] { return std::string("not allowed here (unknown property)"); });
      return check(*p->second, value, &member);
    });
    if (!walked) return false;
    for (size_t i = 0; i < n.required.size(); ++i) {
      if (i < 64 ? (seen >> i & 1) == 0 : !v.member(n.required[i])) {
        const Frame missing{at, n.required[i], 0, false};
        return fail(&missing, [] { return std::string("required, but missing"); });
      }
    }
    return true;
  }

  bool check_switch(const Node::Switch& sw, const V& v, const Frame* at) const {
    if (v.kind() != Kind::object) {
      for (const Node* then : sw.in_order) {
        if (!check(*then, v, at)) return false;
      }
      return true;
    }
    auto key = v.member(sw.key);
    if (!key || key->kind() != Kind::string) return true;
    std::string scratch;
    auto then = sw.cases.find(key->string(scratch));
    return then == sw.cases.end() || check(*then->second, v, at);
  }

  bool check_any_of(const Node& n, const V& v, const Frame* at) const {
    for (const Node* sub : n.any_of) {
      if (Checker(nullptr).check(*sub, v, at)) return true;
    }
    return fail(at, [&] {
      std::string first;
      Checker(&first).check(*n.any_of.front(), v, at);
      return "matches none of the anyOf alternatives (the first says: " + first + ")";
    });
  }

  bool check_one_of(const Node& n, const V& v, const Frame* at) const {
    size_t matched = 0;
    for (const Node* sub : n.one_of) matched += Checker(nullptr).check(*sub, v, at) ? 1 : 0;
    if (matched == 1) return true;
    return fail(at, [&] {
      if (matched > 1)
        return "matches " + std::to_string(matched) + " of the oneOf alternatives; exactly one must match";
      std::string first;
      Checker(&first).check(*n.one_of.front(), v, at);
      return "matches none of the oneOf alternatives (the first says: " + first + ")";
    });
  }

  std::string* error_;
};

// Whether `text` is one JSON value that nlohmann::json would parse too, so the tree and the text
// paths agree on what is an event: UTF-8 throughout, the grammar (runhost/json.h's reader, which
// also bounds nesting at RH_JSON_MAX_DEPTH), and no \u escape of half a surrogate pair, which
// that reader would decode to U+FFFD but nlohmann refuses.
bool well_formed(std::string_view text, rh_str* value) {
  if (!rh_json_utf8_valid(text.data(), text.size()) || rh_json_parse({text.data(), text.size()}, value) != RH_OK)
    return false;
  // Well-formed text has backslashes only inside strings, each starting an escape.
  for (size_t i = text.find('\\'); i != std::string_view::npos; i = text.find('\\', i)) {
    if (text[i + 1] != 'u') {
      i += 2;
      continue;
    }
    const long unit = rh_json_impl_hex4(text.data() + i + 2, text.data() + text.size());
    i += 6;
    if (unit >= 0xDC00 && unit <= 0xDFFF) return false;  // a low half first
    if (unit < 0xD800 || unit > 0xDBFF) continue;
    const long low =
        text.compare(i, 2, "\\u") == 0 ? rh_json_impl_hex4(text.data() + i + 2, text.data() + text.size()) : -1;
    if (low < 0xDC00 || low > 0xDFFF) return false;
    i += 6;
  }
  return true;
}

Status run(const Node& node, const json& instance, std::string_view prefix) {
  std::string error;
  const Frame top{nullptr, prefix, 0, false};
  if (Checker<TreeValue>(&error).check(node, TreeValue(instance), prefix.empty() ? nullptr : &top)) return {};
  return Error{ErrorCode::internal, std::move(error)};
}

}  // namespace

SchemaValidator::SchemaValidator(std::unique_ptr<detail::CompiledSchema> compiled) : compiled_(std::move(compiled)) {}
SchemaValidator::SchemaValidator(SchemaValidator&&) noexcept = default;
SchemaValidator& SchemaValidator::operator=(SchemaValidator&&) noexcept = default;
SchemaValidator::~SchemaValidator() = default;

Result<SchemaValidator> SchemaValidator::compile(const json& schema) {
  auto compiled = std::make_unique<CompiledSchema>();
  compiled->document = schema;
  Compiler compiler(*compiled);
  auto root = compiler.at("");
  if (!root) return root.error();
  compiled->root = *root;
  // Compile every $defs entry too, so validate_at() can reach definitions nothing refers to.
  if (auto defs = schema.find("$defs"); defs != schema.end() && defs->is_object()) {
    for (const auto& [name, sub] : defs->items()) {
      if (auto n = compiler.at("/$defs/" + escape_token(name)); !n) return n.error();
    }
  }
  return SchemaValidator(std::move(compiled));
}

Status SchemaValidator::validate(const json& instance) const {
  return run(*compiled_->root, instance, {});
}

Status SchemaValidator::validate_at(std::string_view pointer, const json& instance, std::string_view prefix) const {
  auto it = compiled_->by_pointer.find(pointer);
  if (it == compiled_->by_pointer.end()) {
    return Error{ErrorCode::internal, "the schema has no subschema at '" + std::string(pointer) + "'"};
  }
  return run(*it->second, instance, prefix);
}

bool SchemaValidator::matches_text_at(std::string_view pointer, std::string_view text) const {
  auto it = compiled_->by_pointer.find(pointer);
  rh_str value{};
  return it != compiled_->by_pointer.end() && well_formed(text, &value) &&
         Checker<TextValue>(nullptr).check(*it->second, TextValue(value), nullptr);
}

bool SchemaValidator::has(std::string_view pointer) const noexcept {
  return compiled_->by_pointer.find(pointer) != compiled_->by_pointer.end();
}

const SchemaValidator& event_schema() {
  static const SchemaValidator schema = [] {
    auto compiled = SchemaValidator::compile(json::parse(event_schema_text()));
    if (!compiled) throw std::logic_error(compiled.error().message);
    return std::move(*compiled);
  }();
  return schema;
}

Status validate_event(const json& envelope) {
  return event_schema().validate(envelope);
}

namespace {

const std::string& payload_pointer(std::string_view type) {
  static const auto pointers = [] {
    std::unordered_map<std::string_view, std::string> out;
    for (auto t : kEventTypes) out.emplace(t, "/$defs/" + std::string(t));
    return out;
  }();
  return pointers.at(type);
}

}  // namespace

Status validate_payload(std::string_view type, const json& payload) {
  if (!is_event_type(type)) return Error{ErrorCode::internal, "type: unknown event type '" + std::string(type) + "'"};
  return event_schema().validate_at(payload_pointer(type), payload, "payload");
}

bool payload_text_valid(std::string_view type, std::string_view text) {
  return is_event_type(type) && !text.empty() && text.front() == '{' &&
         event_schema().matches_text_at(payload_pointer(type), text);
}

}  // namespace runhost::events
