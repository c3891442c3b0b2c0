#include "llm/tokenize.hpp"

#include "common/json.hpp"
#include "llm/http_transport.hpp"

namespace atlas::llm {

std::string tokenize_url_for(std::string_view api_base) {
  std::string base(api_base);
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.size() >= 3 && base.compare(base.size() - 3, 3, "/v1") == 0) base.resize(base.size() - 3);
  return base + "/tokenize";
}

Result<std::vector<int64_t>> tokenize_chat(const std::string& url, std::string_view model,
                                           std::string_view request_json, double timeout_seconds) {
  ATLAS_ASSIGN_OR_RETURN(json::Document captured, json::parse(request_json, "captured request"));
  json::Document body(rapidjson::kObjectType);
  auto& a = body.GetAllocator();
  json::set(body, "model", model, a);
  const json::Value* messages = json::find(captured, "messages");
  if (!messages || !messages->IsArray())
    return invalid_argument("the captured request has no \"messages\"; it cannot be re-tokenised");
  body.AddMember("messages", json::Value(*messages, a), a);
  if (const json::Value* tools = json::find(captured, "tools"); tools && tools->IsArray())
    body.AddMember("tools", json::Value(*tools, a), a);
  body.AddMember("add_generation_prompt", true, a);
  static HttpTransport transport;
  HttpRequest req;
  req.url = url;
  req.headers = {"Content-Type: application/json", "Accept: application/json"};
  req.body = json::dump(body);
  req.total_timeout_ms = static_cast<long>(timeout_seconds * 1000.0);
  req.connect_timeout_ms = 10000;
  HttpResponse resp = transport.perform(req);
  if (resp.curl_code != 0)
    return unavailable("tokenizer at " + url + ": " + (resp.connected ? "connection failed: " : "cannot connect: ") +
                       resp.curl_error + " (is the model server running? set --tokenize-url)");
  if (resp.status == 404)
    return not_found("tokenizer at " + url +
                     ": HTTP 404; this server has no /tokenize endpoint (vLLM and "
                     "atlas-host mock-llm have one); no re-tokenisation is possible");
  if (resp.status != 200)
    return unavailable("tokenizer at " + url + ": HTTP " + std::to_string(resp.status) + ": " +
                       resp.body.substr(0, 300));
  ATLAS_ASSIGN_OR_RETURN(json::Document doc, json::parse(resp.body, "tokenize reply", json::kMaxInputDepth));
  const json::Value* tokens = json::find(doc, "tokens");
  if (!tokens || !tokens->IsArray()) return unavailable("tokenizer at " + url + ": the reply has no \"tokens\" array");
  std::vector<int64_t> out;
  out.reserve(tokens->Size());
  for (const auto& t : tokens->GetArray()) {
    if (!t.IsInt64()) return unavailable("tokenizer at " + url + ": \"tokens\" holds a non-integer");
    out.push_back(t.GetInt64());
  }
  return out;
}

}  // namespace atlas::llm
