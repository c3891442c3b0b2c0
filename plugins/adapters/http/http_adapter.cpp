// http adapter: POSTs each adapter request to the user's agent service as JSON built from a
// payload template, and reads the answer at a result path. See README.md.
#include <atlas/sdk.hpp>

#include <curl/curl.h>
#include <atlas/json_parse.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr const char* kSchema = R"({
  "type": "object",
  "properties": {
    "url": {"type": "string", "minLength": 1, "description": "http(s) URL the request is POSTed to"},
    "headers": {"type": "object", "additionalProperties": {"type": "string"},
                "description": "extra headers; values may reference ${VAR} from the environment"},
    "payload_template": {"description": "JSON sent as the body; the strings {{task}}, {{messages}}, {{role}}, {{step_id}}, {{session_id}}, {{tools}}, {{metadata}}, {{request}} are replaced by JSON values"},
    "result_path": {"type": "array", "items": {"type": ["string", "integer"]}},
    "timeout_seconds": {"type": "number", "minimum": 0.01, "default": 60},
    "connect_timeout_seconds": {"type": "number", "minimum": 0.01, "default": 10},
    "retry": {"type": "object", "properties": {
        "attempts": {"type": "integer", "minimum": 1, "maximum": 5, "default": 3},
        "backoff_seconds": {"type": "number", "minimum": 0, "default": 1.0}},
      "additionalProperties": false}
  },
  "required": ["url"],
  "additionalProperties": false
})";

using rapidjson::Document;
using rapidjson::Value;

std::string dump(const Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

std::string preview(const std::string& s, size_t n = 300) {
  std::string p = s.size() <= n ? s : s.substr(0, n) + "...";
  std::replace(p.begin(), p.end(), '\n', ' ');
  return p;
}

// "${VAR}" -> the variable's value. Unset variables are an error (a header without its
// token would only fail later with a confusing 401).
std::string expand_env(const std::string& in, const std::string& where) {
  std::string out;
  for (size_t i = 0; i < in.size();) {
    if (in.compare(i, 2, "${") == 0) {
      size_t close = in.find('}', i + 2);
      if (close != std::string::npos) {
        std::string name = in.substr(i + 2, close - i - 2);
        const char* v = std::getenv(name.c_str());
        if (!v || !*v)
          throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "http adapter: " + where + " references ${" + name +
                                                              "}, but that environment variable is not set");
        out += v;
        i = close + 1;
        continue;
      }
    }
    out.push_back(in[i++]);
  }
  return out;
}

size_t append_body(char* data, size_t size, size_t n, void* ctx) {
  static_cast<std::string*>(ctx)->append(data, size * n);
  return size * n;
}

size_t read_header(char* data, size_t size, size_t n, void* ctx) {
  std::string line(data, size * n);
  const std::string key = "retry-after:";
  if (line.size() > key.size()) {
    std::string head = line.substr(0, key.size());
    std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (head == key) *static_cast<double*>(ctx) = std::atof(line.c_str() + key.size());
  }
  return size * n;
}

struct HttpResult {
  CURLcode curl = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::string body;
  double retry_after = 0;
};

class HttpAdapter : public atlas::sdk::Adapter {
 public:
  static constexpr atlas::sdk::Info info{"http",
                                         "1.0.0",
                                         "atlas-host",
                                         "Apache-2.0",
                                         "POSTs each request to your agent service (payload template + result path)",
                                         ATLAS_CAP_THREAD_SAFE | ATLAS_CAP_TOOLS | ATLAS_CAP_NEEDS_NETWORK,
                                         kSchema};

  HttpAdapter(const atlas::sdk::Host&, std::string_view config_json) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    Document cfg;
    atlas::sdk::parse_json(cfg, config_json);
    if (cfg.HasParseError() || !cfg.IsObject())
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "http adapter: config must be a JSON object");
    auto url = cfg.FindMember("url");
    if (url == cfg.MemberEnd() || !url->value.IsString() || url->value.GetStringLength() == 0)
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT,
                              "http adapter: 'url' is required, e.g. url = \"http://127.0.0.1:8000/agent\"");
    url_ = url->value.GetString();
    if (url_.rfind("http://", 0) != 0 && url_.rfind("https://", 0) != 0)
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "http adapter: url '" + url_ + "' must start with http:// or https://");
    if (auto h = cfg.FindMember("headers"); h != cfg.MemberEnd() && h->value.IsObject())
      for (const auto& m : h->value.GetObject()) {
        if (!m.value.IsString()) continue;
        std::string name = m.name.GetString();
        // Validate now (fail at startup), expand again per call (tokens may rotate).
        expand_env(m.value.GetString(), "headers." + name);
        headers_.emplace_back(name, m.value.GetString());
      }
    if (auto t = cfg.FindMember("payload_template"); t != cfg.MemberEnd()) {
      has_template_ = true;
      template_.CopyFrom(t->value, template_.GetAllocator());
    }
    if (auto p = cfg.FindMember("result_path"); p != cfg.MemberEnd()) {
      if (!p->value.IsArray())
        throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "http adapter: result_path must be an array of keys and indices");
      result_path_.CopyFrom(p->value, result_path_.GetAllocator());
    } else {
      result_path_.SetArray();
      result_path_.PushBack("output", result_path_.GetAllocator());
    }
    if (auto v = cfg.FindMember("timeout_seconds"); v != cfg.MemberEnd() && v->value.IsNumber())
      timeout_s_ = v->value.GetDouble();
    if (auto v = cfg.FindMember("connect_timeout_seconds"); v != cfg.MemberEnd() && v->value.IsNumber())
      connect_timeout_s_ = v->value.GetDouble();
    if (auto r = cfg.FindMember("retry"); r != cfg.MemberEnd() && r->value.IsObject()) {
      if (auto a = r->value.FindMember("attempts"); a != r->value.MemberEnd() && a->value.IsInt()) attempts_ = a->value.GetInt();
      if (auto b = r->value.FindMember("backoff_seconds"); b != r->value.MemberEnd() && b->value.IsNumber())
        backoff_s_ = b->value.GetDouble();
    }
    if (attempts_ < 1 || attempts_ > 5)
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "http adapter: retry.attempts must be between 1 and 5");
    if (timeout_s_ <= 0) throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "http adapter: timeout_seconds must be > 0");
  }

  std::string invoke(atlas::sdk::Call& call, std::string_view request_json) override {
    Document req;
    atlas::sdk::parse_json(req, request_json);
    if (req.HasParseError() || !req.IsObject())
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "http adapter: the request is not a JSON object");
    std::string body = build_payload(req);

    std::string last_error;
    atlas_status last_status = ATLAS_UNAVAILABLE;
    for (int attempt = 1; attempt <= attempts_; ++attempt) {
      if (call.cancelled()) throw atlas::sdk::Error(ATLAS_CANCELLED, "http adapter: cancelled by the host");
      HttpResult r = post(body);
      bool retryable = false;
      if (r.curl != CURLE_OK) {
        bool timeout = r.curl == CURLE_OPERATION_TIMEDOUT;
        last_status = timeout ? ATLAS_DEADLINE_EXCEEDED : ATLAS_UNAVAILABLE;
        last_error = "POST " + url_ + " failed: " + r.curl_error +
                     (timeout ? " (timeout_seconds = " + std::to_string(timeout_s_) + ")" : "");
        retryable = !timeout || attempt < attempts_;
      } else if (r.status >= 200 && r.status < 300) {
        return parse_result(r.body);
      } else {
        last_error = "POST " + url_ + " returned HTTP " + std::to_string(r.status) + ": " + preview(r.body);
        if (r.status == 429) {
          last_status = ATLAS_RESOURCE_EXHAUSTED;
          retryable = true;
        } else if (r.status >= 500) {
          last_status = ATLAS_UNAVAILABLE;
          retryable = true;
        } else {
          last_status = (r.status == 401 || r.status == 403) ? ATLAS_PERMISSION_DENIED : ATLAS_INVALID_ARGUMENT;
          retryable = false;
        }
      }
      if (!retryable || attempt == attempts_) break;
      double wait = r.retry_after > 0 ? std::min(r.retry_after, 60.0) : backoff(attempt);
      call.log(ATLAS_LOG_INFO, "http adapter: " + last_error + "; retrying in " + std::to_string(wait) + " s");
      wait_or_cancel(call, wait);
    }
    std::string tries = attempts_ > 1 ? " (after " + std::to_string(attempts_) + " attempts)" : "";
    throw atlas::sdk::Error(last_status, "http adapter: " + last_error + tries);
  }

 private:
  double backoff(int attempt) const {
    static thread_local std::mt19937 rng{std::random_device{}()};
    double base = backoff_s_ * static_cast<double>(1 << (attempt - 1));
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    return base * jitter(rng);
  }

  static void wait_or_cancel(atlas::sdk::Call& call, double seconds) {
    using namespace std::chrono;
    auto until = steady_clock::now() + duration_cast<steady_clock::duration>(duration<double>(seconds));
    while (steady_clock::now() < until) {
      if (call.cancelled()) throw atlas::sdk::Error(ATLAS_CANCELLED, "http adapter: cancelled by the host");
      auto left = duration_cast<milliseconds>(until - steady_clock::now()) + milliseconds(1);
      std::this_thread::sleep_for(std::min(left, milliseconds(50)));  // backoff between retries
    }
  }

  // Replaces placeholder strings in the template with values from the request.
  void substitute(Value& v, const Document& req, rapidjson::MemoryPoolAllocator<>& a) const {
    if (v.IsObject()) {
      for (auto& m : v.GetObject()) substitute(m.value, req, a);
    } else if (v.IsArray()) {
      for (auto& e : v.GetArray()) substitute(e, req, a);
    } else if (v.IsString()) {
      std::string s(v.GetString(), v.GetStringLength());
      if (s.size() > 4 && s.compare(0, 2, "{{") == 0 && s.compare(s.size() - 2, 2, "}}") == 0 &&
          s.find("{{", 2) == std::string::npos) {
        Value replacement;
        if (lookup(s.substr(2, s.size() - 4), req, replacement, a)) {
          v = replacement;
          return;
        }
      }
      // Placeholders inside a longer string are replaced by text.
      std::string out;
      bool changed = false;
      for (size_t i = 0; i < s.size();) {
        size_t open = s.find("{{", i);
        size_t close = open == std::string::npos ? std::string::npos : s.find("}}", open + 2);
        if (close == std::string::npos) {
          out += s.substr(i);
          break;
        }
        Value val;
        out += s.substr(i, open - i);
        if (lookup(s.substr(open + 2, close - open - 2), req, val, a)) {
          out += val.IsString() ? std::string(val.GetString(), val.GetStringLength()) : dump(val);
          changed = true;
        } else {
          out += s.substr(open, close + 2 - open);
        }
        i = close + 2;
      }
      if (changed) v.SetString(out.c_str(), static_cast<rapidjson::SizeType>(out.size()), a);
    }
  }

  static bool lookup(const std::string& name, const Document& req, Value& out, rapidjson::MemoryPoolAllocator<>& a) {
    if (name == "request") {
      out.CopyFrom(req, a);
      return true;
    }
    static const char* kKeys[] = {"task", "messages", "role", "step_id", "session_id", "tools", "metadata",
                                  "tool_choice", "response_format"};
    for (const char* k : kKeys) {
      if (name != k) continue;
      auto it = req.FindMember(k);
      if (it == req.MemberEnd()) {
        if (name == "messages" || name == "tools") out.SetArray();
        else if (name == "metadata") out.SetObject();
        else if (name == "response_format") out.SetNull();
        else out.SetString("", a);
      } else {
        out.CopyFrom(it->value, a);
      }
      return true;
    }
    return false;
  }

  std::string build_payload(const Document& req) const {
    if (!has_template_) return dump(req);
    Document payload;
    payload.CopyFrom(template_, payload.GetAllocator());
    substitute(payload, req, payload.GetAllocator());
    return dump(payload);
  }

  HttpResult post(const std::string& body) const {
    HttpResult r;
    CURL* curl = curl_easy_init();
    if (!curl) {
      r.curl = CURLE_FAILED_INIT;
      r.curl_error = "curl_easy_init failed";
      return r;
    }
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_slist* hdrs = curl_slist_append(nullptr, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    for (const auto& h : headers_) {
      std::string line = h.first + ": " + expand_env(h.second, "headers." + h.first);
      hdrs = curl_slist_append(hdrs, line.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &append_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &read_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.retry_after);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_s_ * 1000));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout_s_ * 1000));
    r.curl = curl_easy_perform(curl);
    if (r.curl != CURLE_OK) {
      r.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(r.curl);
    } else {
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    return r;
  }

  std::string parse_result(const std::string& body) const {
    Document doc;
    atlas::sdk::parse_json(doc, body);
    if (doc.HasParseError())
      throw atlas::sdk::Error(ATLAS_INTERNAL, "http adapter: " + url_ + " answered with a body that is not JSON: " +
                                                  preview(body));
    const Value* cur = &doc;
    std::string walked;
    for (const auto& step : result_path_.GetArray()) {
      if (step.IsString()) {
        walked += "." + std::string(step.GetString());
        auto it = cur->IsObject() ? cur->FindMember(step.GetString()) : cur->MemberEnd();
        if (!cur->IsObject() || it == cur->MemberEnd())
          throw atlas::sdk::Error(ATLAS_INTERNAL, "http adapter: result_path " + dump(result_path_) + ": no key '" +
                                                      step.GetString() + "' at '" + (walked.size() > 1 ? walked : ".") +
                                                      "' in the response: " + preview(body) +
                                                      " (set result_path to where your service puts the answer)");
        cur = &it->value;
      } else if (step.IsInt()) {
        int i = step.GetInt();
        walked += "[" + std::to_string(i) + "]";
        if (!cur->IsArray() || i < 0 || static_cast<rapidjson::SizeType>(i) >= cur->Size())
          throw atlas::sdk::Error(ATLAS_INTERNAL, "http adapter: result_path " + dump(result_path_) + ": index " +
                                                      std::to_string(i) + " is out of range at '" + walked +
                                                      "' in the response: " + preview(body));
        cur = &(*cur)[static_cast<rapidjson::SizeType>(i)];
      }
    }
    Document out(rapidjson::kObjectType);
    auto& a = out.GetAllocator();
    if (cur->IsString()) {
      out.AddMember("content", Value(cur->GetString(), cur->GetStringLength(), a), a);
    } else if (cur->IsObject() && (cur->HasMember("content") || cur->HasMember("tool_calls"))) {
      out.CopyFrom(*cur, a);
      auto c = out.FindMember("content");
      if (c == out.MemberEnd() || c->value.IsNull()) {
        out.RemoveMember("content");
        out.AddMember("content", "", a);
      } else if (!c->value.IsString()) {
        std::string text = dump(c->value);
        c->value.SetString(text.c_str(), static_cast<rapidjson::SizeType>(text.size()), a);
      }
      if (auto tc = out.FindMember("tool_calls"); tc != out.MemberEnd() && tc->value.IsArray())
        for (auto& call : tc->value.GetArray()) {
          auto args = call.FindMember("arguments");
          if (args != call.MemberEnd() && args->value.IsString()) {  // OpenAI style: a JSON string
            Document parsed;
            atlas::sdk::parse_json(parsed, std::string_view(args->value.GetString(), args->value.GetStringLength()));
            if (!parsed.HasParseError() && parsed.IsObject()) args->value.CopyFrom(parsed, a);
            else args->value.SetObject();
          }
        }
    } else if (cur->IsNull()) {
      throw atlas::sdk::Error(ATLAS_INTERNAL, "http adapter: the value at result_path " + dump(result_path_) +
                                                  " is null in the response: " + preview(body));
    } else {
      std::string text = dump(*cur);
      out.AddMember("content", Value(text.c_str(), static_cast<rapidjson::SizeType>(text.size()), a), a);
    }
    if (!out.HasMember("finish_reason")) out.AddMember("finish_reason", "stop", a);
    return dump(out);
  }

  std::string url_;
  std::vector<std::pair<std::string, std::string>> headers_;
  bool has_template_ = false;
  Document template_;
  Document result_path_;
  double timeout_s_ = 60.0;
  double connect_timeout_s_ = 10.0;
  int attempts_ = 3;
  double backoff_s_ = 1.0;
};

}  // namespace

ATLAS_PLUGIN(HttpAdapter)
