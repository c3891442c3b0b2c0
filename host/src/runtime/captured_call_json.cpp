#include "runtime/captured_call_json.hpp"

#include "common/json.hpp"
#include "llm/llm_json.hpp"

namespace atlas::runtime {

using json::Value;

std::string captured_call_to_json(const CapturedCall& call) {
  llm::Request conversation;
  conversation.messages = call.messages;
  conversation.tools = call.tools;
  json::Document d;
  d.SetObject();
  if (auto parsed = json::parse(llm::request_to_json(conversation), "captured conversation");
      parsed && parsed->IsObject())
    d.CopyFrom(*parsed, d.GetAllocator());
  auto& a = d.GetAllocator();
  d.RemoveMember("role");
  json::set(d, "wire", call.wire, a);
  json::set(d, "model", call.model, a);
  json::set(d, "system_injected", call.system_injected, a);
  json::set(d, "ok", call.ok, a);
  json::set(d, "error", call.error, a);
  Value reply;
  llm::response_to_value(call.reply, reply, a);
  json::set(d, "reply", std::move(reply), a);
  if (call.reply.tokens.requested)  // token capture, as the session's llm_call event stores it
    json::set(d, "tokens", json::parsed_or_null(llm::token_capture_json(call.reply.tokens), a), a);
  json::set(d, "latency_seconds", call.latency_seconds, a);
  json::set(d, "started_us", call.started_us, a);
  json::set(d, "ended_us", call.ended_us, a);
  json::set(d, "streamed", call.streamed, a);
  Value rejected(rapidjson::kArrayType);
  for (const auto& r : call.rejected) {
    Value o(rapidjson::kObjectType);
    json::set(o, "output", r.output, a);
    json::set(o, "verdict", r.verdict_json, a);
    json::set(o, "guidance", r.guidance, a);
    rejected.PushBack(std::move(o), a);
  }
  json::set(d, "rejected", std::move(rejected), a);
  json::set(d, "guidance_before_call", call.guidance_before_call, a);
  json::set(d, "final_verdict", call.final_verdict_json, a);
  json::set(d, "final_accepted", call.final_accepted, a);
  return json::dump(d);
}

Result<CapturedCall> captured_call_from_json(std::string_view text) {
  ATLAS_ASSIGN_OR_RETURN(json::Document d, json::parse(text, "captured call"));
  if (!d.IsObject()) return invalid_argument("captured call: must be a JSON object");
  CapturedCall call;
  if (json::find(d, "messages")) {
    ATLAS_ASSIGN_OR_RETURN(llm::Request conversation, llm::captured_conversation_from_json(d));
    call.messages = std::move(conversation.messages);
    call.tools = std::move(conversation.tools);
  }
  call.wire = json::get_string(d, "wire");
  call.model = json::get_string(d, "model");
  call.system_injected = json::get_string(d, "system_injected");
  call.ok = json::get_bool(d, "ok", true);
  call.error = json::get_string(d, "error");
  if (const Value* reply = json::find(d, "reply")) {
    ATLAS_ASSIGN_OR_RETURN(call.reply, llm::response_from_json(*reply));
  }
  if (const Value* tokens = json::find(d, "tokens"); tokens && tokens->IsObject())
    call.reply.tokens = llm::read_token_capture(*tokens);
  call.latency_seconds = json::get_double(d, "latency_seconds");
  call.started_us = json::get_int(d, "started_us");
  call.ended_us = json::get_int(d, "ended_us");
  call.streamed = json::get_bool(d, "streamed");
  if (const Value* rejected = json::find(d, "rejected"); rejected && rejected->IsArray()) {
    for (const Value& r : rejected->GetArray())
      call.rejected.push_back(
          {json::get_string(r, "output"), json::get_string(r, "verdict"), json::get_string(r, "guidance")});
  }
  call.guidance_before_call = json::get_string(d, "guidance_before_call");
  call.final_verdict_json = json::get_string(d, "final_verdict");
  call.final_accepted = json::get_bool(d, "final_accepted", true);
  return call;
}

}  // namespace atlas::runtime
