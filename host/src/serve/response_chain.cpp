#include "serve/response_chain.hpp"

#include <unordered_set>
#include <vector>

#include "common/json.hpp"
#include "llm/wire.hpp"

namespace atlas::serve {

using json::Value;

void ResponseChain::remember(const std::string& response_id, const std::string& episode_id,
                             const std::string& previous_id, std::string input_items_json, const llm::Response& reply) {
  if (response_id.empty()) return;
  Entry e{episode_id, previous_id, std::move(input_items_json), responses_output_items(reply)};
  std::lock_guard<std::mutex> g(mu_);
  if (auto it = entries_.find(response_id); it != entries_.end()) {  // an upstream that reuses ids
    bytes_ -= it->second.bytes();
    it->second = std::move(e);
    bytes_ += it->second.bytes();
  } else {
    bytes_ += e.bytes();
    entries_.emplace(response_id, std::move(e));
    order_.push_back(response_id);
  }
  while (bytes_ > max_bytes_ && order_.size() > 1) forget_oldest_locked();
}

void ResponseChain::forget_oldest_locked() {
  if (auto it = entries_.find(order_.front()); it != entries_.end()) {
    bytes_ -= it->second.bytes();
    entries_.erase(it);
  }
  order_.pop_front();
}

Result<ResponseChain::Resolved> ResponseChain::resolve(const std::string& response_id) const {
  std::vector<const Entry*> links;  // newest first
  Resolved out;
  std::lock_guard<std::mutex> g(mu_);
  std::unordered_set<std::string> seen;
  for (std::string id = response_id; !id.empty();) {
    auto it = entries_.find(id);
    if (it == entries_.end())
      return not_found("previous_response_id \"" + id + "\"" +
                       (id == response_id ? "" : " (earlier in the chain of \"" + response_id + "\")") +
                       " was not relayed by this gateway since it started (or was forgotten: the gateway keeps the "
                       "newest " +
                       std::to_string(max_bytes_ >> 20) + " MiB of conversations)");
    if (!seen.insert(id).second) return invalid_argument("the response chain of \"" + response_id + "\" loops");
    links.push_back(&it->second);
    id = it->second.previous_id;
  }
  out.episode_id = links.front()->episode_id;
  out.items_json = "[]";
  for (auto it = links.rbegin(); it != links.rend(); ++it) {
    append_items(out.items_json, (*it)->input_json);
    append_items(out.items_json, (*it)->output_json);
  }
  return out;
}

size_t ResponseChain::bytes_for_testing() const {
  std::lock_guard<std::mutex> g(mu_);
  return bytes_;
}

void append_items(std::string& items, std::string_view more) {
  // Both are JSON arrays this file wrote (json::dump), so joining the text is joining the arrays.
  if (more.size() <= 2) return;  // "[]"
  items.pop_back();
  if (items.size() > 1) items += ',';
  items.append(more.substr(1));
}

std::string responses_input_items(const Value& input) {
  if (input.IsArray()) return json::dump(input);
  json::Document items;
  items.SetArray();
  auto& a = items.GetAllocator();
  if (input.IsString()) {
    Value m(rapidjson::kObjectType);
    m.AddMember("role", "user", a);
    m.AddMember("content", Value(input, a), a);
    items.PushBack(m, a);
  }
  return json::dump(items);
}

std::string responses_output_items(const llm::Response& reply) {
  json::Document items;
  items.SetArray();
  auto& a = items.GetAllocator();
  if (!reply.content.empty()) {
    Value m(rapidjson::kObjectType);
    m.AddMember("role", "assistant", a);
    m.AddMember("content", json::str(reply.content, a), a);
    items.PushBack(m, a);
  }
  for (const auto& call : reply.tool_calls) {
    Value c(rapidjson::kObjectType);
    c.AddMember("type", "function_call", a);
    c.AddMember("call_id", json::str(call.id, a), a);
    c.AddMember("name", json::str(call.name, a), a);
    c.AddMember("arguments", json::str(call.arguments_json, a), a);
    items.PushBack(c, a);
  }
  return json::dump(items);
}

std::string responses_reply_id(std::string_view body, bool stream) {
  if (!stream) {
    auto doc = json::parse(body, "Responses reply", json::kMaxInputDepth);
    return doc && doc->IsObject() ? json::get_string(*doc, "id") : "";
  }
  bool complete = false;
  for (const auto& ev : llm::split_sse(body, &complete)) {  // response.created names it first
    auto data = json::parse(ev.data, "Responses stream event", json::kMaxInputDepth);
    if (!data || !data->IsObject()) continue;
    if (const Value* response = json::find(*data, "response"); response && response->IsObject()) {
      std::string id = json::get_string(*response, "id");
      if (!id.empty()) return id;
    }
  }
  return "";
}

}  // namespace atlas::serve
