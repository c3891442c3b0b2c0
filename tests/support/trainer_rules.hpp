// The trainers' own dataset rules, written down from their documentation, independent of the
// export schemas in host/src/data/export_schema.cpp (which a test must not check against
// themselves). Each function returns "" when the row follows the rules, else the rule it breaks.
//
// Sources:
// - TRL, "Dataset formats and types": https://huggingface.co/docs/trl/main/en/dataset_formats
//   (types by their columns: language modelling `messages`; prompt-only `prompt`; preference
//   `prompt` + `chosen` + `rejected`; unpaired preference `prompt` + `completion` + `label`
//   (bool); stepwise supervision `prompt` + `completions` + `labels`, standard format only:
//   strings, one bool label per completion; conversational = lists of {"role", "content"}).
// - TRL, "KTO Trainer": https://huggingface.co/docs/trl/main/en/kto_trainer ("prompt",
//   "completion", "label": True for a desired completion, False for an undesired one).
// - TRL, "PRM Trainer": https://huggingface.co/docs/trl/main/en/prm_trainer (stepwise supervision).
// - TRL, "GRPO Trainer", "Using a custom reward function":
//   https://huggingface.co/docs/trl/main/en/grpo_trainer (every column but `prompt` is passed
//   to the reward functions as a keyword argument, beside `prompts`, `completions`,
//   `completion_ids`, `trainer_state`, `log_extra` and `log_metric`).
// - OpenAI, supervised fine-tuning: https://platform.openai.com/docs/guides/supervised-fine-tuning
//   (chat-format lines: `messages` with system/developer/user/assistant/tool roles, optional
//   `tools` and `parallel_tool_calls`; `weight` 0 or 1 on assistant messages only; at least one
//   assistant message; function arguments are JSON strings).
// - OpenAI, function calling guide: https://platform.openai.com/docs/guides/function-calling
//   (the chat format the fine-tuning lines use: a tool result is a `tool` message with `content`
//   and the `tool_call_id` of the call it answers; a call's `arguments` is JSON-encoded text).
#pragma once

#include <set>
#include <string>

#include "common/json.hpp"

namespace atlas::testing::trainer_rules {

inline bool is_message_list(const json::Value& v, const std::set<std::string>& roles) {
  if (!v.IsArray() || v.Empty()) return false;
  for (const auto& m : v.GetArray()) {
    if (!m.IsObject() || !m.HasMember("role") || !m["role"].IsString()) return false;
    if (!roles.count(m["role"].GetString())) return false;
    // TRL's chat templates read `content`; a tool-calling assistant turn may leave it out.
    if (m.HasMember("content") && !m["content"].IsString() && !m["content"].IsNull()) return false;
    if (!m.HasMember("content") && !m.HasMember("tool_calls")) return false;
  }
  return true;
}

inline const std::set<std::string>& trl_roles() {
  static const std::set<std::string> roles{"system", "user", "assistant", "tool"};
  return roles;
}

// TRL conversational language modelling (SFTTrainer): `messages`, ending on an assistant turn.
inline std::string trl_sft(const json::Value& row) {
  if (!row.HasMember("messages") || !is_message_list(row["messages"], trl_roles()))
    return "conversational language modelling needs `messages`, a list of {role, content}";
  const json::Value& m = row["messages"];
  for (rapidjson::SizeType i = 1; i < m.Size(); ++i)
    if (json::get_string(m[i], "role") == "system") return "a system message comes first";
  if (json::get_string(m[m.Size() - 1], "role") != "assistant") return "the conversation must end on the assistant";
  return "";
}

// TRL preference (DPOTrainer), explicit prompt: prompt, chosen, rejected; conversational.
inline std::string trl_preference(const json::Value& row) {
  for (const char* k : {"prompt", "chosen", "rejected"})
    if (!row.HasMember(k) || !is_message_list(row[k], trl_roles()))
      return std::string("preference needs `") + k + "` as a conversation";
  for (const char* k : {"chosen", "rejected"})
    for (const auto& m : row[k].GetArray())
      if (json::get_string(m, "role") == "user" || json::get_string(m, "role") == "system")
        return std::string("`") + k + "` holds the completion only (the prompt is explicit)";
  return "";
}

// TRL unpaired preference (KTOTrainer): prompt, completion, label (bool).
inline std::string trl_unpaired_preference(const json::Value& row) {
  if (!row.HasMember("prompt") || !is_message_list(row["prompt"], trl_roles()))
    return "unpaired preference needs `prompt` as a conversation";
  if (!row.HasMember("completion") || !is_message_list(row["completion"], trl_roles()))
    return "unpaired preference needs `completion` as a conversation";
  if (!row.HasMember("label") || !row["label"].IsBool()) return "`label` must be a bool (desirable or not)";
  return "";
}

// TRL stepwise supervision (PRMTrainer), standard format: prompt (string), completions
// (list of strings), labels (list of bools, one per completion).
inline std::string trl_stepwise_supervision(const json::Value& row) {
  if (!row.HasMember("prompt") || !row["prompt"].IsString()) return "stepwise supervision needs `prompt` as a string";
  if (!row.HasMember("completions") || !row["completions"].IsArray() || row["completions"].Empty())
    return "`completions` must be a non-empty list of strings";
  for (const auto& c : row["completions"].GetArray())
    if (!c.IsString()) return "`completions` must be a list of strings";
  if (!row.HasMember("labels") || !row["labels"].IsArray()) return "`labels` must be a list of bools";
  for (const auto& l : row["labels"].GetArray())
    if (!l.IsBool()) return "`labels` must be a list of bools";
  if (row["labels"].Size() != row["completions"].Size()) return "one label per completion";
  return "";
}

// GRPOTrainer: a prompt-only row whose other columns cannot shadow a reward-function argument.
inline std::string trl_grpo(const json::Value& row) {
  if (!row.HasMember("prompt") || !is_message_list(row["prompt"], trl_roles()))
    return "prompt-only needs `prompt` as a conversation";
  for (const char* reserved : {"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric"})
    if (row.HasMember(reserved))
      return std::string("column `") + reserved + "` collides with a reward-function argument";
  return "";
}

// OpenAI chat fine-tuning line.
inline std::string openai_chat(const json::Value& row) {
  static const std::set<std::string> keys{"messages", "tools", "parallel_tool_calls"};
  for (auto it = row.MemberBegin(); it != row.MemberEnd(); ++it)
    if (!keys.count(it->name.GetString())) return std::string("unknown key `") + it->name.GetString() + "`";
  static const std::set<std::string> roles{"system", "developer", "user", "assistant", "tool"};
  if (!row.HasMember("messages") || !is_message_list(row["messages"], roles)) return "`messages` is required";
  bool assistant = false;
  std::set<std::string> call_ids;  // tool calls made so far
  for (const auto& m : row["messages"].GetArray()) {
    const std::string role = json::get_string(m, "role");
    if (role == "tool") {
      if (!m.HasMember("content")) return "a tool message has `content`";
      if (!call_ids.count(json::get_string(m, "tool_call_id")))
        return "a tool message answers an earlier tool call by its `tool_call_id`";
    }
    if (m.HasMember("weight")) {
      if (role != "assistant") return "`weight` is for assistant messages only";
      if (!m["weight"].IsInt() || (m["weight"].GetInt() != 0 && m["weight"].GetInt() != 1)) return "`weight` is 0 or 1";
    }
    if (role == "assistant") assistant = true;
    if (m.HasMember("tool_calls"))
      for (const auto& c : m["tool_calls"].GetArray()) {
        if (!c["function"]["arguments"].IsString()) return "function arguments are a JSON string";
        if (!json::parse(c["function"]["arguments"].GetString(), "arguments").is_ok())
          return "function arguments are JSON text";
        call_ids.insert(json::get_string(c, "id"));
      }
  }
  return assistant ? "" : "at least one assistant message";
}

}  // namespace atlas::testing::trainer_rules
