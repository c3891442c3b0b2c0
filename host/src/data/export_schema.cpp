#include "data/export_schema.hpp"

#include <array>
#include <mutex>
#include <optional>
#include <string>

#include "data/export_tokens.hpp"

namespace atlas::data {

namespace {

// atlas-jsonl: Atlas's AtlasSessionTrace; extra keys are allowed (Atlas readers ignore them).
constexpr std::string_view kAtlasJsonl = R"json({
  "title": "atlas-jsonl row: one AtlasSessionTrace",
  "type": "object",
  "required": ["task", "final_answer", "plan", "steps", "session_metadata"],
  "properties": {
    "task": {"type": "string"},
    "final_answer": {"type": ["string", "null"]},
    "plan": {"type": "object"},
    "steps": {"type": "array", "items": {
      "type": "object",
      "required": ["step_id", "description", "trace", "output", "reward"],
      "properties": {
        "step_id": {"type": "integer"},
        "description": {"type": "string"},
        "trace": {"type": "string"},
        "output": {"type": "string"},
        "reward": {"type": "object", "required": ["score"], "properties": {"score": {"type": ["number", "null"]}}}
      }}},
    "session_metadata": {"type": "object"},
    "trajectory_events": {"type": "array"}
  }
})json";

// TRL conversational rows: lists of {role, content} messages; tool calls carry their arguments
// as objects (TRL chat templates). Extra columns are allowed (TRL drops or ignores them).
// Shared by the TRL schemas (with_trl_definitions adds it).
constexpr std::string_view kTrlDefinitions = R"json("definitions": {
    "message": {
      "type": "object",
      "required": ["role"],
      "properties": {
        "role": {"enum": ["system", "user", "assistant", "tool"]},
        "content": {"type": ["string", "null"]},
        "tool_calls": {"type": "array", "items": {
          "type": "object",
          "required": ["id", "type", "function"],
          "properties": {
            "id": {"type": "string"},
            "type": {"enum": ["function"]},
            "function": {"type": "object", "required": ["name", "arguments"],
                         "properties": {"name": {"type": "string", "minLength": 1}, "arguments": {"type": "object"}}}
          }}},
        "tool_call_id": {"type": "string"},
        "name": {"type": "string"}
      }
    },
    "conversation": {"type": "array", "minItems": 1, "items": {"$ref": "#/definitions/message"}},
    "tool": {
      "type": "object",
      "required": ["type", "function"],
      "properties": {
        "type": {"enum": ["function"]},
        "function": {"type": "object", "required": ["name", "parameters"],
                     "properties": {"name": {"type": "string", "minLength": 1}, "description": {"type": "string"},
                                    "parameters": {"type": "object"}}}
      }
    }
  })json";

// A TRL schema (an object ending in "}") with kTrlDefinitions added as its last member.
std::string with_trl_definitions(std::string_view schema) {
  const size_t end = schema.rfind('}');
  return std::string(schema.substr(0, end)) + ",\n  " + std::string(kTrlDefinitions) + "\n}";
}

constexpr std::string_view kTrlSft = R"json({
  "title": "trl-sft row: TRL conversational language modelling",
  "type": "object",
  "required": ["messages"],
  "properties": {
    "messages": {"type": "array", "minItems": 2, "items": {"$ref": "#/definitions/message"}},
    "tools": {"type": "array", "items": {"$ref": "#/definitions/tool"}},
    "session_id": {"type": "string"},
    "reward": {"type": ["number", "null"]},
    "step_id": {"type": "integer"},
    "synthesis": {"type": "boolean"}
  }
})json";

// GRPO: TRL passes every column but `prompt` to the reward functions as keyword arguments next
// to its own prompts/completions/completion_ids/trainer_state, so only `prompt` and atlas_*
// columns are allowed.
constexpr std::string_view kTrlGrpo = R"json({
  "title": "trl-grpo row: a prompt and its group of stored completions",
  "type": "object",
  "required": ["prompt", "atlas_completions", "atlas_session_rewards", "atlas_step_rewards",
               "atlas_reward_uncertainty", "atlas_advantages", "atlas_group_id", "atlas_group_size",
               "atlas_session_ids"],
  "properties": {
    "prompt": {"$ref": "#/definitions/conversation"},
    "atlas_completions": {"type": "array", "minItems": 1, "items": {"type": "array", "items": {"$ref": "#/definitions/message"}}},
    "atlas_session_rewards": {"type": "array", "minItems": 1, "items": {"type": "number"}},
    "atlas_step_rewards": {"type": "array", "items": {"type": "array", "items": {"type": ["number", "null"]}}},
    "atlas_reward_uncertainty": {"type": "array", "items": {"type": ["number", "null"]}},
    "atlas_advantages": {"type": "array", "items": {"type": "number"}},
    "atlas_group_id": {"type": "string"},
    "atlas_group_source": {"enum": ["rollout", "task"]},
    "atlas_group_size": {"type": "integer", "minimum": 1},
    "atlas_reward_mean": {"type": "number"},
    "atlas_reward_std": {"type": "number"},
    "atlas_session_ids": {"type": "array", "minItems": 1, "items": {"type": "string"}}
  },
  "patternProperties": {"^atlas_": {}},
  "additionalProperties": false
})json";

constexpr std::string_view kTrlDpo = R"json({
  "title": "trl-dpo row: TRL conversational preference (prompt, chosen, rejected)",
  "type": "object",
  "required": ["prompt", "chosen", "rejected"],
  "properties": {
    "prompt": {"$ref": "#/definitions/conversation"},
    "chosen": {"$ref": "#/definitions/conversation"},
    "rejected": {"$ref": "#/definitions/conversation"},
    "session_id": {"type": "string"},
    "step_id": {"type": "integer"},
    "guidance": {"type": "array", "items": {"type": "string"}},
    "source": {"enum": ["teacher_retry", "demonstration"]}
  }
})json";

// Corrections as SFT rows: TRL conversational language modelling, ending on the corrected answer.
constexpr std::string_view kTrlSftCorrections = R"json({
  "title": "trl-sft-corrections row: a corrected answer (accepted retry or demonstration) as TRL language modelling",
  "type": "object",
  "required": ["messages", "source"],
  "properties": {
    "messages": {"type": "array", "minItems": 2, "items": {"$ref": "#/definitions/message"}},
    "session_id": {"type": "string"},
    "step_id": {"type": "integer"},
    "source": {"enum": ["teacher_retry", "demonstration"]}
  }
})json";

// TRL unpaired preference (KTOTrainer): prompt, completion, label (bool: desirable or not).
constexpr std::string_view kTrlKto = R"json({
  "title": "trl-kto row: TRL unpaired preference (prompt, completion, label)",
  "type": "object",
  "required": ["prompt", "completion", "label"],
  "properties": {
    "prompt": {"$ref": "#/definitions/conversation"},
    "completion": {"$ref": "#/definitions/conversation"},
    "label": {"type": "boolean"},
    "session_id": {"type": "string"},
    "step_id": {"type": "integer"},
    "source": {"enum": ["teacher_retry", "demonstration", "session"]}
  }
})json";

// TRL stepwise supervision (PRMTrainer), standard format: strings and one bool label per step
// (equal lengths are checked by the exporter: draft-04 cannot say it).
constexpr std::string_view kTrlPrm = R"json({
  "title": "trl-prm row: TRL stepwise supervision (prompt, completions, labels)",
  "type": "object",
  "required": ["prompt", "completions", "labels"],
  "properties": {
    "prompt": {"type": "string"},
    "completions": {"type": "array", "minItems": 1, "items": {"type": "string"}},
    "labels": {"type": "array", "minItems": 1, "items": {"type": "boolean"}},
    "step_rewards": {"type": "array", "items": {"type": "number"}},
    "session_id": {"type": "string"}
  }
})json";

// OpenAI chat fine-tuning: only the documented keys; arguments are JSON strings; a tool reply
// names the call it answers.
constexpr std::string_view kOpenAiFt = R"json({
  "title": "openai-ft row: OpenAI chat fine-tuning example",
  "type": "object",
  "required": ["messages"],
  "additionalProperties": false,
  "properties": {
    "messages": {"type": "array", "minItems": 2, "items": {
      "type": "object",
      "required": ["role"],
      "additionalProperties": false,
      "properties": {
        "role": {"enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {"type": ["string", "null", "array"]},
        "name": {"type": "string"},
        "weight": {"enum": [0, 1]},
        "tool_call_id": {"type": "string"},
        "tool_calls": {"type": "array", "items": {
          "type": "object",
          "required": ["id", "type", "function"],
          "additionalProperties": false,
          "properties": {
            "id": {"type": "string"},
            "type": {"enum": ["function"]},
            "function": {"type": "object", "required": ["name", "arguments"], "additionalProperties": false,
                         "properties": {"name": {"type": "string", "minLength": 1}, "arguments": {"type": "string"}}}
          }}}
      },
      "anyOf": [
        {"properties": {"role": {"enum": ["system", "developer", "user"]}}, "required": ["content"]},
        {"properties": {"role": {"enum": ["assistant"]}}},
        {"properties": {"role": {"enum": ["tool"]}}, "required": ["tool_call_id", "content"]}
      ]}},
    "tools": {"type": "array", "items": {
      "type": "object", "required": ["type", "function"], "additionalProperties": false,
      "properties": {"type": {"enum": ["function"]},
                     "function": {"type": "object", "required": ["name"],
                                  "properties": {"name": {"type": "string", "minLength": 1},
                                                 "description": {"type": "string"},
                                                 "parameters": {"type": "object"},
                                                 "strict": {"type": "boolean"}}}}}},
    "parallel_tool_calls": {"type": "boolean"}
  }
})json";

constexpr size_t kFormats = 9;

size_t index_of(ExportFormat format) {
  return static_cast<size_t>(format);
}

}  // namespace

std::string export_schema_text(ExportFormat format) {
  switch (format) {
    case ExportFormat::kAtlasJsonl:
      return std::string(kAtlasJsonl);
    case ExportFormat::kTrlSft:
      return with_trl_definitions(kTrlSft);
    case ExportFormat::kTrlGrpo:
      return with_trl_definitions(kTrlGrpo);
    case ExportFormat::kTrlDpo:
      return with_trl_definitions(kTrlDpo);
    case ExportFormat::kOpenAiFt:
      return std::string(kOpenAiFt);
    case ExportFormat::kTrlSftCorrections:
      return with_trl_definitions(kTrlSftCorrections);
    case ExportFormat::kTrlKto:
      return with_trl_definitions(kTrlKto);
    case ExportFormat::kTrlPrm:
      return std::string(kTrlPrm);
    case ExportFormat::kTokensJsonl:
      return std::string(kTokensJsonlSchema);
  }
  return std::string(kAtlasJsonl);
}

Result<const json::Schema*> export_schema(ExportFormat format) {
  static std::mutex mu;
  static std::array<std::optional<json::Schema>, kFormats> compiled;
  std::lock_guard<std::mutex> lock(mu);
  std::optional<json::Schema>& slot = compiled.at(index_of(format));
  if (!slot) {
    ATLAS_ASSIGN_OR_RETURN(
        json::Schema schema,
        json::Schema::compile(export_schema_text(format),
                              std::string("the ") + std::string(export_format_name(format)) + " export schema"));
    slot = std::move(schema);
  }
  return &*slot;
}

}  // namespace atlas::data
