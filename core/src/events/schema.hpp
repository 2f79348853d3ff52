// The unified event schema (docs/events.schema.json, embedded at build time) and a small JSON
// Schema validator for the subset of draft 2020-12 that schema uses.
//
//   if (auto st = events::validate_payload("run.failed", payload); !st)
//     log(st.error().message);   // "payload/error/code: not one of invalid_dispatch, ..."
//
// Supported keywords: type (integer is any number with no fractional part), enum, const,
// required, properties, additionalProperties (boolean only), items (one schema), $ref (a JSON
// pointer into the same document, "#/$defs/..."), allOf, anyOf, oneOf, if/then/else, minimum,
// maximum, minLength, maxLength (in code points), pattern (std::regex, ECMAScript, unanchored
// like JSON Schema's), and boolean schemas. Annotations ($schema, $id, $defs, title,
// description, $comment, format, examples, default) are read and ignored. Any other keyword is
// refused when the schema is compiled, so the schema cannot silently rely on one we skip.
//
// Errors are ErrorCode::internal, one per failure: the JSON pointer of the failing value (no
// leading slash, "(root)" for the document itself) and what is wrong with it.
//
// Thread rules: a compiled SchemaValidator is immutable; validate() may be called from any
// number of threads at once. The embedded schema is compiled once, on first use.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runhost/error.hpp"

namespace runhost::events {

namespace detail {
struct CompiledSchema;
}

class SchemaValidator {
 public:
  // Compiles `schema`. Fails (internal) on a keyword outside the subset, a $ref that does not
  // resolve, or a pattern std::regex cannot compile, naming where in the schema it is.
  static Result<SchemaValidator> compile(const nlohmann::json& schema);

  // Validates `instance` against the whole schema.
  Status validate(const nlohmann::json& instance) const;

  // Validates `instance` against the subschema at `pointer` ("/$defs/run.failed"), reporting
  // failures under `prefix` ("payload" gives "payload/error/code: ..."). A pointer that names
  // no subschema is an error.
  Status validate_at(std::string_view pointer, const nlohmann::json& instance, std::string_view prefix = {}) const;

  // Whether `text` is one well-formed JSON value (UTF-8, nested at most RH_JSON_MAX_DEPTH deep, no
  // unpaired surrogate escape: what nlohmann::json accepts) that the subschema at `pointer`
  // accepts, read as text: no tree is built. Says only yes or no; validate_at() says why not.
  // A text with duplicate names is refused when any of their values would be (a tree keeps
  // only the last one).
  bool matches_text_at(std::string_view pointer, std::string_view text) const;

  // Whether `pointer` names a compiled subschema.
  bool has(std::string_view pointer) const noexcept;

  SchemaValidator(SchemaValidator&&) noexcept;
  SchemaValidator& operator=(SchemaValidator&&) noexcept;
  ~SchemaValidator();

 private:
  explicit SchemaValidator(std::unique_ptr<detail::CompiledSchema> compiled);
  std::unique_ptr<detail::CompiledSchema> compiled_;
};

// The text of docs/events.schema.json, as it was when this library was built.
std::string_view event_schema_text() noexcept;

// The event schema, compiled on first use. Throws only if the embedded schema is broken, which
// the test suite rules out.
const SchemaValidator& event_schema();

// A whole envelope: every envelope field and the payload of its type.
Status validate_event(const nlohmann::json& envelope);

// The payload of one event type, as an adapter hands it to emit(); errors name "payload/...".
// An unknown type is an error naming "type".
Status validate_payload(std::string_view type, const nlohmann::json& payload);

// The payload of one event type as the adapter's text, checked without building a tree: true
// when it is a well-formed JSON object (see matches_text_at) that the schema of `type` accepts.
// False says only that the text path cannot vouch for it: parse it and ask validate_payload,
// which has the last word and says why.
bool payload_text_valid(std::string_view type, std::string_view text);

}  // namespace runhost::events
