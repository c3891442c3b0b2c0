#include "mcp/mcp_client.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <set>

#include "common/log.hpp"
#include "config/config.hpp"
#include "common/secrets.hpp"
#include "mcp/child_process.hpp"

namespace atlas::mcp {
namespace {

constexpr const char* kStatelessVersion = "2026-07-28";
constexpr const char* kLegacyVersion = "2025-11-25";
const std::set<std::string> kLegacyVersions = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"};
constexpr const char* kLog = "mcp";

int64_t to_ms(double seconds) { return static_cast<int64_t>(seconds * 1000.0); }

std::string tail(const std::string& s, size_t n) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

}  // namespace

// ---- the JSON-RPC session ----------------------------------------------------------------

class Client::Impl {
 public:
  ServerConfig config;
  ClientInfo info;
  ChildProcess proc;
  std::mutex mu;
  int64_t next_id = 1;
  std::string protocol_version;
  bool stateless = false;
  std::string server_name;

  std::string describe() const {
    std::string cmd = config.command;
    for (const auto& a : config.args) cmd += " " + a;
    return "MCP server '" + config.name + "' (" + cmd + ")";
  }

  // Decorates a transport failure with what the process did and what it printed.
  Status transport_error(const Status& st, std::string_view method) {
    std::string msg = describe() + ": " + st.message() + " while waiting for '" + std::string(method) + "'";
    std::string exit = proc.exit_description();
    if (!exit.empty()) msg += "; the server is gone (" + exit + ")";
    std::string err = proc.stderr_tail();
    if (!err.empty()) msg += "; stderr tail: " + tail(err, 800);
    return Status(st.code(), secrets::redact(msg));
  }

  void add_meta(json::Value& params, json::Allocator& a) {
    json::Value meta(rapidjson::kObjectType);
    json::set(meta, "io.modelcontextprotocol/protocolVersion", kStatelessVersion, a);
    json::set(meta, "io.modelcontextprotocol/clientCapabilities", json::Value(rapidjson::kObjectType), a);
    json::Value ci(rapidjson::kObjectType);
    json::set(ci, "name", info.name, a);
    json::set(ci, "version", info.version, a);
    json::set(meta, "io.modelcontextprotocol/clientInfo", std::move(ci), a);
    json::set(params, "_meta", std::move(meta), a);
  }

  Status send(json::Document& msg) {
    std::string line = json::dump(msg);  // RapidJSON escapes newlines: one message per line
    line.push_back('\n');
    return proc.write_all(line);
  }

  // One incoming message; accepts LSP-style Content-Length framing from old servers.
  Result<json::Document> read_message(int64_t deadline) {
    for (;;) {
      ATLAS_ASSIGN_OR_RETURN(std::string line, proc.read_line(deadline));
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      if (starts_with_ci(line, "Content-Length:")) {
        size_t n = static_cast<size_t>(std::strtoull(line.c_str() + 15, nullptr, 10));
        for (;;) {  // remaining headers up to the blank line
          ATLAS_ASSIGN_OR_RETURN(std::string h, proc.read_line(deadline));
          if (h.empty()) break;
        }
        ATLAS_ASSIGN_OR_RETURN(line, proc.read_exact(n, deadline));
      }
      auto doc = json::parse(line, "MCP message", json::kMaxInputDepth);
      if (!doc.is_ok() || !doc->IsObject()) {
        log::debug(kLog, describe() + ": ignoring a non-JSON-RPC line on stdout: " + tail(line, 200));
        continue;
      }
      return std::move(doc).value();
    }
  }

  // Answers a server-to-client request: we offer no client capabilities.
  void answer_server_request(const json::Value& msg) {
    json::Document reply(rapidjson::kObjectType);
    auto& a = reply.GetAllocator();
    json::set(reply, "jsonrpc", "2.0", a);
    json::Value id;
    id.CopyFrom(msg["id"], a);
    json::set(reply, "id", std::move(id), a);
    std::string method = json::get_string(msg, "method");
    if (method == "ping") {
      json::set(reply, "result", json::Value(rapidjson::kObjectType), a);
    } else {
      json::Value err(rapidjson::kObjectType);
      json::set(err, "code", -32601, a);
      json::set(err, "message", "atlas-host does not offer '" + method + "'", a);
      json::set(reply, "error", std::move(err), a);
    }
    (void)send(reply);
  }

  void cancel(int64_t id, std::string_view reason) {
    json::Document n(rapidjson::kObjectType);
    auto& a = n.GetAllocator();
    json::set(n, "jsonrpc", "2.0", a);
    json::set(n, "method", "notifications/cancelled", a);
    json::Value p(rapidjson::kObjectType);
    json::set(p, "requestId", id, a);
    json::set(p, "reason", reason, a);
    if (stateless) add_meta(p, a);
    json::set(n, "params", std::move(p), a);
    (void)send(n);
  }

  // Sends a request and waits for its response message (result or error object inside).
  Result<json::Document> request(std::string_view method, const json::Value& params, int64_t timeout_ms,
                                 bool with_meta) {
    json::Document msg(rapidjson::kObjectType);
    auto& a = msg.GetAllocator();
    int64_t id = next_id++;
    json::set(msg, "jsonrpc", "2.0", a);
    json::set(msg, "id", id, a);
    json::set(msg, "method", method, a);
    json::Value p;
    p.CopyFrom(params, a);
    if (!p.IsObject()) p.SetObject();
    if (with_meta) add_meta(p, a);
    json::set(msg, "params", std::move(p), a);
    if (Status st = send(msg); !st.is_ok()) return transport_error(st, method);
    int64_t deadline = ChildProcess::now_ms() + timeout_ms;
    for (;;) {
      auto in = read_message(deadline);
      if (!in.is_ok()) {
        if (in.status().code() == StatusCode::kDeadlineExceeded) {
          cancel(id, "timeout");
          return transport_error(deadline_exceeded("no response within " + std::to_string(timeout_ms) + " ms"),
                                 method);
        }
        return transport_error(in.status(), method);
      }
      json::Document& m = in.value();
      const json::Value* mid = json::find(m, "id");
      bool has_method = json::find(m, "method") != nullptr;
      if (has_method && mid) {
        answer_server_request(m);
        continue;
      }
      if (has_method) continue;  // notification (list_changed, logging, progress)
      if (mid && mid->IsInt64() && mid->GetInt64() == id) return std::move(in).value();
      // A late answer to an earlier (timed-out) request: drop it.
    }
  }

  Result<json::Document> request(std::string_view method, const json::Value& params, int64_t timeout_ms) {
    return request(method, params, timeout_ms, stateless);
  }

  Status notify(std::string_view method) {
    json::Document n(rapidjson::kObjectType);
    auto& a = n.GetAllocator();
    json::set(n, "jsonrpc", "2.0", a);
    json::set(n, "method", method, a);
    return send(n);
  }

  static Status rpc_error(const std::string& who, std::string_view method, const json::Value& err) {
    int64_t code = json::get_int(err, "code");
    std::string message = json::get_string(err, "message", "no message");
    std::string text = who + ": '" + std::string(method) + "' failed with JSON-RPC error " + std::to_string(code) +
                       ": " + message;
    if (const auto* data = json::find(err, "data")) text += " (data: " + tail(json::dump(*data), 400) + ")";
    StatusCode sc = code == -32601 ? StatusCode::kUnimplemented
                    : code == -32602 ? StatusCode::kInvalidArgument
                                     : StatusCode::kInternal;
    return Status(sc, secrets::redact(text));
  }

  // Returns the "result" object of a response, or the mapped error.
  Result<json::Document> result_of(std::string_view method, Result<json::Document> resp) {
    if (!resp.is_ok()) return resp.status();
    json::Document& m = resp.value();
    if (const auto* err = json::find(m, "error")) return rpc_error(describe(), method, *err);
    const auto* r = json::find(m, "result");
    if (!r || !r->IsObject())
      return internal_error(describe() + ": response to '" + std::string(method) + "' has no result object");
    if (json::get_string(*r, "resultType", "complete") == "input_required")
      return failed_precondition(describe() + ": '" + std::string(method) +
                                 "' asked the client for input (elicitation/sampling/roots), which atlas-host "
                                 "does not provide; configure the server so the tool runs without it");
    json::Document out;
    out.CopyFrom(*r, out.GetAllocator());
    return out;
  }

  Status handshake() {
    int64_t startup = to_ms(config.startup_timeout_seconds);
    // 1. stateless discovery (2026-07-28); anything but a DiscoverResult naming our version
    //    means a legacy server. Legacy servers answer -32601 at once; the timeout only bounds
    //    servers that ignore unknown methods.
    {
      json::Document params(rapidjson::kObjectType);
      int64_t discover_timeout = std::min<int64_t>(startup, 10'000);
      auto resp = request("server/discover", params, discover_timeout, true);
      if (!resp.is_ok() && resp.status().code() != StatusCode::kDeadlineExceeded) return resp.status();
      if (resp.is_ok()) {
        if (const auto* r = json::find(*resp, "result")) {
          const auto* versions = json::find(*r, "supportedVersions");
          bool ours = false;
          if (versions && versions->IsArray())
            for (const auto& v : versions->GetArray()) ours = ours || (v.IsString() && v.GetString() == std::string(kStatelessVersion));
          if (ours) {
            stateless = true;
            protocol_version = kStatelessVersion;
            if (const auto* si = json::find(*r, "serverInfo")) server_name = json::get_string(*si, "name");
            log::debug(kLog, describe() + ": stateless protocol " + protocol_version);
            return Status::ok();
          }
        }
      }
    }
    // 2. legacy handshake
    json::Document params(rapidjson::kObjectType);
    auto& a = params.GetAllocator();
    json::set(params, "protocolVersion", kLegacyVersion, a);
    json::set(params, "capabilities", json::Value(rapidjson::kObjectType), a);
    json::Value ci(rapidjson::kObjectType);
    json::set(ci, "name", info.name, a);
    json::set(ci, "version", info.version, a);
    json::set(params, "clientInfo", std::move(ci), a);
    auto r = result_of("initialize", request("initialize", params, startup));
    if (!r.is_ok()) return r.status();
    protocol_version = json::get_string(*r, "protocolVersion");
    if (!kLegacyVersions.count(protocol_version))
      return failed_precondition(describe() + ": the server speaks MCP protocol version '" + protocol_version +
                                 "', which atlas-host does not support (supported: 2024-11-05, 2025-03-26, "
                                 "2025-06-18, 2025-11-25, 2026-07-28)");
    if (const auto* si = json::find(*r, "serverInfo")) server_name = json::get_string(*si, "name");
    if (Status st = notify("notifications/initialized"); !st.is_ok())
      return transport_error(st, "notifications/initialized");
    log::debug(kLog, describe() + ": legacy protocol " + protocol_version);
    return Status::ok();
  }
};

// ---- Client ------------------------------------------------------------------------------

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() { shutdown(); }

Result<std::unique_ptr<Client>> Client::start(const ServerConfig& config, ClientInfo info) {
  if (config.command.empty())
    return invalid_argument("MCP server '" + config.name + "': 'command' is empty; set the program to start");
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->info = std::move(info);
  ChildProcess::Options opts;
  opts.argv.push_back(config.command);
  opts.argv.insert(opts.argv.end(), config.args.begin(), config.args.end());
  opts.env = config.env;
  opts.cwd = config.cwd;
  if (Status st = impl->proc.start(opts); !st.is_ok()) return st.with_context(impl->describe());
  if (Status st = impl->handshake(); !st.is_ok()) {
    impl->proc.stop(500);
    return st;
  }
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

const ServerConfig& Client::config() const { return impl_->config; }
const std::string& Client::protocol_version() const { return impl_->protocol_version; }
bool Client::stateless() const { return impl_->stateless; }
const std::string& Client::server_name() const { return impl_->server_name; }

std::string Client::stderr_tail() const {
  std::lock_guard lock(impl_->mu);
  return impl_->proc.stderr_tail();
}

void Client::shutdown() {
  if (!impl_) return;
  std::lock_guard lock(impl_->mu);
  impl_->proc.stop(2000);
}

Result<std::vector<Tool>> Client::list_tools() {
  std::lock_guard lock(impl_->mu);
  std::vector<Tool> tools;
  std::string cursor;
  std::set<std::string> seen_cursors;
  for (int page = 0; page < 1000; ++page) {
    json::Document params(rapidjson::kObjectType);
    if (!cursor.empty()) json::set(params, "cursor", cursor, params.GetAllocator());
    auto r = impl_->result_of("tools/list", impl_->request("tools/list", params, to_ms(impl_->config.timeout_seconds)));
    if (!r.is_ok()) return r.status();
    const auto* list = json::find(*r, "tools");
    if (!list || !list->IsArray()) return internal_error(impl_->describe() + ": tools/list result has no 'tools' array");
    for (const auto& t : list->GetArray()) {
      Tool tool;
      tool.name = json::get_string(t, "name");
      if (tool.name.empty()) continue;
      tool.title = json::get_string(t, "title");
      tool.description = json::get_string(t, "description");
      if (const auto* s = json::find(t, "inputSchema"); s && s->IsObject()) tool.input_schema_json = json::dump(*s);
      if (const auto* an = json::find(t, "annotations"); an && an->IsObject()) tool.annotations_json = json::dump(*an);
      tools.push_back(std::move(tool));
    }
    cursor = json::get_string(*r, "nextCursor");
    if (cursor.empty()) return tools;
    if (!seen_cursors.insert(cursor).second)
      return internal_error(impl_->describe() + ": tools/list returned cursor '" + cursor + "' twice (pagination loop)");
  }
  return internal_error(impl_->describe() + ": tools/list did not finish after 1000 pages");
}

Result<ToolResult> Client::call_tool(std::string_view name, std::string_view arguments_json) {
  json::Document params(rapidjson::kObjectType);
  auto& a = params.GetAllocator();
  json::set(params, "name", name, a);
  json::Value args(rapidjson::kObjectType);
  if (!arguments_json.empty()) {
    auto parsed = json::parse(arguments_json, "tool arguments");
    if (!parsed.is_ok()) return parsed.status();
    if (!parsed->IsObject()) return invalid_argument("tool arguments for '" + std::string(name) + "' must be a JSON object");
    args.CopyFrom(*parsed, a);
  }
  json::set(params, "arguments", std::move(args), a);
  std::lock_guard lock(impl_->mu);
  auto r = impl_->result_of("tools/call", impl_->request("tools/call", params, to_ms(impl_->config.timeout_seconds)));
  if (!r.is_ok()) return r.status();
  return tool_result_from_json(*r);
}

ToolResult tool_result_from_json(const json::Value& result) {
  ToolResult out;
  out.raw_json = json::dump(result);
  out.is_error = json::get_bool(result, "isError");
  std::string text;
  auto add = [&](const std::string& piece) {
    if (!text.empty()) text += "\n";
    text += piece;
  };
  bool any_text = false;
  if (const auto* content = json::find(result, "content"); content && content->IsArray()) {
    for (const auto& block : content->GetArray()) {
      std::string type = json::get_string(block, "type");
      if (type == "text") {
        add(json::get_string(block, "text"));
        any_text = true;
      } else if (type == "image" || type == "audio") {
        add("[" + type + " " + json::get_string(block, "mimeType", "unknown type") + ", " +
            std::to_string(json::get_string(block, "data").size() * 3 / 4) + " bytes]");
      } else if (type == "resource_link") {
        add("[resource_link " + json::get_string(block, "uri") + " " + json::get_string(block, "name") + "]");
      } else if (type == "resource") {
        const auto* res = json::find(block, "resource");
        if (res && json::find(*res, "text")) {
          add(json::get_string(*res, "text"));
          any_text = true;
        } else if (res) {
          add("[resource " + json::get_string(*res, "uri") + " (" + json::get_string(*res, "mimeType", "binary") + ")]");
        }
      }
    }
  }
  if (const auto* sc = json::find(result, "structuredContent"); sc && !sc->IsNull()) {
    // The spec asks servers to mirror structuredContent in a text block, and servers that do
    // often use a readable text instead of the JSON; encode it only when no text came with it.
    if (!any_text) add(json::dump(*sc));
  }
  out.text = std::move(text);
  return out;
}

// ---- config ------------------------------------------------------------------------------

Result<std::vector<ServerConfig>> parse_server_configs(const json::Value& array) {
  if (!array.IsArray()) return invalid_argument("agent.mcp_servers must be an array of tables [{name, command, ...}]");
  std::vector<ServerConfig> out;
  std::set<std::string> names;
  static const std::set<std::string> kKeys = {"name", "command", "args", "env", "cwd", "timeout_seconds",
                                              "startup_timeout_seconds"};
  for (rapidjson::SizeType i = 0; i < array.Size(); ++i) {
    const auto& e = array[i];
    std::string where = "agent.mcp_servers[" + std::to_string(i) + "]";
    if (!e.IsObject()) return invalid_argument(where + " must be a table with at least name and command");
    for (const auto& m : e.GetObject())
      if (!kKeys.count(m.name.GetString()))
        return invalid_argument(where + ": unknown key '" + std::string(m.name.GetString()) +
                                "' (allowed: name, command, args, env, cwd, timeout_seconds, startup_timeout_seconds)");
    ServerConfig c;
    c.name = json::get_string(e, "name");
    if (c.name.empty() || !std::all_of(c.name.begin(), c.name.end(), [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
        }))
      return invalid_argument(where + ".name must be non-empty and use only letters, digits, '_' and '-' (got '" +
                              c.name + "')");
    if (c.name.find("__") != std::string::npos)
      return invalid_argument(where + ".name '" + c.name + "' must not contain '__' (used to prefix tool names)");
    if (!names.insert(c.name).second) return invalid_argument(where + ".name '" + c.name + "' is used twice");
    c.command = json::get_string(e, "command");
    if (c.command.empty()) return invalid_argument(where + ".command is required (the server program, e.g. \"npx\")");
    if (const auto* args = json::find(e, "args")) {
      if (!args->IsArray()) return invalid_argument(where + ".args must be an array of strings");
      for (const auto& a : args->GetArray()) {
        if (!a.IsString()) return invalid_argument(where + ".args must be an array of strings");
        c.args.emplace_back(a.GetString(), a.GetStringLength());
      }
    }
    if (const auto* env = json::find(e, "env")) {
      if (!env->IsObject()) return invalid_argument(where + ".env must be a table of strings");
      for (const auto& m : env->GetObject()) {
        if (!m.value.IsString()) return invalid_argument(where + ".env." + m.name.GetString() + " must be a string");
        c.env[m.name.GetString()] = m.value.GetString();
      }
    }
    c.cwd = json::get_string(e, "cwd");
    c.timeout_seconds = json::get_double(e, "timeout_seconds", c.timeout_seconds);
    c.startup_timeout_seconds = json::get_double(e, "startup_timeout_seconds", c.startup_timeout_seconds);
    if (!(c.timeout_seconds > 0) || !(c.startup_timeout_seconds > 0))
      return invalid_argument(where + ": timeout_seconds and startup_timeout_seconds must be > 0");
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<ServerConfig> servers(const config::Config& config) {
  std::vector<ServerConfig> out;
  out.reserve(config.agent.mcp_servers.size());
  for (const auto& c : config.agent.mcp_servers) {
    ServerConfig s;
    s.name = c.name;
    s.command = c.command;
    s.args = c.args;
    s.env = c.env;
    s.cwd = c.cwd;
    s.timeout_seconds = c.timeout_seconds;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace atlas::mcp
