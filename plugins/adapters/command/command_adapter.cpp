// command adapter: runs the user's agent program as a child process and speaks JSON lines
// with it (one adapter request per line on stdin, one response per line on stdout). The
// protocol is documented in README.md next to this file.
#include <atlas/child_process.hpp>
#include <atlas/sdk.hpp>

#include <atlas/json_parse.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

namespace {

using Child = atlas::sdk::ChildProcess;
using ReadResult = atlas::sdk::ChildProcess::Read;

constexpr const char* kSchema = R"({
  "type": "object",
  "properties": {
    "command": {"type": ["array", "string"], "items": {"type": "string"}, "minItems": 1, "minLength": 1,
                "description": "argv list, or one string run with /bin/sh -c"},
    "cwd": {"type": "string"},
    "env": {"type": "object", "additionalProperties": {"type": "string"},
            "description": "extra environment; values may reference ${VAR} from the host's environment"},
    "timeout_seconds": {"type": "number", "minimum": 0.01, "default": 120},
    "restart_on_failure": {"type": "boolean", "default": true},
    "stderr_limit_bytes": {"type": "integer", "minimum": 256, "default": 65536},
    "kill_grace_seconds": {"type": "number", "minimum": 0, "default": 2}
  },
  "required": ["command"],
  "additionalProperties": false
})";

std::string dump(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

std::string tail(const std::string& s, size_t n) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }

// "${VAR}" -> value of VAR in the host environment ("" when unset).
std::string expand_env(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size();) {
    if (in.compare(i, 2, "${") == 0) {
      size_t close = in.find('}', i + 2);
      if (close != std::string::npos) {
        const char* v = std::getenv(in.substr(i + 2, close - i - 2).c_str());
        out += v ? v : "";
        i = close + 1;
        continue;
      }
    }
    out.push_back(in[i++]);
  }
  return out;
}

// Seconds from the config as milliseconds; a value that is not positive or longer than a day
// is refused (1e30 would not even convert).
int64_t milliseconds_in_range(double seconds, const char* key) {
  if (!(seconds > 0 && seconds <= 86400))
    throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, std::string("command adapter: '") + key +
                                                        "' must be a number of seconds above 0 and at most 86400");
  return static_cast<int64_t>(seconds * 1000.0);
}

class CommandAdapter : public atlas::sdk::Adapter {
 public:
  static constexpr atlas::sdk::Info info{"command",
                                         "1.0.0",
                                         "atlas-host",
                                         "Apache-2.0",
                                         "Runs your agent program and speaks JSON lines on its stdin/stdout",
                                         ATLAS_CAP_TOOLS | ATLAS_CAP_CANCEL,
                                         kSchema};

  CommandAdapter(const atlas::sdk::Host& host, std::string_view config_json) : host_(host) {
    rapidjson::Document cfg;
    atlas::sdk::parse_json(cfg, config_json);
    if (cfg.HasParseError() || !cfg.IsObject())
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "command adapter: config must be a JSON object");
    auto cmd = cfg.FindMember("command");
    if (cmd == cfg.MemberEnd())
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT,
                              "command adapter: 'command' is required, e.g. command = [\"python3\", \"agent.py\"]");
    if (cmd->value.IsString()) {
      if (cmd->value.GetStringLength() == 0)
        throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "command adapter: 'command' is an empty string");
      spec_.argv = {"/bin/sh", "-c", cmd->value.GetString()};
    } else if (cmd->value.IsArray() && !cmd->value.Empty()) {
      for (const auto& a : cmd->value.GetArray()) {
        if (!a.IsString() || a.GetStringLength() == 0)
          throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "command adapter: 'command' entries must be non-empty strings");
        spec_.argv.emplace_back(a.GetString(), a.GetStringLength());
      }
    } else {
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT,
                              "command adapter: 'command' must be a non-empty list of strings or a shell string");
    }
    if (auto it = cfg.FindMember("cwd"); it != cfg.MemberEnd() && it->value.IsString()) spec_.cwd = it->value.GetString();
    if (auto it = cfg.FindMember("env"); it != cfg.MemberEnd() && it->value.IsObject())
      for (const auto& m : it->value.GetObject())
        if (m.value.IsString()) spec_.env[m.name.GetString()] = expand_env(m.value.GetString());
    if (auto it = cfg.FindMember("timeout_seconds"); it != cfg.MemberEnd() && it->value.IsNumber())
      timeout_ms_ = milliseconds_in_range(it->value.GetDouble(), "timeout_seconds");
    if (auto it = cfg.FindMember("kill_grace_seconds"); it != cfg.MemberEnd() && it->value.IsNumber())
      grace_ms_ = static_cast<int>(milliseconds_in_range(it->value.GetDouble(), "kill_grace_seconds"));
    if (auto it = cfg.FindMember("restart_on_failure"); it != cfg.MemberEnd() && it->value.IsBool())
      restart_on_failure_ = it->value.GetBool();
    if (auto it = cfg.FindMember("stderr_limit_bytes"); it != cfg.MemberEnd() && it->value.IsInt64())
      spec_.stderr_limit = static_cast<size_t>(it->value.GetInt64());
    if (timeout_ms_ <= 0) throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "command adapter: timeout_seconds must be > 0");
  }

  std::string invoke(atlas::sdk::Call& call, std::string_view request_json) override {
    std::lock_guard<std::mutex> lock(mu_);
    rapidjson::Document req;
    atlas::sdk::parse_json(req, request_json);
    if (req.HasParseError() || !req.IsObject())
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "command adapter: the request is not a JSON object");
    ensure_child(call);
    child_->drain_stderr();
    child_->stderr_tail().clear();  // the trace holds what the agent wrote during this call

    std::string line = dump(req);  // compact: RapidJSON escapes newlines inside strings
    line.push_back('\n');
    if (std::string err = child_->write_all(line); !err.empty()) fail_child("could not send the request: " + err);

    int64_t deadline = Child::now_ms() + timeout_ms_;
    if (call.deadline_unix_ms() > 0) {
      int64_t wall_left = call.deadline_unix_ms() - unix_ms();
      if (Child::now_ms() + wall_left < deadline) deadline = Child::now_ms() + wall_left;
    }
    std::string noise;  // stdout lines that are not JSON objects (debug prints)
    for (;;) {
      std::string out;
      ReadResult rr = child_->read_line(deadline, out, [&] { return call.cancelled(); });
      if (rr == ReadResult::kEof) fail_child("the agent closed its stdout before answering");
      if (rr == ReadResult::kTimeout) {
        std::string how = child_->stop(grace_ms_);
        std::string msg = "command adapter: the agent did not answer within " + std::to_string(timeout_ms_) +
                          " ms; it was stopped (" + how + ") and will be restarted for the next call" +
                          stderr_suffix();
        child_.reset();
        throw atlas::sdk::Error(ATLAS_DEADLINE_EXCEEDED, msg);
      }
      if (rr == ReadResult::kCancelled) {
        std::string how = child_->stop(grace_ms_);
        child_.reset();
        throw atlas::sdk::Error(ATLAS_CANCELLED, "command adapter: call cancelled by the host; the agent was stopped (" +
                                                     how + ")");
      }
      rapidjson::Document resp;
      atlas::sdk::parse_json(resp, out);
      if (resp.HasParseError() || !resp.IsObject()) {
        if (noise.size() < 8192) noise += out + "\n";
        continue;
      }
      return finish(resp, noise);
    }
  }

  void cancel(atlas::sdk::Call&) override { /* invoke() polls call.cancelled() */ }

 private:
  static int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  std::string command_text() const {
    std::string s;
    for (const auto& a : spec_.argv) s += (s.empty() ? "" : " ") + a;
    return s;
  }

  std::string stderr_suffix() const {
    std::string t = child_ ? child_->stderr_tail().text() : std::string();
    return t.empty() ? std::string("; the agent wrote nothing to stderr") : "; stderr tail: " + tail(t, 2000);
  }

  void ensure_child(atlas::sdk::Call& call) {
    if (child_ && child_->exited()) {
      std::string how = child_->stop(0);
      child_.reset();
      if (!restart_on_failure_) {
        dead_ = true;
        dead_reason_ = "the agent exited between calls (" + how + ")";
      } else {
        call.log(ATLAS_LOG_WARN, "command adapter: the agent exited between calls (" + how + "); restarting it");
      }
    }
    if (dead_)
      throw atlas::sdk::Error(ATLAS_FAILED_PRECONDITION, "command adapter: " + dead_reason_ +
                                                             " and restart_on_failure is false; fix the agent or "
                                                             "set restart_on_failure = true");
    if (child_) return;
    auto child = std::make_unique<Child>();
    if (std::string err = child->start(spec_); !err.empty())
      throw atlas::sdk::Error(ATLAS_UNAVAILABLE, "command adapter: " + err + " (command: " + command_text() + ")");
    child_ = std::move(child);
    ++starts_;
  }

  // The child died or broke the protocol: report, and restart on the next call.
  [[noreturn]] void fail_child(const std::string& what) {
    std::string how = child_->stop(grace_ms_);
    std::string msg = "command adapter: " + what + " (agent " + command_text() + ": " + how + ")" + stderr_suffix();
    child_.reset();
    if (!restart_on_failure_) {
      dead_ = true;
      dead_reason_ = what + " (" + how + ")";
    } else {
      msg += "; it will be restarted for the next call";
    }
    throw atlas::sdk::Error(ATLAS_UNAVAILABLE, msg);
  }

  std::string finish(rapidjson::Document& resp, const std::string& noise) {
    auto& a = resp.GetAllocator();
    child_->drain_stderr();
    if (auto err = resp.FindMember("error"); err != resp.MemberEnd() && !err->value.IsNull()) {
      std::string message = err->value.IsString() ? err->value.GetString() : dump(err->value);
      bool retryable = false;
      if (err->value.IsObject()) {
        auto m = err->value.FindMember("message");
        if (m != err->value.MemberEnd() && m->value.IsString()) message = m->value.GetString();
        auto r = err->value.FindMember("retryable");
        retryable = r != err->value.MemberEnd() && r->value.IsBool() && r->value.GetBool();
      }
      throw atlas::sdk::Error(retryable ? ATLAS_UNAVAILABLE : ATLAS_INTERNAL,
                              "command adapter: the agent reported an error: " + message + stderr_suffix());
    }
    // content must be a string for the host; objects are encoded, null becomes "".
    auto content = resp.FindMember("content");
    if (content == resp.MemberEnd() || content->value.IsNull()) {
      resp.RemoveMember("content");
      resp.AddMember("content", "", a);
    } else if (!content->value.IsString()) {
      std::string text = dump(content->value);
      content->value.SetString(text.c_str(), static_cast<rapidjson::SizeType>(text.size()), a);
    }
    std::string trace;
    if (auto t = resp.FindMember("trace"); t != resp.MemberEnd() && t->value.IsString()) trace = t->value.GetString();
    std::string err_text = child_->stderr_tail().text();
    if (!err_text.empty()) trace += (trace.empty() ? "" : "\n") + std::string("[stderr]\n") + err_text;
    if (!noise.empty()) trace += (trace.empty() ? "" : "\n") + std::string("[stdout, not JSON]\n") + noise;
    resp.RemoveMember("trace");
    rapidjson::Value tv(trace.c_str(), static_cast<rapidjson::SizeType>(trace.size()), a);
    resp.AddMember("trace", tv, a);
    return dump(resp);
  }

  atlas::sdk::Host host_;
  Child::Spec spec_{{}, {}, {}, 64 * 1024};  // argv, env, cwd, stderr bytes kept
  int64_t timeout_ms_ = 120000;
  int grace_ms_ = 2000;
  bool restart_on_failure_ = true;
  std::mutex mu_;
  std::unique_ptr<Child> child_;
  bool dead_ = false;
  std::string dead_reason_;
  int starts_ = 0;
};

}  // namespace

ATLAS_PLUGIN(CommandAdapter)
