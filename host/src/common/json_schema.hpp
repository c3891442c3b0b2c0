// JSON Schema (draft-04) validation on top of RapidJSON's SchemaDocument, with errors a
// person can act on: the JSON pointer of the offending value, the failing keyword, what the
// schema expected and what was found.
//
//   ATLAS_ASSIGN_OR_RETURN(auto schema, json::Schema::compile(schema_text, "adapter 'openai' config schema"));
//   if (auto err = schema.check(doc)) std::cerr << err->message;    // or:
//   ATLAS_RETURN_IF_ERROR(schema.validate(doc, "config of adapter 'openai'"));
//
// RapidJSON 1.1 implements draft-04 only and ignores keywords it does not know (const,
// $defs, prefixItems, numeric exclusiveMinimum, format ...): such an instance is ACCEPTED.
// unsupported_keywords() finds them so callers can warn. A compiled Schema is immutable and
// may be shared between threads; each check() uses its own validator.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"

namespace atlas::json {

struct SchemaError {
  std::string instance_pointer;  // "/prefix", "" for the root
  std::string schema_pointer;    // "#/properties/prefix"
  std::string keyword;           // "type", "required", "additionalProperties", ...
  std::string expected;          // "string", "one of [\"a\",\"b\"]", "property \"model\""
  std::string found;             // "number 5", "no such property"
  // "/prefix: expected string, found number 5 (JSON Schema keyword 'type')"
  std::string message;
};

class Schema {
 public:
  // Parses and compiles `schema_json`. `what` names the schema in errors.
  static Result<Schema> compile(std::string_view schema_json, std::string_view what = "JSON Schema");

  // The first violation, or nullopt when `instance` conforms.
  std::optional<SchemaError> check(const Value& instance) const;

  // OK, or INVALID_ARGUMENT: "<what>: <error.message>".
  Status validate(const Value& instance, std::string_view what) const;
  // Parses `instance_json` first (parse errors name line and column).
  Status validate_text(std::string_view instance_json, std::string_view what) const;

  // Keywords present in the schema that RapidJSON 1.1 silently ignores, with their JSON
  // pointer, e.g. {"#/properties/x/const", ...}.
  std::vector<std::string> unsupported_keywords() const;

  const std::string& source() const;

 private:
  struct Impl;
  explicit Schema(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace atlas::json
