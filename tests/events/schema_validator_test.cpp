// The JSON Schema validator on small schemas, one keyword at a time: what it accepts, what it
// refuses, the pointer each failure names, and the schemas it refuses to compile.
#include <gtest/gtest.h>

#include <runhost/json.h>

#include "events/schema.hpp"

namespace runhost::events {
namespace {

using nlohmann::json;

SchemaValidator compile(const json& schema) {
  auto v = SchemaValidator::compile(schema);
  if (!v) throw std::runtime_error(v.error().message);
  return std::move(*v);
}

// "" when `instance` is valid, else the failure's message. Every instance is also checked as
// text (the event pipeline's path), which must say the same.
std::string problem(const SchemaValidator& v, const json& instance) {
  auto st = v.validate(instance);
  EXPECT_EQ(v.matches_text_at("", instance.dump()), static_cast<bool>(st)) << "as text: " << instance.dump();
  EXPECT_EQ(v.matches_text_at("", instance.dump(2)), static_cast<bool>(st)) << "as indented text: " << instance.dump(2);
  if (st) return "";
  EXPECT_EQ(st.error().code, ErrorCode::internal);
  return st.error().message;
}

std::string compile_error(const json& schema) {
  auto v = SchemaValidator::compile(schema);
  return v ? "" : v.error().message;
}

TEST(SchemaValidator, TellsIntegersFromNumbers) {
  const auto v = compile(json::parse(R"({"properties": {"i": {"type": "integer"}, "n": {"type": "number"}}})"));
  EXPECT_EQ(problem(v, {{"i", 3}, {"n", 3}}), "");
  EXPECT_EQ(problem(v, {{"i", 3.0}, {"n", 2.5}}), "") << "3.0 has no fractional part: an integer";
  EXPECT_EQ(problem(v, {{"i", -7}}), "");
  EXPECT_EQ(problem(v, {{"i", 2.5}}), "i: expected integer, got number");
  EXPECT_EQ(problem(v, {{"n", "2"}}), "n: expected number, got string");
  EXPECT_EQ(problem(v, {{"i", true}}), "i: expected integer, got boolean");
}

TEST(SchemaValidator, TypeListsConstAndEnum) {
  const auto v = compile(json::parse(R"({"type": "object", "properties": {
      "s": {"type": ["string", "null"]},
      "c": {"const": "runhost"},
      "e": {"enum": ["a", "b", 3]}}})"));
  EXPECT_EQ(problem(v, {{"s", nullptr}, {"c", "runhost"}, {"e", 3}}), "");
  EXPECT_EQ(problem(v, json::array()), "(root): expected object, got array");
  EXPECT_EQ(problem(v, {{"s", 1}}), "s: expected string or null, got integer");
  EXPECT_EQ(problem(v, {{"c", "other"}}), "c: must be \"runhost\", got \"other\"");
  EXPECT_EQ(problem(v, {{"e", "c"}}), "e: not one of a, b, 3 (got \"c\")");
  EXPECT_EQ(problem(v, {{"e", 3.0}}), "") << "JSON numbers compare by value";
}

TEST(SchemaValidator, RequiredPropertiesAndClosedObjects) {
  const auto v = compile(json::parse(R"({"type": "object", "required": ["a"], "additionalProperties": false,
      "properties": {"a": {"type": "string"}, "b": {"type": "object", "required": ["c"]}}})"));
  EXPECT_EQ(problem(v, {{"a", "x"}}), "");
  EXPECT_EQ(problem(v, json::object()), "a: required, but missing");
  EXPECT_EQ(problem(v, {{"a", "x"}, {"b", json::object()}}), "b/c: required, but missing");
  EXPECT_EQ(problem(v, {{"a", "x"}, {"z", 1}}), "z: not allowed here (unknown property)");
  EXPECT_EQ(problem(v, {{"a", "x"}, {"a/b~", 1}}), "a~1b~0: not allowed here (unknown property)")
      << "pointer tokens are escaped as RFC 6901 says";
  const auto open = compile(json::parse(R"({"properties": {"a": {"type": "string"}}})"));
  EXPECT_EQ(problem(open, {{"z", 1}}), "") << "open by default";
}

TEST(SchemaValidator, ItemsNameTheFailingIndex) {
  const auto v = compile(json::parse(R"({"type": "array", "items": {"type": "string", "minLength": 1}})"));
  EXPECT_EQ(problem(v, json::array({"a", "b"})), "");
  EXPECT_EQ(problem(v, json::array({"a", 2})), "1: expected string, got integer");
  EXPECT_EQ(problem(v, json::array({"a", "b", ""})), "2: must be at least 1 characters long");
}

TEST(SchemaValidator, LengthsCountCodePoints) {
  const auto v = compile(json::parse(R"({"minLength": 2, "maxLength": 3})"));
  EXPECT_EQ(problem(v, "\xC3\xA9\xC3\xA9"), "") << "two characters, four bytes";
  EXPECT_EQ(problem(v, "\xC3\xA9"), "(root): must be at least 2 characters long");
  EXPECT_EQ(problem(v, "abcd"), "(root): must be at most 3 characters long, got 4");
  EXPECT_EQ(problem(v, 12345), "") << "length applies to strings only";
}

TEST(SchemaValidator, MinimumAndMaximum) {
  const auto v = compile(json::parse(R"({"minimum": 1, "maximum": 65535})"));
  EXPECT_EQ(problem(v, 1), "");
  EXPECT_EQ(problem(v, 65535), "");
  EXPECT_EQ(problem(v, 0), "(root): must be >= 1, got 0");
  EXPECT_EQ(problem(v, 65535.5), "(root): must be <= 65535, got 65535.5");
  EXPECT_EQ(problem(v, "0"), "") << "bounds apply to numbers only";
}

TEST(SchemaValidator, PatternsAreUnanchoredEcmaScript) {
  const auto v = compile(json::parse(R"({"pattern": "b+c"})"));
  EXPECT_EQ(problem(v, "abbbcd"), "");
  EXPECT_EQ(problem(v, "acb"), "(root): does not match the pattern b+c (got \"acb\")");
  const auto lookahead = compile(json::parse(R"({"pattern": "^(?!/).+$"})"));
  EXPECT_EQ(problem(lookahead, "rel/path"), "");
  EXPECT_NE(problem(lookahead, "/abs"), "");
}

TEST(SchemaValidator, LongStringsMeetPatternsWithoutExhaustingTheStack) {
  // The backtracking matcher recurses per character: 256 KiB would need some 64 MiB of stack.
  const auto v = compile(json::parse(R"({"pattern": "^(?!/)(?!(.*/)?\\.\\.(/|$)).+$"})"));
  std::string big(256u << 10, 'a');
  EXPECT_EQ(problem(v, big), "");
  big.replace(big.size() / 2, 4, "/../");
  const auto message = problem(v, big);
  EXPECT_EQ(message.substr(0, 35), "(root): does not match the pattern ");
  EXPECT_LT(message.size(), 200u) << "the value is abbreviated in the message";
}

TEST(SchemaValidator, AllOfAnyOfOneOf) {
  const auto v = compile(json::parse(R"({"properties": {
      "all": {"allOf": [{"type": "integer"}, {"minimum": 10}]},
      "any": {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]},
      "one": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 5}]}}})"));
  EXPECT_EQ(problem(v, {{"all", 12}, {"any", "x"}, {"one", 2}}), "");
  EXPECT_EQ(problem(v, {{"all", 3}}), "all: must be >= 10, got 3");
  EXPECT_EQ(problem(v, {{"any", 5}}), "");
  EXPECT_EQ(problem(v, {{"any", -1}}),
            "any: matches none of the anyOf alternatives (the first says: any: expected string, got integer)");
  EXPECT_EQ(problem(v, {{"one", 5.5}}), "") << "a number >= 5 that is not an integer: exactly one";
  EXPECT_EQ(problem(v, {{"one", 7}}), "one: matches 2 of the oneOf alternatives; exactly one must match");
  EXPECT_EQ(problem(v, {{"one", 1.5}}),
            "one: matches none of the oneOf alternatives (the first says: one: expected integer, got number)");
}

TEST(SchemaValidator, IfThenElse) {
  const auto v = compile(json::parse(R"({
      "if": {"properties": {"kind": {"const": "file"}}, "required": ["kind"]},
      "then": {"required": ["path"]},
      "else": {"required": ["name"]}})"));
  EXPECT_EQ(problem(v, {{"kind", "file"}, {"path", "a"}}), "");
  EXPECT_EQ(problem(v, {{"kind", "file"}}), "path: required, but missing");
  EXPECT_EQ(problem(v, {{"kind", "tool"}, {"name", "Bash"}}), "");
  EXPECT_EQ(problem(v, {{"kind", "tool"}}), "name: required, but missing");
  EXPECT_EQ(problem(v, json::object()), "name: required, but missing") << "no kind: the if fails, else applies";
}

TEST(SchemaValidator, AnAllOfOfIfThenCasesOnOneKeyMeansWhatItSays) {
  // Compiled as one lookup on "kind" (the event schema's shape); the same cases with an "else"
  // added to one are evaluated one by one. Both must give the same answers.
  const char* cases = R"([
      {"if": {"properties": {"kind": {"const": "a"}}, "required": ["kind"]}, "then": {"required": ["x"], "minLength": 3}},
      {"if": {"properties": {"kind": {"const": "b"}}, "required": ["kind"]}, "then": {"required": ["y"], "minLength": 4}}])";
  json switched = {{"allOf", json::parse(cases)}};
  json plain = switched;
  plain["allOf"][1]["else"] = true;
  const auto fast = compile(switched), slow = compile(plain);
  const std::vector<std::pair<json, std::string>> expectations = {
      {{{"kind", "a"}}, "x: required, but missing"},
      {{{"kind", "a"}, {"x", 1}}, ""},
      {{{"kind", "b"}}, "y: required, but missing"},
      {{{"kind", "c"}}, ""},
      {{{"kind", 5}}, ""},
      {json::object(), ""},
      {"ab", "(root): must be at least 3 characters long"},  // not an object: every "if" holds
      {"abc", "(root): must be at least 4 characters long"},
      {"abcd", ""},
  };
  for (const auto& [instance, expected] : expectations) {
    EXPECT_EQ(problem(fast, instance), expected) << instance;
    EXPECT_EQ(problem(slow, instance), expected) << instance;
  }
}

TEST(SchemaValidator, RefsIntoDefsIncludingRecursiveOnes) {
  const auto v = compile(json::parse(R"({"$ref": "#/$defs/node", "$defs": {"node": {
      "type": "object", "required": ["name"],
      "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}})"));
  const json tree =
      json::parse(R"({"name": "a", "children": [{"name": "b"}, {"name": "c", "children": [{"name": "d"}]}]})");
  EXPECT_EQ(problem(v, tree), "");
  json broken = tree;
  broken["children"][1]["children"][0].erase("name");
  EXPECT_EQ(problem(v, broken), "children/1/children/0/name: required, but missing");
  EXPECT_TRUE(v.has("/$defs/node"));
  auto st = v.validate_at("/$defs/node", json{{"name", 1}}, "payload");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "payload/name: expected string, got integer");
  EXPECT_FALSE(v.validate_at("/$defs/nothing", json::object()));
}

TEST(SchemaValidator, BooleanSchemas) {
  const auto v = compile(json::parse(R"({"properties": {"anything": true, "never": false}})"));
  EXPECT_EQ(problem(v, {{"anything", json::array({1, "x"})}}), "");
  EXPECT_EQ(problem(v, {{"never", 1}}), "never: not allowed here");
}

TEST(SchemaValidator, AnnotationsAreIgnored) {
  const auto v = compile(json::parse(R"({"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "urn:x",
      "title": "t", "description": "d", "$comment": "c", "format": "uri", "examples": ["no uri at all"], "default": 1})"));
  EXPECT_EQ(problem(v, "no uri at all"), "") << "format is not asserted";
}

TEST(SchemaValidator, RefusesSchemasOutsideItsSubset) {
  EXPECT_EQ(compile_error(json::parse(R"({"properties": {"a": {"patternProperties": {}}}})")),
            "schema /properties/a: keyword \"patternProperties\" is not supported by runhost's validator");
  EXPECT_EQ(compile_error(json::parse(R"({"additionalProperties": {"type": "string"}})")),
            "schema /additionalProperties: only true or false is supported");
  EXPECT_EQ(compile_error(json::parse(R"({"$ref": "#/$defs/missing"})")), "schema /$defs/missing: no such subschema");
  EXPECT_EQ(compile_error(json::parse(R"({"$ref": "other.json#/x"})")),
            "schema /$ref: only references within this document (\"#/...\") are supported");
  EXPECT_NE(
      compile_error(json::parse(R"({"pattern": "(unclosed"})")).find("schema /pattern: std::regex cannot compile it"),
      std::string::npos);
  EXPECT_EQ(compile_error(json::parse(R"({"type": "float"})")), "schema /type: unknown type \"float\"");
  EXPECT_EQ(compile_error(json::parse(R"({"minLength": -1})")), "schema /minLength: must be a non-negative integer");
  EXPECT_EQ(compile_error(json::parse(R"({"oneOf": []})")), "schema /oneOf: must be a non-empty array of schemas");
  EXPECT_EQ(compile_error(json::parse("3")), "schema (root): a schema must be an object or a boolean");
}

TEST(SchemaValidator, IsMovableAndStaysValid) {
  auto a = compile(json::parse(R"({"$ref": "#/$defs/x", "$defs": {"x": {"type": "string"}}})"));
  SchemaValidator b = std::move(a);
  EXPECT_EQ(problem(b, "s"), "");
  EXPECT_EQ(problem(b, 1), "(root): expected string, got integer");
}

TEST(SchemaValidator, TextIsVouchedForOnlyWhenTheTreeParserWouldTakeItToo) {
  const auto v = compile(json::parse(R"({"type": "object", "required": ["a"],
      "properties": {"a": {"type": "string", "minLength": 2}, "n": {"type": "integer"}}})"));
  const auto text = [&](std::string_view t) { return v.matches_text_at("", t); };
  EXPECT_TRUE(text(R"({"a": "xy"})"));
  EXPECT_TRUE(text(" {\"\\u0061\" : \"\\u00e9\\u00e9\"}\n")) << "escaped names and strings are decoded";
  EXPECT_FALSE(text(R"({"\u0061": "\u00e9"})")) << "one code point, though two bytes";
  EXPECT_TRUE(text(R"({"a": "\ud83d\ude00!"})")) << "a surrogate pair";
  EXPECT_TRUE(text(R"({"a": "xy", "n": 3e2})")) << "300: an integer";
  EXPECT_FALSE(text(R"({"a": "xy", "n": 2.5})"));
  EXPECT_TRUE(text(R"({"a": "\\u0000"})")) << "an escaped backslash, then text";
  // What nlohmann::json refuses, the text check refuses too.
  for (const std::string& bad : {std::string(R"({"a": "\ud800 x"})"), std::string(R"({"a": "\udc00xy"})"),
                                std::string(R"({"a": "\ud800\u0041"})"),
                                std::string("{\"a\": \"x\xff\"}"), std::string("{\"a\": \"\xc0\xafx\"}"),
                                std::string("{\"a\": \"x\ny\"}"), std::string(R"({"a": "xy"} x)"),
                                std::string(R"({"a": "xy",})"), std::string(R"({"a": 01})"), std::string("")}) {
    EXPECT_FALSE(text(bad)) << bad;
    EXPECT_TRUE(json::parse(bad, nullptr, false).is_discarded()) << bad;
  }
  // Nested deeper than runhost/json.h reads: not vouched for (the tree decides).
  std::string deep = R"({"a": "xy", "z": )" + std::string(RH_JSON_MAX_DEPTH, '[') + std::string(RH_JSON_MAX_DEPTH, ']') + "}";
  EXPECT_FALSE(text(deep));
  EXPECT_TRUE(v.validate(json::parse(deep)));
  // Duplicate names: a tree keeps the last; the text check refuses when any of them fails, so
  // such text goes to the tree, which has the last word.
  EXPECT_FALSE(text(R"({"a": 1, "a": "xy"})"));
  EXPECT_TRUE(v.validate(json::parse(R"({"a": 1, "a": "xy"})")));
  EXPECT_FALSE(text(R"({"a": "xy", "a": 1})"));
  EXPECT_FALSE(v.matches_text_at("/nowhere", R"({"a": "xy"})")) << "no such subschema";
}

}  // namespace
}  // namespace runhost::events
