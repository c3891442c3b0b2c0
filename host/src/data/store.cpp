#include "data/store.hpp"

#include <chrono>
#include <condition_variable>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/log.hpp"
#include "common/scheduling_class.hpp"
#include "common/secrets.hpp"
#include "common/text.hpp"
#include "data/spool.hpp"

namespace atlas::data {

namespace {

constexpr std::string_view kProvisional = "pending:";

class HandleBackend : public StorageBackend {
 public:
  explicit HandleBackend(plugin::StorageHandle h) : h_(std::move(h)) {}
  Result<std::string> execute(std::string_view op, std::string_view request_json) override {
    plugin::CallContext call;
    return h_.execute(call, op, request_json);
  }

 private:
  plugin::StorageHandle h_;
};

std::string random_key() {
  static thread_local std::mt19937_64 rng{std::random_device{}() ^
                                          static_cast<uint64_t>(clock::now_unix_us())};
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

bool transient(const Status& s) { return s.retryable() || s.code() == StatusCode::kDeadlineExceeded; }

// The storage boundary: every request to the plugin or the spool is made of valid UTF-8
// without NUL and holds no registered secret.
std::string clean_request(std::string_view request_json, text::Repairs* repairs = nullptr) {
  return secrets::redact(text::normalise_json(request_json, repairs));
}

// A trajectory event saying that text of the session was normalised (same shape as the
// runtime's events).
std::string text_normalised_event(std::string_view where, const text::Repairs& r) {
  int64_t now = clock::now_unix_us();
  return "{\"id\":" + json::quote(random_key()) + ",\"parent_id\":null,\"type\":\"storage\",\"name\":\"text_normalised\"" +
         ",\"role\":\"host\",\"session_id\":null,\"step_id\":null,\"timestamp\":" + json::quote(clock::iso8601_utc(now)) +
         ",\"timestamp_us\":" + std::to_string(now) + ",\"data\":{\"in\":" + json::quote(where) +
         ",\"invalid_utf8_replaced\":" + std::to_string(r.invalid_utf8) + ",\"nul_replaced\":" + std::to_string(r.nul) +
         ",\"replacement\":\"U+FFFD\"}}";
}

}  // namespace

std::shared_ptr<StorageBackend> handle_backend(plugin::StorageHandle handle) {
  return std::make_shared<HandleBackend>(std::move(handle));
}

struct PendingEvent {
  std::string event_json;
  std::string created_at;
  std::string event_key;
};

struct SessionState {
  std::string key;
  std::vector<PendingEvent> queue;
  int64_t oldest_ms = 0;
  std::shared_ptr<std::mutex> flush_mu = std::make_shared<std::mutex>();
};

class Store::Impl {
 public:
  Impl(std::shared_ptr<StorageBackend> backend, StoreOptions options)
      : backend_(std::move(backend)),
        opt_(std::move(options)),
        spool_(spool_file_for(opt_.spool_path, opt_.database_url), opt_.database_url) {}

  ~Impl() { stop(); }

  void start() { writer_ = std::thread([this] { writer_loop(); }); }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    (void)flush_all();
    bool pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending = db_down_;
    }
    if (pending && opt_.replay_spool) (void)replay();  // last chance before the process exits
  }

  // The one door to the plugin: the request is cleaned (clean_request) and so is the answer
  // (rows written before secrets were registered, e.g. by an older version).
  Result<std::string> send(std::string_view op, std::string_view req) {
    auto r = backend_->execute(op, clean_request(req));
    if (!r.is_ok()) return Status(r.status().code(), secrets::redact(r.status().message()));
    return secrets::redact(text::normalise_json(*r));
  }

  // One call with retries (bounded by attempts and the time budget). Retries wake early on stop.
  Result<std::string> call(std::string_view op, const std::string& req, bool retry) {
    int attempts = retry ? std::max(1, opt_.retry_attempts) : 1;
    int backoff = opt_.retry_backoff_ms;
    int64_t start = clock::now_unix_ms();
    for (int i = 1;; ++i) {
      auto r = send(op, req);
      if (r.is_ok() || !transient(r.status()) || i >= attempts) return r;
      if (opt_.retry_budget_ms > 0 && clock::now_unix_ms() - start >= opt_.retry_budget_ms) return r;
      std::unique_lock<std::mutex> lock(mu_);
      if (stopping_) return r;
      cv_.wait_for(lock, std::chrono::milliseconds(backoff), [this] { return stopping_; });
      backoff = std::min(backoff * 2, opt_.retry_max_backoff_ms);
    }
  }

  // A write that must not be lost: straight to the spool when the session (or the database) is
  // already in spool mode, else tried with retries and spooled past the bound.
  Status durable_write(std::string_view op, const std::string& session_key, const std::string& req) {
    bool spool_now;
    {
      std::lock_guard<std::mutex> lock(mu_);
      spool_now = db_down_ || spooled_sessions_.count(session_key) > 0;
    }
    if (!spool_now) {
      auto r = call(op, req, true);
      if (r.is_ok()) return Status::ok();
      if (!transient(r.status())) return r.status();
      log::warn("storage", std::string(op) + " failed, spooling to " + spool_.path().string() + ": " +
                               r.status().to_string());
    }
    return spool_write(op, session_key, req);
  }

  Status spool_write(std::string_view op, const std::string& session_key, const std::string& req) {
    std::lock_guard<std::mutex> spool_lock(spool_.mutex());
    ATLAS_RETURN_IF_ERROR(spool_.append({std::string(op), clean_request(req)}));
    std::lock_guard<std::mutex> lock(mu_);
    db_down_ = true;
    spooled_sessions_.insert(session_key);
    return Status::ok();
  }

  Result<size_t> replay() {
    std::lock_guard<std::mutex> spool_lock(spool_.mutex());
    ATLAS_ASSIGN_OR_RETURN(FileLock replaying, spool_.try_replay_lock());
    if (!replaying.held()) return size_t{0};  // another process replays this spool right now
    ATLAS_ASSIGN_OR_RETURN(auto records, spool_.read_all());
    size_t done = 0;
    Status stopped_by;
    for (; done < records.size(); ++done) {
      const SpoolRecord& rec = records[done];
      auto r = send(rec.op, rec.request_json);
      if (r.is_ok()) continue;
      if (transient(r.status())) {
        stopped_by = r.status();
        break;
      }
      // Refused for good (e.g. a malformed record): keep it aside so it cannot block the rest.
      log::error("storage", "spooled " + rec.op + " refused by the database, moved to " + spool_.path().string() +
                                ".rejected: " + r.status().to_string());
      ATLAS_RETURN_IF_ERROR(spool_.reject(rec, r.status().to_string()));
    }
    if (done > 0) ATLAS_RETURN_IF_ERROR(spool_.remove_replayed(done));
    if (done == records.size() && spool_.count() == 0) {
      std::lock_guard<std::mutex> lock(mu_);
      db_down_ = false;
      spooled_sessions_.clear();
    }
    if (!stopped_by.is_ok() && done == 0) return stopped_by;
    return done;
  }

  // Sends the queued events of one session (ordered by the session's flush mutex).
  Status flush_session(const std::string& id) {
    std::shared_ptr<std::mutex> flush_mu;
    std::string key;
    std::vector<PendingEvent> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = sessions_.find(id);
      if (it == sessions_.end()) return Status::ok();
      flush_mu = it->second.flush_mu;
    }
    std::lock_guard<std::mutex> order(*flush_mu);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = sessions_.find(id);
      if (it == sessions_.end() || it->second.queue.empty()) return Status::ok();
      batch.swap(it->second.queue);
      key = it->second.key;
      it->second.oldest_ms = 0;
    }
    std::string req = "{\"session_key\":" + json::quote(key);
    if (id.rfind(kProvisional, 0) != 0) req += ",\"session_id\":" + json::quote(id);
    req += ",\"events\":[";
    for (size_t i = 0; i < batch.size(); ++i) {
      if (i) req += ',';
      req += "{\"event\":" + batch[i].event_json + ",\"created_at\":" + json::quote(batch[i].created_at) +
             ",\"event_key\":" + json::quote(batch[i].event_key) + "}";
    }
    req += "]}";
    return durable_write("append_events", key, req);
  }

  Status flush_all() {
    std::vector<std::string> ids;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, s] : sessions_) {
        if (!s.queue.empty()) ids.push_back(id);
      }
    }
    Status first;
    for (const auto& id : ids) {
      Status s = flush_session(id);
      if (!s.is_ok() && first.is_ok()) first = s;
    }
    return first;
  }

  void writer_loop() {
    if (opt_.idle_writer) run_this_thread_in_background();
    int64_t last_replay_ms = 0;
    for (;;) {
      std::vector<std::string> due;
      bool try_replay = false;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(std::max(10, opt_.batch_max_age_ms / 2)),
                     [this] { return stopping_ || urgent_; });
        if (stopping_) return;
        urgent_ = false;
        int64_t now = clock::now_unix_ms();
        for (const auto& [id, s] : sessions_) {
          if (s.queue.empty()) continue;
          if (s.queue.size() >= opt_.batch_max_events || now - s.oldest_ms >= opt_.batch_max_age_ms) due.push_back(id);
        }
        if (db_down_ && opt_.replay_spool && now - last_replay_ms >= 500) {
          try_replay = true;
          last_replay_ms = now;
        }
      }
      if (try_replay) {
        auto r = replay();
        if (r.is_ok() && *r > 0) log::info("storage", "replayed " + std::to_string(*r) + " spooled records");
      }
      for (const auto& id : due) {
        Status s = flush_session(id);
        if (!s.is_ok()) log::error("storage", "cannot write events of session " + id + ": " + s.to_string());
      }
    }
  }

  std::shared_ptr<StorageBackend> backend_;
  StoreOptions opt_;
  Spool spool_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, SessionState> sessions_;  // by id (real or provisional)
  std::set<std::string> spooled_sessions_;        // session keys with records in the spool
  uint64_t next_event_seq_ = 0;                    // event keys stay unique even when a session's state is rebuilt
  bool db_down_ = false;
  bool stopping_ = false;
  bool urgent_ = false;
  std::thread writer_;
};

// ---- Store ------------------------------------------------------------------------------

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() {
  if (impl_) impl_->stop();
}

Result<std::shared_ptr<Store>> Store::open(std::shared_ptr<StorageBackend> backend, StoreOptions options) {
  if (!backend) return invalid_argument("Store::open: no storage backend");
  secrets::register_database_url(options.database_url);
  auto impl = std::make_unique<Impl>(std::move(backend), std::move(options));
  Impl& in = *impl;
  if (in.opt_.migrate_on_open) {
    auto r = in.call("migrate", "{}", true);
    if (!r.is_ok()) {
      if (!transient(r.status())) return r.status().with_context("storage migrate");
      log::warn("storage", "database unreachable at start, writes go to the spool " + in.spool_.path().string() +
                               " until it is back: " + r.status().to_string());
      in.db_down_ = true;
    }
  }
  if (!in.db_down_) {
    if (in.opt_.replay_spool && in.spool_.count() > 0) {
      auto r = in.replay();
      if (!r.is_ok()) log::warn("storage", "spool replay deferred: " + r.status().to_string());
      if (in.spool_.count() > 0) in.db_down_ = true;  // the writer thread keeps trying
    }
    if (in.opt_.recover_on_open) {
      auto r = in.call("recover_interrupted", "{}", true);
      if (!r.is_ok()) log::warn("storage", "recover_interrupted failed: " + r.status().to_string());
    }
  }
  in.start();
  return std::shared_ptr<Store>(new Store(std::move(impl)));
}

Result<std::shared_ptr<Store>> Store::open(plugin::StorageHandle handle, StoreOptions options) {
  return open(handle_backend(std::move(handle)), std::move(options));
}

Result<std::string> Store::begin_session(std::string_view task, std::string_view metadata_json) {
  std::string key = random_key();
  std::string meta = metadata_json.empty() ? "{}" : std::string(metadata_json);
  auto parsed = json::parse(meta, "session metadata", json::kMaxInputDepth);
  if (!parsed.is_ok()) return parsed.status();
  if (!parsed->IsObject()) return invalid_argument("begin_session: metadata must be a JSON object");
  text::Repairs repairs;
  std::string req = clean_request("{\"task\":" + json::quote(task) + ",\"metadata\":" + meta +
                                      ",\"session_key\":" + json::quote(key) +
                                      ",\"created_at\":" + json::quote(clock::now_iso8601()) + "}",
                                  &repairs);
  std::string id;
  bool spool_now;
  {
    std::lock_guard<std::mutex> lock(impl_->mu_);
    spool_now = impl_->db_down_;
  }
  if (!spool_now) {
    auto r = impl_->call("begin_session", req, true);
    if (r.is_ok()) {
      auto doc = json::parse(*r, "begin_session response");
      if (!doc.is_ok()) return doc.status();
      id = json::get_string(*doc, "session_id");
    } else if (!transient(r.status())) {
      return r.status();
    }
  }
  if (id.empty()) {
    ATLAS_RETURN_IF_ERROR(impl_->spool_write("begin_session", key, req));
    id = std::string(kProvisional) + key;
  }
  {
    std::lock_guard<std::mutex> lock(impl_->mu_);
    impl_->sessions_[id].key = key;
  }
  if (repairs.any()) append_event(id, text_normalised_event("task or metadata", repairs));
  return id;
}

void Store::append_event(const std::string& session_id, std::string_view event_json) {
  text::Repairs repairs;
  std::string cleaned = clean_request(event_json, &repairs);
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(impl_->mu_);
    auto it = impl_->sessions_.find(session_id);
    if (it == impl_->sessions_.end()) {
      // A session whose state is gone (events after finish_session, e.g. learning) or that this
      // Store did not begin (resumed by id). A provisional id carries its session key; a
      // database id is addressed by id.
      it = impl_->sessions_.emplace(session_id, SessionState{}).first;
      it->second.key = session_id.rfind(kProvisional, 0) == 0 ? session_id.substr(kProvisional.size())
                                                              : "id:" + session_id + ":" + random_key().substr(0, 8);
    }
    SessionState& s = it->second;
    if (s.queue.empty()) s.oldest_ms = clock::now_unix_ms();
    s.queue.push_back({cleaned, clock::now_iso8601(), s.key + ":" + std::to_string(impl_->next_event_seq_++)});
    wake = s.queue.size() >= impl_->opt_.batch_max_events;
    if (wake) impl_->urgent_ = true;
  }
  if (wake) impl_->cv_.notify_all();
  if (repairs.any()) append_event(session_id, text_normalised_event("event", repairs));
}

Status Store::flush(const std::string& session_id) { return impl_->flush_session(session_id); }
Status Store::flush_all() { return impl_->flush_all(); }

Status Store::finish_session(std::string_view finish_json) {
  auto doc = json::parse(finish_json, "finish_session request");
  if (!doc.is_ok()) return doc.status();
  return finish_session(std::move(*doc));
}

Status Store::finish_session(json::Document finish) {
  if (!finish.IsObject()) return invalid_argument("finish_session: request must be a JSON object");
  std::string id = json::get_string(finish, "session_id");
  if (id.empty()) return invalid_argument("finish_session: 'session_id' is required");
  std::string key;
  {
    std::lock_guard<std::mutex> lock(impl_->mu_);
    auto it = impl_->sessions_.find(id);
    key = it != impl_->sessions_.end() ? it->second.key : "id:" + id;
  }
  auto& a = finish.GetAllocator();
  const bool by_key = key.rfind("id:", 0) != 0;
  if (by_key) json::set(finish, "session_key", key, a);
  if (id.rfind(kProvisional, 0) == 0) finish.RemoveMember("session_id");
  if (!json::find(finish, "completed_at")) json::set(finish, "completed_at", clock::now_iso8601(), a);
  const std::string request = json::dump(finish);
  // Counted here so that the event saying so is stored with the session's events, before the
  // finish (send() repairs the text itself).
  text::Repairs repairs;
  (void)text::normalise_json(request, &repairs);
  if (repairs.any()) append_event(id, text_normalised_event("final result", repairs));
  ATLAS_RETURN_IF_ERROR(impl_->flush_session(id));
  Status s = impl_->durable_write("finish_session", key, request);
  if (s.is_ok()) {
    // Forget the session unless it has records in the spool: a later learning_put must then
    // follow them there (it would otherwise land before the finish that overwrites it).
    std::lock_guard<std::mutex> lock(impl_->mu_);
    auto it = impl_->sessions_.find(id);
    if (it != impl_->sessions_.end() && it->second.queue.empty() && !impl_->spooled_sessions_.count(key))
      impl_->sessions_.erase(it);
  }
  return s;
}

Result<LearningHistory> Store::learning_history(std::string_view learning_key, int limit) {
  ATLAS_ASSIGN_OR_RETURN(std::string out,
                         impl_->call("learning_history",
                                     "{\"learning_key\":" + json::quote(learning_key) +
                                         ",\"limit\":" + std::to_string(limit) + "}",
                                     true));
  ATLAS_ASSIGN_OR_RETURN(auto doc, json::parse(out, "learning_history response"));
  LearningHistory h;
  if (const json::Value* recs = json::find(doc, "records"); recs && recs->IsArray()) {
    for (const auto& r : recs->GetArray()) {
      LearningRecord rec;
      const json::Value* reward = json::find(r, "reward");
      rec.reward_json = reward ? json::dump(*reward) : "null";
      rec.student_learning = json::get_string(r, "student_learning");
      rec.teacher_learning = json::get_string(r, "teacher_learning");
      rec.created_at = json::get_string(r, "created_at");
      rec.completed_at = json::get_string(r, "completed_at");
      h.records.push_back(std::move(rec));
    }
  }
  h.total_count = std::max<int64_t>(json::get_int(doc, "total_count", 0), static_cast<int64_t>(h.records.size()));
  h.overall_average_score = json::get_optional_double(doc, "overall_average_score");
  return h;
}

Result<LearningState> Store::learning_get(std::string_view learning_key) {
  ATLAS_ASSIGN_OR_RETURN(std::string out,
                         impl_->call("learning_get", "{\"learning_key\":" + json::quote(learning_key) + "}", true));
  ATLAS_ASSIGN_OR_RETURN(auto doc, json::parse(out, "learning_get response"));
  LearningState s;
  s.found = json::get_bool(doc, "found");
  s.student_learning = json::get_string(doc, "student_learning");
  s.teacher_learning = json::get_string(doc, "teacher_learning");
  const json::Value* meta = json::find(doc, "metadata");
  s.metadata_json = meta && meta->IsObject() ? json::dump(*meta) : "{}";
  s.version = json::get_int(doc, "version");
  s.updated_at = json::get_string(doc, "updated_at");
  return s;
}

Result<int64_t> Store::learning_put(std::string_view learning_key, std::string_view student_learning,
                                    std::string_view teacher_learning, std::string_view metadata_json,
                                    int64_t expected_version, const SessionLearning* session) {
  std::string session_key;  // of the session whose learning text this carries, for spool ordering
  std::string req = "{\"learning_key\":" + json::quote(learning_key) +
                    ",\"student_learning\":" + json::quote(student_learning) +
                    ",\"teacher_learning\":" + json::quote(teacher_learning) +
                    ",\"metadata\":" + (metadata_json.empty() ? std::string("{}") : std::string(metadata_json)) +
                    ",\"expected_version\":" + std::to_string(expected_version);
  if (session && !session->session_id.empty()) {
    const std::string& id = session->session_id;
    req += ",\"session\":{";
    if (id.rfind(kProvisional, 0) == 0) {
      session_key = id.substr(kProvisional.size());
      req += "\"session_key\":" + json::quote(session_key);
    } else {
      std::lock_guard<std::mutex> lock(impl_->mu_);
      if (auto it = impl_->sessions_.find(id); it != impl_->sessions_.end()) session_key = it->second.key;
      req += "\"session_id\":" + json::quote(id);
    }
    auto text_or_null = [](const std::string& t) { return t.empty() ? std::string("null") : json::quote(t); };
    req += ",\"student_learning\":" + text_or_null(session->student_learning) +
           ",\"teacher_learning\":" + text_or_null(session->teacher_learning) + "}";
  }
  req += "}";
  bool spool_now;
  {
    std::lock_guard<std::mutex> lock(impl_->mu_);
    spool_now = impl_->db_down_ || (!session_key.empty() && impl_->spooled_sessions_.count(session_key) > 0);
  }
  Result<std::string> r = unavailable("the database is unreachable");
  if (!spool_now) {
    // ABORTED is a version conflict here: the caller must re-read, so no retry.
    r = impl_->send("learning_put", req);
    if (!r.is_ok() && r.status().code() != StatusCode::kAborted && transient(r.status())) {
      r = impl_->call("learning_put", req, true);
    }
  }
  if (!r.is_ok() && r.status().code() != StatusCode::kAborted && transient(r.status())) {
    // Spooled behind the session's own records. At replay the playbook is written only if no
    // one else changed it meanwhile (the newer playbook wins); the session's learning text is
    // stored either way.
    req.insert(req.size() - 1, ",\"on_version_conflict\":\"session_only\"");
    ATLAS_RETURN_IF_ERROR(impl_->spool_write("learning_put", session_key, req));
    return expected_version + 1;
  }
  if (!r.is_ok()) return r.status();
  ATLAS_ASSIGN_OR_RETURN(auto doc, json::parse(*r, "learning_put response"));
  return json::get_int(doc, "version");
}

Result<std::vector<std::string>> Store::reward_baseline(std::string_view learning_key, int window,
                                                        std::string_view exclude_session_id) {
  std::string exclude(exclude_session_id);
  if (exclude.rfind(kProvisional, 0) == 0) exclude.clear();  // not in the database yet
  ATLAS_ASSIGN_OR_RETURN(std::string out,
                         impl_->call("reward_baseline",
                                     "{\"learning_key\":" + json::quote(learning_key) +
                                         ",\"window\":" + std::to_string(window) +
                                         ",\"exclude_session_id\":" + json::quote(exclude) + "}",
                                     true));
  ATLAS_ASSIGN_OR_RETURN(auto doc, json::parse(out, "reward_baseline response"));
  std::vector<std::string> stats;
  if (const json::Value* arr = json::find(doc, "reward_stats"); arr && arr->IsArray()) {
    for (const auto& v : arr->GetArray()) stats.push_back(json::dump(v));
  }
  return stats;
}

Result<std::vector<std::string>> Store::recover_interrupted() {
  ATLAS_ASSIGN_OR_RETURN(std::string out, impl_->call("recover_interrupted", "{}", true));
  ATLAS_ASSIGN_OR_RETURN(auto doc, json::parse(out, "recover_interrupted response"));
  std::vector<std::string> ids;
  if (const json::Value* arr = json::find(doc, "interrupted"); arr && arr->IsArray()) {
    for (const auto& v : arr->GetArray()) {
      if (v.IsString()) ids.emplace_back(v.GetString(), v.GetStringLength());
    }
  }
  return ids;
}

Result<size_t> Store::replay_spool() { return impl_->replay(); }

SpoolStatus Store::spool_status() const { return read_spool_status(impl_->spool_.path()); }

Result<std::string> Store::execute(std::string_view op, std::string_view request_json) {
  return impl_->call(op, std::string(request_json), true);
}

SpoolStatus read_spool_status(const std::filesystem::path& spool_path) {
  Spool spool(spool_path);
  return SpoolStatus{spool_path, spool.count()};
}

}  // namespace atlas::data
