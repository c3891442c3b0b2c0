#include "review_ui/review_ui.hpp"

#include <httplib.h>

#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "common/json.hpp"
#include "common/log.hpp"
#include "common/secrets.hpp"
#include "config/statuses.hpp"
#include "data/export.hpp"
#include "data/review.hpp"
#include "data/session_cost.hpp"
#include "review_ui/assets.hpp"
#include "review_ui/auth.hpp"
#include "runtime/playbook_admin.hpp"

namespace atlas::review_ui {

using json::Value;

namespace {

constexpr const char* kCookie = "atlas_ui_session";
constexpr const char* kCsrfHeader = "X-CSRF-Token";
constexpr size_t kMaxBulk = 5000;
constexpr auto kBulkTtl = std::chrono::minutes(10);

bool is_loopback_name(std::string_view host) {
  return host == "127.0.0.1" || host == "::1" || host == "[::1]" || host == "localhost" || host.rfind("127.", 0) == 0;
}

// The host part of a Host header ("[::1]:8787" -> "[::1]", "localhost:80" -> "localhost").
std::string host_of(const std::string& header) {
  if (!header.empty() && header[0] == '[') {
    size_t close = header.find(']');
    return close == std::string::npos ? header : header.substr(0, close + 1);
  }
  return header.substr(0, header.find(':'));
}

void security_headers(httplib::Response& res) {
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                 "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cross-Origin-Opener-Policy", "same-origin");
  res.set_header("Cross-Origin-Resource-Policy", "same-origin");
}

void send_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body, "application/json; charset=utf-8");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, "{\"error\":" + json::quote(secrets::redact(message)) + "}");
}

int http_status(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAborted:
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

// Where filter values come from: the query string of a GET, or a JSON object of strings.
class Input {
 public:
  explicit Input(const httplib::Request& req) : req_(&req) {}
  explicit Input(const Value& obj) : obj_(&obj) {}
  std::string get(const char* key) const {
    if (req_) return req_->has_param(key) ? req_->get_param_value(key) : std::string();
    const Value* v = json::find(*obj_, key);
    if (!v || v->IsNull()) return {};
    if (v->IsString()) return std::string(v->GetString(), v->GetStringLength());
    if (v->IsNumber() || v->IsBool()) return json::dump(*v);
    if (v->IsArray()) {
      std::string out;
      for (const Value& e : v->GetArray())
        if (e.IsString()) out += (out.empty() ? "" : ",") + std::string(e.GetString(), e.GetStringLength());
      return out;
    }
    return {};
  }

 private:
  const httplib::Request* req_ = nullptr;
  const Value* obj_ = nullptr;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string part = s.substr(start, comma - start);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    if (!part.empty()) out.push_back(part);
    start = comma + 1;
  }
  return out;
}

Result<std::optional<double>> number_param(const Input& in, const char* key) {
  std::string s = in.get(key);
  if (s.empty()) return std::optional<double>();
  try {
    size_t used = 0;
    double v = std::stod(s, &used);
    if (used != s.size()) throw std::invalid_argument(s);
    return std::optional<double>(v);
  } catch (...) {
    return invalid_argument(std::string("'") + key + "' must be a number, got \"" + s + "\"");
  }
}

// YYYY-MM-DD, optionally followed by a time ("T12:00:00Z").
Status check_date(const std::string& s, const char* key) {
  bool ok = s.size() >= 10 && s.size() <= 40;
  for (size_t i = 0; ok && i < 10; ++i)
    ok = (i == 4 || i == 7) ? s[i] == '-' : std::isdigit(static_cast<unsigned char>(s[i]));
  if (ok && s.size() > 10) ok = s[10] == 'T' || s[10] == ' ';
  return ok ? Status::ok()
            : invalid_argument(std::string("'") + key + "' must be a date YYYY-MM-DD (optionally with a time), got \"" +
                               s + "\"");
}

// The review_ui_sessions request for the list filters in `in` (docs/review-ui.md, "API").
Result<json::Document> list_request(const Input& in) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  auto list = [&](const std::vector<std::string>& v) {
    Value arr(rapidjson::kArrayType);
    for (const auto& s : v) arr.PushBack(json::str(s, a), a);
    return arr;
  };
  if (auto v = split_list(in.get("status")); !v.empty()) {
    ATLAS_ASSIGN_OR_RETURN(auto parsed, parse_session_statuses(v, "status"));
    json::set(d, "status", list(status_names(parsed)), a);
  }
  if (auto v = split_list(in.get("review")); !v.empty()) {
    ATLAS_ASSIGN_OR_RETURN(auto parsed, parse_review_statuses(v, "review"));
    json::set(d, "review_status", list(status_names(parsed)), a);
  }
  for (auto [param, key] :
       {std::pair{"lane", "lane"}, {"key", "learning_key"}, {"q", "text"}, {"sort", "sort"}, {"after", "after"}}) {
    std::string v = in.get(param);
    if (!v.empty()) json::set(d, key, v, a);
  }
  for (auto [param, key] : {std::pair{"since", "created_after"}, {"until", "created_before"}}) {
    std::string v = in.get(param);
    if (v.empty()) continue;
    if (Status st = check_date(v, param); !st.is_ok()) return st;
    // "until 2026-12-05" includes that day.
    if (std::string_view(param) == "until" && v.size() == 10) v += "T23:59:59.999999Z";
    json::set(d, key, v, a);
  }
  for (auto [param, key] : {std::pair{"min_reward", "min_reward"}, {"max_reward", "max_reward"}}) {
    ATLAS_ASSIGN_OR_RETURN(auto v, number_param(in, param));
    if (v) json::set(d, key, *v, a);
  }
  ATLAS_ASSIGN_OR_RETURN(auto limit, number_param(in, "limit"));
  if (limit && (*limit < 1 || *limit > 500)) return invalid_argument("'limit' must be between 1 and 500");
  json::set(d, "limit", static_cast<int64_t>(limit ? *limit : 50), a);
  return d;
}

std::string date_stamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d-%H%M%S", &tm);
  return buf;
}

}  // namespace

class ReviewUi::Impl {
 public:
  Impl(data::Store& store, UiOptions options, std::vector<Reviewer> reviewers)
      : store_(store),
        options_(std::move(options)),
        reviewers_(std::move(reviewers)),
        logins_(std::chrono::seconds(options_.login_ttl_seconds)),
        loopback_(is_loopback_name(options_.listen_host)) {}
  ~Impl() {
    if (owns_export_dir_) {
      std::error_code ec;
      std::filesystem::remove_all(options_.export_dir, ec);
    }
  }

  Status prepare_export_dir() {
    if (options_.export_dir.empty()) {
      options_.export_dir = std::filesystem::temp_directory_path() / ("atlas-review-ui-" + random_hex(8));
      owns_export_dir_ = true;
    }
    std::error_code ec;
    std::filesystem::create_directories(options_.export_dir, ec);
    if (ec)
      return failed_precondition("cannot create the UI's export folder " + options_.export_dir.string() + ": " +
                                 ec.message());
    std::filesystem::permissions(options_.export_dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
    return Status::ok();
  }

  void mount(httplib::Server& s);

 private:
  enum class Need { kNothing, kLogin, kCsrf };
  using Handler = std::function<void(const httplib::Request&, httplib::Response&, const Login&)>;

  bool token_mode() const { return !reviewers_.empty(); }

  // Wraps a handler: security headers, Host check, login and CSRF as `need` says, and no
  // exception escapes (a 500 with the message instead).
  httplib::Server::Handler guard(Need need, Handler h) {
    return [this, need, h = std::move(h)](const httplib::Request& req, httplib::Response& res) {
      security_headers(res);
      if (loopback_ && !is_loopback_name(host_of(req.get_header_value("Host")))) {
        // A page on another site that resolves its name to 127.0.0.1 (DNS rebinding).
        return send_error(
            res, 403, "the review UI on a loopback address answers only requests for 127.0.0.1, [::1] or localhost");
      }
      Login login;
      if (need != Need::kNothing) {
        auto found = logins_.find(cookie_value(req.get_header_value("Cookie"), kCookie));
        if (!found) return send_json(res, 401, "{\"error\":\"log in first\",\"login_required\":true}");
        login = *found;
        if (need == Need::kCsrf) {
          std::string sent = req.get_header_value(kCsrfHeader);
          if (sent.empty() || !constant_time_equal(sent, login.csrf))
            return send_error(res, 403,
                              "missing or wrong CSRF token: send the X-CSRF-Token header GET /ui/api/me returns");
        }
      }
      try {
        h(req, res, login);
      } catch (const std::exception& e) {
        send_error(res, 500, std::string("review UI: ") + e.what());
      }
    };
  }

  void set_login_cookie(httplib::Response& res, const std::string& id) {
    res.set_header("Set-Cookie", std::string(kCookie) + "=" + id + "; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=" +
                                     std::to_string(logins_.ttl().count()));
  }

  std::string me_json(const Login& l) const {
    return "{\"actor\":" + json::quote(l.actor) + ",\"csrf\":" + json::quote(l.csrf) +
           ",\"auth\":" + (token_mode() ? "\"token\"" : "\"local\"") + "}";
  }

  Result<json::Document> body_object(const httplib::Request& req) {
    if (req.get_header_value("Content-Type").rfind("application/json", 0) != 0)
      return invalid_argument("send the request body as JSON (Content-Type: application/json)");
    ATLAS_ASSIGN_OR_RETURN(auto d, json::parse(req.body.empty() ? "{}" : req.body, "request body"));
    if (!d.IsObject()) return invalid_argument("the request body must be a JSON object");
    return d;
  }

  void reply(httplib::Response& res, const Result<std::string>& r) {
    if (!r) return send_error(res, http_status(r.status()), r.status().message());
    send_json(res, 200, secrets::redact(*r));
  }

  void handle_me(const httplib::Request& req, httplib::Response& res);
  void handle_login(const httplib::Request& req, httplib::Response& res);
  void handle_list(const httplib::Request& req, httplib::Response& res);
  void handle_counts(const httplib::Request& req, httplib::Response& res);
  void handle_learning(const httplib::Request& req, httplib::Response& res);
  void handle_session(const std::string& id, httplib::Response& res);
  void handle_review(const httplib::Request& req, httplib::Response& res, const Login& l, const std::string& id);
  void handle_note(const httplib::Request& req, httplib::Response& res, const Login& l, const std::string& id);
  void handle_demonstration(const httplib::Request& req, httplib::Response& res, const Login& l, const std::string& id);
  void handle_bulk_preview(const httplib::Request& req, httplib::Response& res, const Login& l);
  void handle_bulk_apply(const httplib::Request& req, httplib::Response& res, const Login& l);
  Result<data::ExportOptions> export_options(const Value& body);
  void handle_export_count(const httplib::Request& req, httplib::Response& res);
  void handle_export(const httplib::Request& req, httplib::Response& res);
  void handle_download(const std::string& id, httplib::Response& res);

  data::Store& store_;
  UiOptions options_;
  std::vector<Reviewer> reviewers_;
  Logins logins_;
  bool loopback_;
  bool owns_export_dir_ = false;

  struct Bulk {
    std::string actor;
    ReviewStatus status;
    std::vector<std::string> ids;
    std::chrono::steady_clock::time_point expires;
  };
  struct ExportFile {
    std::filesystem::path path;
    std::string filename;
  };
  std::mutex mu_;
  std::map<std::string, Bulk> bulks_;
  std::map<std::string, ExportFile> exports_;
};

void ReviewUi::Impl::mount(httplib::Server& s) {
  auto asset = [this](const std::string& name) {
    return guard(Need::kNothing, [name](const httplib::Request&, httplib::Response& res, const Login&) {
      const Asset* a = find_asset(name);
      if (!a) return send_error(res, 404, "no such file");
      res.set_header("Cache-Control", "no-cache");
      res.set_content(std::string(a->body), std::string(a->content_type));
    });
  };
  s.Get("/ui", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/ui/"); });
  s.Get("/ui/", asset("index.html"));
  s.Get(R"(/ui/assets/([a-z0-9_.-]+))", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    guard(Need::kNothing, [name](const httplib::Request&, httplib::Response& r, const Login&) {
      const Asset* a = find_asset(name);
      if (!a) return send_error(r, 404, "no asset " + name);
      r.set_header("Cache-Control", "no-cache");
      r.set_content(std::string(a->body), std::string(a->content_type));
    })(req, res);
  });
  s.Get("/ui/api/me", guard(Need::kNothing, [this](const httplib::Request& req, httplib::Response& res, const Login&) {
          handle_me(req, res);
        }));
  s.Post("/ui/api/login", guard(Need::kNothing, [this](const httplib::Request& req, httplib::Response& res,
                                                       const Login&) { handle_login(req, res); }));
  s.Post("/ui/api/logout",
         guard(Need::kCsrf, [this](const httplib::Request& req, httplib::Response& res, const Login&) {
           logins_.remove(cookie_value(req.get_header_value("Cookie"), kCookie));
           res.set_header("Set-Cookie", std::string(kCookie) + "=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0");
           send_json(res, 200, "{}");
         }));
  s.Get("/ui/api/sessions", guard(Need::kLogin, [this](const httplib::Request& req, httplib::Response& res,
                                                       const Login&) { handle_list(req, res); }));
  s.Get("/ui/api/sessions/counts", guard(Need::kLogin, [this](const httplib::Request& req, httplib::Response& res,
                                                              const Login&) { handle_counts(req, res); }));
  s.Get(R"(/ui/api/sessions/(\d+))",
        guard(Need::kLogin, [this](const httplib::Request& req, httplib::Response& res, const Login&) {
          handle_session(req.matches[1], res);
        }));
  s.Post(R"(/ui/api/sessions/(\d+)/review)",
         guard(Need::kCsrf, [this](const httplib::Request& req, httplib::Response& res, const Login& l) {
           handle_review(req, res, l, req.matches[1]);
         }));
  s.Post(R"(/ui/api/sessions/(\d+)/note)",
         guard(Need::kCsrf, [this](const httplib::Request& req, httplib::Response& res, const Login& l) {
           handle_note(req, res, l, req.matches[1]);
         }));
  s.Post(R"(/ui/api/sessions/(\d+)/demonstration)",
         guard(Need::kCsrf, [this](const httplib::Request& req, httplib::Response& res, const Login& l) {
           handle_demonstration(req, res, l, req.matches[1]);
         }));
  s.Post("/ui/api/bulk/preview", guard(Need::kCsrf, [this](const httplib::Request& req, httplib::Response& res,
                                                           const Login& l) { handle_bulk_preview(req, res, l); }));
  s.Post("/ui/api/bulk/apply", guard(Need::kCsrf, [this](const httplib::Request& req, httplib::Response& res,
                                                         const Login& l) { handle_bulk_apply(req, res, l); }));
  s.Get("/ui/api/learning/keys",
        guard(Need::kLogin, [this](const httplib::Request&, httplib::Response& res, const Login&) {
          reply(res, store_.execute("review_ui_learning_keys", "{}"));
        }));
  s.Get("/ui/api/learning", guard(Need::kLogin, [this](const httplib::Request& req, httplib::Response& res,
                                                       const Login&) { handle_learning(req, res); }));
  s.Post("/ui/api/export/count", guard(Need::kCsrf, [this](const httplib::Request& req, httplib::Response& res,
                                                           const Login&) { handle_export_count(req, res); }));
  s.Post("/ui/api/export", guard(Need::kCsrf, [this](const httplib::Request& req, httplib::Response& res,
                                                     const Login&) { handle_export(req, res); }));
  s.Get(R"(/ui/api/exports/([0-9a-f]{32}))",
        guard(Need::kLogin, [this](const httplib::Request& req, httplib::Response& res, const Login&) {
          handle_download(req.matches[1], res);
        }));
  auto unknown = guard(Need::kNothing, [](const httplib::Request& req, httplib::Response& res, const Login&) {
    send_error(res, 404, "the review UI has no route " + req.method + " " + req.path + " (docs/review-ui.md)");
  });
  s.Get(R"(/ui/.*)", unknown);
  s.Post(R"(/ui/.*)", unknown);
}

void ReviewUi::Impl::handle_me(const httplib::Request& req, httplib::Response& res) {
  std::string cookie = cookie_value(req.get_header_value("Cookie"), kCookie);
  if (auto l = logins_.find(cookie)) return send_json(res, 200, me_json(*l));
  if (token_mode())
    return send_json(res, 401, "{\"error\":\"log in with your reviewer token\",\"login_required\":true}");
  // Loopback without tokens: whoever can reach 127.0.0.1 is the local user.
  std::string actor = options_.local_actor.empty() ? data::default_actor() : options_.local_actor;
  std::string id = logins_.create(actor);
  set_login_cookie(res, id);
  send_json(res, 200, me_json(*logins_.find(id)));
}

void ReviewUi::Impl::handle_login(const httplib::Request& req, httplib::Response& res) {
  auto body = body_object(req);
  if (!body) return send_error(res, 400, body.status().message());
  if (!token_mode()) return handle_me(req, res);
  std::string token = json::get_string(*body, "token");
  const Reviewer* who = nullptr;
  for (const auto& r : reviewers_)  // every token compared: no early exit that times which one matched
    if (constant_time_equal(token, r.token) && !who) who = &r;
  if (token.empty() || !who) {
    log::warn("review-ui", "refused a login from " + req.remote_addr + ": unknown token");
    return send_error(res, 401, "unknown reviewer token");
  }
  std::string id = logins_.create(who->name);
  set_login_cookie(res, id);
  log::info("review-ui", who->name + " logged in from " + req.remote_addr);
  send_json(res, 200, me_json(*logins_.find(id)));
}

void ReviewUi::Impl::handle_list(const httplib::Request& req, httplib::Response& res) {
  auto r = list_request(Input(req));
  if (!r) return send_error(res, 400, r.status().message());
  json::set(*r, "with_counts", req.get_param_value("counts") != "0", r->GetAllocator());
  reply(res, store_.execute("review_ui_sessions", json::dump(*r)));
}

// The counts of the list's tabs for the same filters, asked after the rows (the page shows its
// rows first): review_ui_counts, each count capped (docs/review-ui.md, "Speed").
void ReviewUi::Impl::handle_counts(const httplib::Request& req, httplib::Response& res) {
  auto r = list_request(Input(req));
  if (!r) return send_error(res, 400, r.status().message());
  reply(res, store_.execute("review_ui_counts", json::dump(*r)));
}

// One learning key: its sessions and registry row (review_ui_learning), every stored playbook
// version and the candidates the gates rejected, read by the functions behind `atlas-host
// playbook history|rejected` (runtime/playbook_admin.hpp).
void ReviewUi::Impl::handle_learning(const httplib::Request& req, httplib::Response& res) {
  std::string key = req.get_param_value("key");
  if (key.empty()) return send_error(res, 400, "name the learning key: /ui/api/learning?key=KEY");
  auto out = store_.execute("review_ui_learning", "{\"learning_key\":" + json::quote(key) + "}");
  if (!out) return send_error(res, http_status(out.status()), out.status().message());
  auto doc = json::parse(*out, "review_ui_learning response");
  if (!doc) return send_error(res, 500, doc.status().message());
  auto versions = runtime::playbook_versions(store_, key);
  if (!versions) return send_error(res, http_status(versions.status()), versions.status().message());
  auto& a = doc->GetAllocator();
  Value list(rapidjson::kArrayType);
  for (const auto& v : *versions) list.PushBack(runtime::playbook_version_json(v, true, a), a);
  json::set(*doc, "versions", std::move(list), a);
  Value rejected(rapidjson::kArrayType);
  for (const auto& r : runtime::rejected_candidates(*versions))
    rejected.PushBack(runtime::rejected_candidate_json(r, a), a);
  json::set(*doc, "rejected", std::move(rejected), a);
  send_json(res, 200, secrets::redact(json::dump(*doc)));
}

void ReviewUi::Impl::handle_session(const std::string& id, httplib::Response& res) {
  auto out = store_.execute("read_session", "{\"session_id\":" + json::quote(id) + "}");
  if (!out) return send_error(res, http_status(out.status()), out.status().message());
  auto doc = json::parse(*out, "read_session response");
  if (!doc) return send_error(res, 500, doc.status().message());
  // The cost the CLI shows (data/session_cost.hpp), ready to print.
  data::SessionCost cost = data::session_cost(*doc);
  auto& a = doc->GetAllocator();
  Value c(rapidjson::kObjectType);
  json::set(c, "total_usd", cost.total_usd ? Value(*cost.total_usd) : Value(), a);
  Value roles(rapidjson::kObjectType);
  for (const auto& [role, usd] : cost.by_role) roles.AddMember(json::str(role, a), usd ? Value(*usd) : Value(), a);
  json::set(c, "by_role", std::move(roles), a);
  Value unpriced(rapidjson::kArrayType);
  for (const auto& role : cost.unpriced_roles) unpriced.PushBack(json::str(role, a), a);
  json::set(c, "unpriced_roles", std::move(unpriced), a);
  json::set(*doc, "ui_cost", std::move(c), a);
  send_json(res, 200, secrets::redact(json::dump(*doc)));
}

void ReviewUi::Impl::handle_review(const httplib::Request& req, httplib::Response& res, const Login& l,
                                   const std::string& id) {
  auto body = body_object(req);
  if (!body) return send_error(res, 400, body.status().message());
  std::string status_text = json::get_string(*body, "status");
  auto status = parse_review_status(status_text);
  if (!status)
    return send_error(res, 400, "'status' must be approved, quarantined or pending, got \"" + status_text + "\"");
  std::string reason = json::get_string(*body, "reason");
  if (*status != ReviewStatus::kApproved && reason.empty())
    return send_error(res, 400, "say why: 'reason' is required to quarantine or reset a session");
  auto prev = data::set_review(store_, id, *status, l.actor, reason, json::get_string(*body, "note"));
  if (!prev) return send_error(res, http_status(prev.status()), prev.status().message());
  log::info("review-ui", l.actor + " set session " + id + " " + std::string(status_name(*status)));
  send_json(res, 200,
            "{\"session_id\":" + json::quote(id) + ",\"previous\":" + json::quote(*prev) +
                ",\"review_status\":" + json::quote(status_name(*status)) + ",\"actor\":" + json::quote(l.actor) + "}");
}

void ReviewUi::Impl::handle_note(const httplib::Request& req, httplib::Response& res, const Login& l,
                                 const std::string& id) {
  auto body = body_object(req);
  if (!body) return send_error(res, 400, body.status().message());
  std::string note = json::get_string(*body, "note");
  if (note.empty()) return send_error(res, 400, "'note' is empty");
  Status st = data::add_review_note(store_, id, note, l.actor);
  if (!st.is_ok()) return send_error(res, http_status(st), st.message());
  send_json(res, 200, "{\"session_id\":" + json::quote(id) + ",\"actor\":" + json::quote(l.actor) + "}");
}

void ReviewUi::Impl::handle_demonstration(const httplib::Request& req, httplib::Response& res, const Login& l,
                                          const std::string& id) {
  auto body = body_object(req);
  if (!body) return send_error(res, 400, body.status().message());
  std::string answer = json::get_string(*body, "answer");
  if (answer.find_first_not_of(" \t\r\n") == std::string::npos)
    return send_error(res, 400, "'answer' is empty: write the corrected answer the model should have given");
  Status st = data::add_demonstration(store_, id, answer, l.actor, json::get_string(*body, "reason"));
  if (!st.is_ok()) return send_error(res, http_status(st), st.message());
  log::info("review-ui", l.actor + " stored a corrected answer for session " + id);
  send_json(res, 200, "{\"session_id\":" + json::quote(id) + ",\"actor\":" + json::quote(l.actor) + "}");
}

void ReviewUi::Impl::handle_bulk_preview(const httplib::Request& req, httplib::Response& res, const Login& l) {
  auto body = body_object(req);
  if (!body) return send_error(res, 400, body.status().message());
  std::string status_text = json::get_string(*body, "status");
  auto status = parse_review_status(status_text);
  if (!status)
    return send_error(res, 400, "'status' must be approved, quarantined or pending, got \"" + status_text + "\"");
  const Value* filters = json::find(*body, "filters");
  if (!filters || !filters->IsObject())
    return send_error(res, 400, "'filters' (the list's filters, an object) is required");
  auto r = list_request(Input(*filters));
  if (!r) return send_error(res, 400, r.status().message());
  auto& a = r->GetAllocator();
  r->RemoveMember("after");
  json::set(*r, "ids_only", true, a);
  json::set(*r, "limit", static_cast<int64_t>(kMaxBulk), a);
  auto out = store_.execute("review_ui_sessions", json::dump(*r));
  if (!out) return send_error(res, http_status(out.status()), out.status().message());
  auto doc = json::parse(*out, "review_ui_sessions response");
  if (!doc) return send_error(res, 500, doc.status().message());
  if (json::get_bool(*doc, "truncated"))
    return send_error(res, 400,
                      "more than " + std::to_string(kMaxBulk) +
                          " sessions match: narrow the filters (or use `atlas-host review set` for larger batches)");
  Bulk b{l.actor, *status, {}, std::chrono::steady_clock::now() + kBulkTtl};
  if (const Value* ids = json::find(*doc, "ids"); ids && ids->IsArray())
    for (const Value& v : ids->GetArray()) b.ids.emplace_back(v.GetString(), v.GetStringLength());
  json::Document reply_doc(rapidjson::kObjectType);
  auto& ra = reply_doc.GetAllocator();
  json::set(reply_doc, "count", static_cast<int64_t>(b.ids.size()), ra);
  json::set(reply_doc, "status", status_name(*status), ra);
  Value sample(rapidjson::kArrayType);
  for (size_t i = 0; i < b.ids.size() && i < 10; ++i) sample.PushBack(json::str(b.ids[i], ra), ra);
  json::set(reply_doc, "sample", std::move(sample), ra);
  if (!b.ids.empty()) {
    std::string token = random_hex(16);
    json::set(reply_doc, "confirmation", token, ra);
    std::lock_guard<std::mutex> g(mu_);
    const auto now = std::chrono::steady_clock::now();
    for (auto it = bulks_.begin(); it != bulks_.end();)
      it = it->second.expires < now ? bulks_.erase(it) : std::next(it);
    bulks_[token] = std::move(b);
  }
  send_json(res, 200, json::dump(reply_doc));
}

void ReviewUi::Impl::handle_bulk_apply(const httplib::Request& req, httplib::Response& res, const Login& l) {
  auto body = body_object(req);
  if (!body) return send_error(res, 400, body.status().message());
  std::string token = json::get_string(*body, "confirmation");
  std::string reason = json::get_string(*body, "reason");
  if (reason.empty()) return send_error(res, 400, "say why: 'reason' is required for a bulk change");
  Bulk b;
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = bulks_.find(token);
    if (token.empty() || it == bulks_.end() || it->second.expires < std::chrono::steady_clock::now() ||
        it->second.actor != l.actor)
      return send_error(res, 409,
                        "unknown or expired confirmation: preview the bulk change again (a confirmation is valid "
                        "10 minutes, once, for the reviewer who asked for it)");
    b = std::move(it->second);
    bulks_.erase(it);
  }
  auto changes = data::set_review_many(store_, b.ids, b.status, l.actor, reason, "");
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  int64_t changed = 0;
  Value failed(rapidjson::kArrayType);
  for (const auto& c : changes) {
    if (c.error.empty()) {
      ++changed;
    } else {
      Value f(rapidjson::kObjectType);
      json::set(f, "session_id", c.session_id, a);
      json::set(f, "error", c.error, a);
      failed.PushBack(f, a);
    }
  }
  json::set(d, "changed", changed, a);
  json::set(d, "status", status_name(b.status), a);
  json::set(d, "failed", std::move(failed), a);
  log::info("review-ui", l.actor + " set " + std::to_string(changed) + " session(s) " +
                             std::string(status_name(b.status)) + " in bulk");
  send_json(res, 200, secrets::redact(json::dump(d)));
}

Result<data::ExportOptions> ReviewUi::Impl::export_options(const Value& body) {
  data::ExportOptions o;
  ATLAS_ASSIGN_OR_RETURN(o.format, data::parse_export_format(json::get_string(body, "format", "atlas-jsonl")));
  Input in(body);
  auto review = split_list(in.get("review"));
  if (review.size() == 1 && review[0] == "all") {
    o.filters.review_statuses = std::nullopt;
  } else if (!review.empty()) {
    ATLAS_ASSIGN_OR_RETURN(auto parsed, parse_review_statuses(review, "review"));
    o.filters.review_statuses = parsed;
  } else {
    o.filters.review_statuses = data::resolve_review_filter(options_.review, {}, false);
  }
  if (auto st = split_list(in.get("status")); !st.empty()) {
    ATLAS_ASSIGN_OR_RETURN(o.filters.statuses, parse_session_statuses(st, "status"));
  }
  ATLAS_ASSIGN_OR_RETURN(o.filters.min_reward, number_param(in, "min_reward"));
  o.filters.learning_key = in.get("key");
  if (std::string since = in.get("since"); !since.empty()) {
    if (Status st = check_date(since, "since"); !st.is_ok()) return st;
    o.filters.created_after = since;
  }
  ATLAS_ASSIGN_OR_RETURN(auto limit, number_param(in, "limit"));
  if (limit) {
    if (*limit < 1) return invalid_argument("'limit' must be at least 1");
    o.filters.limit = static_cast<int64_t>(*limit);
  }
  o.strip_playbook = json::get_bool(body, "strip_playbook");
  return o;
}

void ReviewUi::Impl::handle_export_count(const httplib::Request& req, httplib::Response& res) {
  auto body = body_object(req);
  if (!body) return send_error(res, 400, body.status().message());
  auto o = export_options(*body);
  if (!o) return send_error(res, 400, o.status().message());
  auto out = store_.execute("count_sessions", data::filters_json(o->filters));
  if (!out) return send_error(res, http_status(out.status()), out.status().message());
  auto doc = json::parse(*out, "count_sessions response");
  if (!doc) return send_error(res, 500, doc.status().message());
  int64_t n = json::get_int(*doc, "count");
  if (o->filters.limit && n > *o->filters.limit) n = *o->filters.limit;
  send_json(res, 200, "{\"count\":" + std::to_string(n) + "}");
}

void ReviewUi::Impl::handle_export(const httplib::Request& req, httplib::Response& res) {
  auto body = body_object(req);
  if (!body) return send_error(res, 400, body.status().message());
  auto o = export_options(*body);
  if (!o) return send_error(res, 400, o.status().message());
  std::string id = random_hex(16);
  o->output = options_.export_dir / (id + ".jsonl");
  auto summary = data::export_sessions(store_, *o);
  if (!summary) return send_error(res, http_status(summary.status()), summary.status().message());
  std::string filename = "atlas-" + std::string(data::export_format_name(o->format)) + "-" + date_stamp() + ".jsonl";
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::set(d, "format", data::export_format_name(o->format), a);
  json::set(d, "sessions", static_cast<int64_t>(summary->sessions), a);
  json::set(d, "records", static_cast<int64_t>(summary->records), a);
  json::set(d, "bytes", static_cast<int64_t>(summary->bytes), a);
  json::set(d, "sha256", summary->sha256, a);
  json::set(d, "cost_usd", summary->cost_usd ? Value(*summary->cost_usd) : Value(), a);
  if (summary->sessions > 0) {
    json::set(d, "download", "/ui/api/exports/" + id, a);
    json::set(d, "filename", filename, a);
    std::lock_guard<std::mutex> g(mu_);
    exports_[id] = ExportFile{o->output, filename};
  }
  send_json(res, 200, json::dump(d));
}

void ReviewUi::Impl::handle_download(const std::string& id, httplib::Response& res) {
  ExportFile f;
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = exports_.find(id);
    if (it == exports_.end()) return send_error(res, 404, "no such export (exports live until the server stops)");
    f = it->second;
  }
  auto in = std::make_shared<std::ifstream>(f.path, std::ios::binary);
  if (!*in) return send_error(res, 404, "the export file " + f.path.string() + " is gone");
  std::error_code ec;
  const size_t size = static_cast<size_t>(std::filesystem::file_size(f.path, ec));
  res.set_header("Content-Disposition", "attachment; filename=\"" + f.filename + "\"");
  res.set_header("Cache-Control", "no-store");
  res.set_content_provider(size, "application/x-ndjson", [in](size_t offset, size_t length, httplib::DataSink& sink) {
    std::string buf(std::min<size_t>(length, 64 * 1024), '\0');
    in->seekg(static_cast<std::streamoff>(offset));
    in->read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::streamsize got = in->gcount();
    if (got <= 0) return false;
    sink.write(buf.data(), static_cast<size_t>(got));
    return true;
  });
}

Result<std::unique_ptr<ReviewUi>> ReviewUi::create(data::Store& store, UiOptions options) {
  std::vector<Reviewer> reviewers;
  if (!options.tokens_env.empty()) {
    auto value = secrets::read_env_secret(options.tokens_env);
    if (!value)
      return failed_precondition("[serve] ui_tokens_env names " + options.tokens_env +
                                 ", which is not set; export it (name=TOKEN pairs separated by commas) or remove the "
                                 "setting");
    ATLAS_ASSIGN_OR_RETURN(reviewers, parse_reviewer_tokens(options.tokens_env, *value));
    for (const auto& r : reviewers) secrets::register_secret(options.tokens_env, r.token);
  }
  if (reviewers.empty() && !is_loopback_name(options.listen_host))
    return failed_precondition("the review UI would listen on " + options.listen_host +
                               " without reviewer tokens: anyone who reaches it could approve training data; set "
                               "[serve] ui_tokens_env (a variable holding name=TOKEN pairs) or listen on 127.0.0.1");
  auto impl = std::make_unique<Impl>(store, std::move(options), std::move(reviewers));
  if (Status st = impl->prepare_export_dir(); !st.is_ok()) return st;
  return std::unique_ptr<ReviewUi>(new ReviewUi(std::move(impl)));
}

ReviewUi::ReviewUi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReviewUi::~ReviewUi() = default;
void ReviewUi::mount(httplib::Server& server) {
  impl_->mount(server);
}

struct UiServer::State {
  ReviewUi& ui;
  httplib::Server server;
  std::thread listener;
};

UiServer::UiServer(ReviewUi& ui) : state_(new State{ui, {}, {}}) {}
UiServer::~UiServer() {
  stop();
}

Result<int> UiServer::start(const std::string& host, int port) {
  state_->ui.mount(state_->server);
  state_->server.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/ui/"); });
  state_->server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  state_->server.set_tcp_nodelay(true);
  if (port == 0) {
    port = state_->server.bind_to_any_port(host);
    if (port < 0) return unavailable("could not bind " + host + ":0");
  } else if (!state_->server.bind_to_port(host, port)) {
    return unavailable("could not bind " + host + ":" + std::to_string(port) +
                       " (in use, or not an address of this machine); choose another with --listen");
  }
  state_->listener = std::thread([s = state_.get()] { s->server.listen_after_bind(); });
  return port;
}

void UiServer::stop() {
  if (!state_ || !state_->listener.joinable()) return;
  state_->server.stop();
  state_->listener.join();
}

}  // namespace atlas::review_ui
