#include "mcp/tool_loop.hpp"

#include <cctype>
#include <chrono>
#include <map>

#include "common/secrets.hpp"

namespace atlas::mcp {
namespace {

constexpr size_t kEventResultLimit = 32 * 1024;

std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c : '_');
  return out;
}

}  // namespace

std::string exposed_tool_name(std::string_view server, std::string_view tool, bool prefix) {
  std::string name = prefix ? sanitize(server) + "__" + sanitize(tool) : sanitize(tool);
  if (name.size() > 64) name.resize(64);  // OpenAI's limit; collisions are detected by ToolSet
  return name;
}

Result<std::unique_ptr<ToolSet>> ToolSet::start(const std::vector<ServerConfig>& servers, ClientInfo info) {
  std::vector<std::unique_ptr<Client>> clients;
  for (const auto& s : servers) {
    auto c = Client::start(s, info);
    if (!c.is_ok()) return c.status();  // already-started clients stop in their destructors
    clients.push_back(std::move(c).value());
  }
  return from_clients(std::move(clients));
}

Result<std::unique_ptr<ToolSet>> ToolSet::from_clients(std::vector<std::unique_ptr<Client>> clients) {
  auto set = std::make_unique<ToolSet>();
  bool prefix = clients.size() > 1;
  std::map<std::string, std::string> owner;  // exposed name -> "server/tool"
  for (auto& c : clients) {
    auto tools = c->list_tools();
    if (!tools.is_ok()) return tools.status();
    for (auto& t : tools.value()) {
      Entry e{exposed_tool_name(c->config().name, t.name, prefix), c->config().name, std::move(t)};
      std::string who = e.server + "/" + e.tool.name;
      auto [it, fresh] = owner.emplace(e.exposed_name, who);
      if (!fresh)
        return failed_precondition("MCP tools '" + it->second + "' and '" + who + "' both map to the tool name '" +
                                   e.exposed_name + "'; rename one server or drop one of them from agent.mcp_servers");
      set->entries_.push_back(std::move(e));
    }
  }
  set->clients_ = std::move(clients);
  return set;
}

const ToolSet::Entry* ToolSet::find(std::string_view exposed_name) const {
  for (const auto& e : entries_)
    if (e.exposed_name == exposed_name) return &e;
  return nullptr;
}

Client* ToolSet::client(std::string_view server_name) {
  for (auto& c : clients_)
    if (c->config().name == server_name) return c.get();
  return nullptr;
}

std::string ToolSet::tools_json() const {
  json::Document arr(rapidjson::kArrayType);
  auto& a = arr.GetAllocator();
  for (const auto& e : entries_) {
    json::Value t(rapidjson::kObjectType);
    json::set(t, "name", e.exposed_name, a);
    json::set(t, "description", e.tool.description.empty() ? e.tool.title : e.tool.description, a);
    json::Document schema;
    sdk::parse_json(schema, e.tool.input_schema_json);
    json::Value params;
    if (!schema.HasParseError() && schema.IsObject()) {
      params.CopyFrom(schema, a);
      // Providers reject the draft marker on function parameters; the schema itself stays.
      params.RemoveMember("$schema");
    } else {
      params.SetObject();
      json::set(params, "type", "object", a);
    }
    json::set(t, "parameters", std::move(params), a);
    arr.PushBack(std::move(t), a);
  }
  return json::dump(arr);
}

Result<ToolResult> ToolSet::call(std::string_view exposed_name, std::string_view arguments_json) {
  const Entry* e = find(exposed_name);
  if (!e) return not_found("no MCP tool named '" + std::string(exposed_name) + "'");
  Client* c = client(e->server);
  return c->call_tool(e->tool.name, arguments_json);
}

Result<ToolLoopResult> run_tool_loop(const AdapterInvoke& invoke, std::string_view request_json, ToolSet& tools,
                                     const ToolLoopOptions& options, const EventSink& on_event) {
  auto parsed = json::parse(request_json, "adapter request");
  if (!parsed.is_ok()) return parsed.status();
  json::Document req = std::move(parsed).value();
  if (!req.IsObject()) return invalid_argument("adapter request must be a JSON object");
  auto& a = req.GetAllocator();

  // tools = caller's tools + MCP tools
  json::Value all_tools(rapidjson::kArrayType);
  if (const auto* t = json::find(req, "tools"); t && t->IsArray())
    for (const auto& tool : t->GetArray()) {
      std::string name = json::get_string(tool, "name");
      if (tools.find(name))
        return invalid_argument("the request already has a tool named '" + name +
                                "', which is also an MCP tool; rename one of them");
      json::Value copy;
      copy.CopyFrom(tool, a);
      all_tools.PushBack(std::move(copy), a);
    }
  {
    json::Document mcp_tools;
    sdk::parse_json(mcp_tools, tools.tools_json());
    for (auto& t : mcp_tools.GetArray()) {
      json::Value copy;
      copy.CopyFrom(t, a);
      all_tools.PushBack(std::move(copy), a);
    }
  }
  json::set(req, "tools", std::move(all_tools), a);
  if (!json::find(req, "messages") || !req["messages"].IsArray()) json::set(req, "messages", json::Value(rapidjson::kArrayType), a);

  ToolLoopResult out;
  int64_t usage_prompt = 0, usage_completion = 0, usage_total = 0;
  int rounds = 0;
  for (;;) {
    auto resp_text = invoke(json::dump(req));
    ++out.turns;
    if (!resp_text.is_ok()) return resp_text.status();
    auto resp_parsed = json::parse(resp_text.value(), "adapter response");
    if (!resp_parsed.is_ok()) return resp_parsed.status();
    json::Document resp = std::move(resp_parsed).value();
    if (!resp.IsObject()) return internal_error("adapter response is not a JSON object");
    auto& ra = resp.GetAllocator();
    if (const auto* u = json::find(resp, "usage")) {
      usage_prompt += json::get_int(*u, "prompt_tokens");
      usage_completion += json::get_int(*u, "completion_tokens");
      usage_total += json::get_int(*u, "total_tokens");
    }

    const json::Value* calls = json::find(resp, "tool_calls");
    bool has_calls = calls && calls->IsArray() && !calls->Empty();
    bool all_mcp = has_calls;
    if (has_calls)
      for (const auto& c : calls->GetArray()) all_mcp = all_mcp && tools.find(json::get_string(c, "name")) != nullptr;

    // assistant turn into the transcript
    json::Value assistant(rapidjson::kObjectType);
    json::set(assistant, "role", "assistant", a);
    json::set(assistant, "content", json::get_string(resp, "content"), a);
    if (has_calls) {
      json::Value tc(rapidjson::kArrayType);
      int i = 0;
      for (const auto& c : calls->GetArray()) {
        json::Value call(rapidjson::kObjectType);
        std::string id = json::get_string(c, "id");
        if (id.empty()) id = "call_" + std::to_string(out.turns) + "_" + std::to_string(i);
        json::set(call, "id", id, a);
        json::set(call, "name", json::get_string(c, "name"), a);
        json::Value args(rapidjson::kObjectType);
        if (const auto* av = json::find(c, "arguments")) {
          if (av->IsObject()) {
            args.CopyFrom(*av, a);
          } else if (av->IsString()) {  // tolerate providers that send a string
            json::Document d;
            sdk::parse_json(d, {av->GetString(), av->GetStringLength()}, json::kMaxInputDepth);
            if (!d.HasParseError() && d.IsObject()) args.CopyFrom(d, a);
          }
        }
        json::set(call, "arguments", std::move(args), a);
        tc.PushBack(std::move(call), a);
        ++i;
      }
      json::set(assistant, "tool_calls", std::move(tc), a);
    }
    req["messages"].PushBack(std::move(assistant), a);

    if (!has_calls || !all_mcp || rounds >= options.max_turns) {
      out.bound_reached = has_calls && all_mcp;
      json::Value usage(rapidjson::kObjectType);
      json::set(usage, "prompt_tokens", usage_prompt, ra);
      json::set(usage, "completion_tokens", usage_completion, ra);
      json::set(usage, "total_tokens", usage_total, ra);
      json::set(resp, "usage", std::move(usage), ra);
      out.response_json = json::dump(resp);
      out.messages_json = json::dump(req["messages"]);
      return out;
    }
    ++rounds;

    // execute the calls of this turn, in order
    const json::Value& recorded = req["messages"][req["messages"].Size() - 1]["tool_calls"];
    std::vector<json::Value> tool_messages;
    for (const auto& c : recorded.GetArray()) {
      std::string exposed = c["name"].GetString();
      std::string args_text = json::dump(c["arguments"]);
      const ToolSet::Entry* entry = tools.find(exposed);
      auto t0 = std::chrono::steady_clock::now();
      auto r = tools.call(exposed, args_text);
      double latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      ++out.tool_calls;
      std::string text;
      bool is_error = false;
      if (r.is_ok()) {
        text = secrets::redact(r->text);
        is_error = r->is_error;
      } else {
        text = "tool call failed: " + secrets::redact(r.status().message());
        is_error = true;
      }
      json::Value msg(rapidjson::kObjectType);
      json::set(msg, "role", "tool", a);
      json::set(msg, "tool_call_id", json::get_string(c, "id"), a);
      json::set(msg, "name", exposed, a);
      json::set(msg, "content", text, a);
      tool_messages.push_back(std::move(msg));

      if (on_event) {
        json::Document ev(rapidjson::kObjectType);
        auto& ea = ev.GetAllocator();
        json::set(ev, "type", "tool_call", ea);
        json::set(ev, "server", entry->server, ea);
        json::set(ev, "tool", entry->tool.name, ea);
        json::set(ev, "exposed_name", exposed, ea);
        json::set(ev, "call_id", json::get_string(c, "id"), ea);
        json::Value args;
        args.CopyFrom(c["arguments"], ea);
        json::set(ev, "arguments", std::move(args), ea);
        bool truncated = text.size() > kEventResultLimit;
        json::set(ev, "result", truncated ? text.substr(0, kEventResultLimit) : text, ea);
        if (truncated) json::set(ev, "result_truncated", true, ea);
        json::set(ev, "is_error", is_error, ea);
        json::set(ev, "latency_ms", static_cast<int64_t>(latency_ms + 0.5), ea);
        json::set(ev, "turn", rounds, ea);
        on_event(secrets::redact(json::dump(ev)));
      }
    }
    for (auto& m : tool_messages) req["messages"].PushBack(std::move(m), a);
  }
}

}  // namespace atlas::mcp
