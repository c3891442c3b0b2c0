// The review UI's JSON API (docs/review-ui.md) over real sockets: a UiServer on loopback, the
// real soci plugin on SQLite and PostgreSQL, requests made with cpp-httplib as a browser would.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <set>

#include "common/digest.hpp"
#include "common/json.hpp"
#include "data/review.hpp"
#include "integration/storage/storage_fixture.hpp"
#include "review_ui/auth.hpp"
#include "review_ui/review_ui.hpp"

namespace atlas::review_ui {
namespace {

using test::BackendTest;

struct Seed {
  std::string task;
  std::string answer;
  std::string lane;
  double reward;
  std::string review;  // pending | approved | quarantined
  std::string key;
  std::string status = "succeeded";
};

std::string finish_json(const std::string& id, const Seed& s) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::set(d, "session_id", id, a);
  json::set(d, "status", s.status, a);
  json::set(d, "final_answer", s.answer, a);
  json::Value meta(rapidjson::kObjectType);
  json::set(meta, "learning_key", s.key, a);
  json::set(meta, "execution_mode", s.lane, a);
  json::Value usage(rapidjson::kObjectType);
  json::set(usage, "total_tokens", int64_t{100}, a);
  json::set(meta, "token_usage", std::move(usage), a);
  json::set(d, "metadata", std::move(meta), a);
  json::Value reward(rapidjson::kObjectType);
  json::set(reward, "score", s.reward, a);
  json::set(d, "reward", json::Value(reward, a), a);
  json::set(d, "reward_stats", std::move(reward), a);
  json::set(d, "review_status", s.review, a);
  json::set(d, "review_actor", "runtime", a);
  json::set(d, "student_learning", "playbook after " + s.task, a);
  return json::dump(d);
}

class ReviewUiApi : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped()) return;
    auto store = data::Store::open(data::handle_backend(handle()), store_options());
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    store_ = *store;
  }
  void TearDown() override {
    server_.reset();
    ui_.reset();
    store_.reset();
    BackendTest::TearDown();
  }

  std::string seed(const Seed& s) {
    auto id = store_->begin_session(s.task, "{}");
    EXPECT_TRUE(id.is_ok()) << id.status().to_string();
    EXPECT_TRUE(store_->finish_session(finish_json(*id, s)).is_ok());
    return *id;
  }

  // Seven sessions: two lanes, three review states, two learning keys, rewards 0.1 .. 0.9.
  std::vector<std::string> seed_default() {
    std::vector<std::string> ids;
    ids.push_back(seed({"Capital of France?", "Paris", "auto", 0.9, "pending", "geo"}));
    ids.push_back(seed({"Capital of Peru?", "Lima", "coach", 0.4, "pending", "geo"}));
    ids.push_back(seed({"What is 6*7?", "42", "coach", 0.7, "approved", "math"}));
    ids.push_back(seed({"<script>alert(1)</script> sum 2+2", "4", "auto", 0.5, "pending", "math"}));
    ids.push_back(seed({"Square root of 81", "9", "paired", 0.1, "quarantined", "math"}));
    ids.push_back(seed({"Largest ocean", "The Pacific", "coach", 0.8, "pending", "geo"}));
    ids.push_back(seed({"Capital of Chile?", "Santiago", "auto", 0.6, "pending", "geo"}));
    return ids;
  }

  void start(UiOptions o = {}) {
    if (o.local_actor.empty()) o.local_actor = "local-tester";
    o.export_dir = dir_ / "exports";
    auto ui = ReviewUi::create(*store_, o);
    ASSERT_TRUE(ui.is_ok()) << ui.status().to_string();
    ui_ = std::move(*ui);
    server_ = std::make_unique<UiServer>(*ui_);
    auto port = server_->start("127.0.0.1", 0);
    ASSERT_TRUE(port.is_ok()) << port.status().to_string();
    port_ = *port;
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(std::chrono::seconds(60));
    return c;
  }

  // GET /ui/api/me: the login cookie ("name=value") and the CSRF token.
  void login_local() {
    auto r = client().Get("/ui/api/me");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    std::string set_cookie = r->get_header_value("Set-Cookie");
    EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos) << set_cookie;
    EXPECT_NE(set_cookie.find("SameSite=Strict"), std::string::npos) << set_cookie;
    cookie_ = set_cookie.substr(0, set_cookie.find(';'));
    auto doc = json::parse(r->body);
    ASSERT_TRUE(doc.is_ok());
    csrf_ = json::get_string(*doc, "csrf");
    EXPECT_EQ(csrf_.size(), 64u);
  }

  httplib::Headers auth(bool with_csrf = true) const {
    httplib::Headers h{{"Cookie", cookie_}};
    if (with_csrf) h.emplace("X-CSRF-Token", csrf_);
    return h;
  }

  json::Document get_json(const std::string& path, int expect = 200) {
    auto r = client().Get(path, auth(false));
    json::Document d;
    EXPECT_TRUE(r) << path;
    if (!r) return d;
    EXPECT_EQ(r->status, expect) << path << ": " << r->body;
    auto doc = json::parse(r->body);
    EXPECT_TRUE(doc.is_ok()) << r->body;
    return doc.is_ok() ? std::move(*doc) : std::move(d);
  }

  httplib::Result post(const std::string& path, const std::string& body, bool with_csrf = true) {
    return client().Post(path, auth(with_csrf), body, "application/json");
  }

  std::vector<std::string> ids_of(const json::Value& page) {
    std::vector<std::string> out;
    if (const json::Value* s = json::find(page, "sessions"); s && s->IsArray())
      for (const auto& x : s->GetArray()) out.push_back(json::get_string(x, "session_id"));
    return out;
  }

  // The session's review_events rows, as stored, after the one finish_session wrote (actor
  // "runtime": the initial status).
  json::Document review_events(const std::string& id) {
    auto out = store_->execute("read_session", "{\"session_id\":\"" + id + "\"}");
    EXPECT_TRUE(out.is_ok());
    auto doc = json::parse(*out);
    json::Document events(rapidjson::kArrayType);
    if (const json::Value* r = json::find(*doc, "review_events"); r && r->IsArray())
      for (const auto& e : r->GetArray())
        if (json::get_string(e, "actor") != "runtime")
          events.PushBack(json::Value(e, events.GetAllocator()), events.GetAllocator());
    return events;
  }

  std::shared_ptr<data::Store> store_;
  std::unique_ptr<ReviewUi> ui_;
  std::unique_ptr<UiServer> server_;
  int port_ = 0;
  std::string cookie_, csrf_;
};

TEST_P(ReviewUiApi, ListFiltersSearchSortAndCounts) {
  auto ids = seed_default();
  start();
  login_local();

  auto all = get_json("/ui/api/sessions");
  EXPECT_EQ(json::get_int(all, "count"), 7);
  EXPECT_EQ(ids_of(all).front(), ids.back());  // newest first
  const json::Value& counts = all["counts"];
  EXPECT_EQ(json::get_int(counts, "pending"), 5);
  EXPECT_EQ(json::get_int(counts, "approved"), 1);
  EXPECT_EQ(json::get_int(counts, "quarantined"), 1);

  // Free text over task and answer, case-insensitive; LIKE wildcards are literal.
  EXPECT_EQ(ids_of(get_json("/ui/api/sessions?q=capital")).size(), 3u);
  EXPECT_EQ(ids_of(get_json("/ui/api/sessions?q=PACIFIC")), std::vector<std::string>{ids[5]});
  EXPECT_TRUE(ids_of(get_json("/ui/api/sessions?q=%25")).empty());

  // Lane + review status; counts keep the other filters and leave the review filter out.
  auto coach_pending = get_json("/ui/api/sessions?lane=coach&review=pending");
  EXPECT_EQ(ids_of(coach_pending), (std::vector<std::string>{ids[5], ids[1]}));
  EXPECT_EQ(json::get_int(coach_pending, "count"), 2);
  EXPECT_EQ(json::get_int(coach_pending["counts"], "approved"), 1);

  // Reward range and learning key.
  EXPECT_EQ(ids_of(get_json("/ui/api/sessions?min_reward=0.55&max_reward=0.85&key=geo")),
            (std::vector<std::string>{ids[6], ids[5]}));

  // Dates: everything was created today; nothing before 2000.
  EXPECT_EQ(ids_of(get_json("/ui/api/sessions?until=2000-01-01")).size(), 0u);
  EXPECT_EQ(ids_of(get_json("/ui/api/sessions?since=2000-01-01")).size(), 7u);

  // Sorted by reward, paged by cursor two at a time: every session once, in reward order.
  std::vector<std::string> seen;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    auto p = get_json("/ui/api/sessions?sort=reward_desc&limit=2" + (after.empty() ? "" : "&after=" + after));
    for (auto& id : ids_of(p)) seen.push_back(id);
    const json::Value* next = json::find(p, "next");
    if (!next || !next->IsString()) break;
    after = next->GetString();
    if (size_t bar = after.find('|'); bar != std::string::npos) after.replace(bar, 1, "%7C");
  }
  EXPECT_EQ(seen, (std::vector<std::string>{ids[0], ids[5], ids[2], ids[6], ids[3], ids[1], ids[4]}));
}

TEST_P(ReviewUiApi, BadFiltersAreRefusedWithTheReason) {
  seed_default();
  start();
  login_local();
  auto bad_status = get_json("/ui/api/sessions?review=aproved", 400);
  EXPECT_NE(json::get_string(bad_status, "error").find("approved"), std::string::npos)
      << json::get_string(bad_status, "error");
  auto bad_number = get_json("/ui/api/sessions?min_reward=high", 400);
  EXPECT_NE(json::get_string(bad_number, "error").find("min_reward"), std::string::npos);
  auto bad_date = get_json("/ui/api/sessions?since=yesterday", 400);
  EXPECT_NE(json::get_string(bad_date, "error").find("YYYY-MM-DD"), std::string::npos);
  auto bad_sort = get_json("/ui/api/sessions?sort=random", 400);
  EXPECT_NE(json::get_string(bad_sort, "error").find("reward_desc"), std::string::npos);
  get_json("/ui/api/sessions/999999", 404);
}

TEST_P(ReviewUiApi, DecisionsNeedTheLoginAndTheCsrfTokenAndRecordTheActor) {
  auto ids = seed_default();
  start();
  // No login: the API refuses.
  auto anon = client().Get("/ui/api/sessions");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->status, 401);
  login_local();

  const std::string path = "/ui/api/sessions/" + ids[0] + "/review";
  // Without the CSRF token, and with a wrong one: 403, nothing written.
  auto no_csrf = post(path, R"({"status":"approved","reason":"fine"})", false);
  ASSERT_TRUE(no_csrf);
  EXPECT_EQ(no_csrf->status, 403) << no_csrf->body;
  httplib::Headers wrong{{"Cookie", cookie_}, {"X-CSRF-Token", std::string(64, 'a')}};
  auto wrong_csrf = client().Post(path, wrong, R"({"status":"approved","reason":"fine"})", "application/json");
  ASSERT_TRUE(wrong_csrf);
  EXPECT_EQ(wrong_csrf->status, 403);
  EXPECT_EQ(review_events(ids[0]).Size(), 0u);

  // Quarantine needs a reason.
  auto no_reason = post(path, R"({"status":"quarantined"})");
  ASSERT_TRUE(no_reason);
  EXPECT_EQ(no_reason->status, 400);

  // The decision goes through data::set_review: one review_events row, the login as actor.
  auto ok = post(path, R"({"status":"approved","reason":"answer checked against the atlas","actor":"mallory"})");
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200) << ok->body;
  auto events = review_events(ids[0]);
  ASSERT_EQ(events.Size(), 1u);
  EXPECT_EQ(json::get_string(events[0], "actor"), "local-tester");  // never the body's "actor"
  EXPECT_EQ(json::get_string(events[0], "action"), "set_review");
  EXPECT_EQ(json::get_string(events[0], "previous_status"), "pending");
  EXPECT_EQ(json::get_string(events[0], "new_status"), "approved");
  EXPECT_EQ(json::get_string(events[0], "reason"), "answer checked against the atlas");

  auto note = post("/ui/api/sessions/" + ids[0] + "/note", R"({"note":"double-check the spelling"})");
  ASSERT_TRUE(note);
  EXPECT_EQ(note->status, 200) << note->body;
  EXPECT_EQ(json::get_string(review_events(ids[0])[1], "action"), "note");

  // A corrected answer is a demonstration row (data::add_demonstration), CSRF-protected too.
  const std::string demo = "/ui/api/sessions/" + ids[0] + "/demonstration";
  auto demo_no_csrf = post(demo, R"({"answer":"Paris, France"})", false);
  ASSERT_TRUE(demo_no_csrf);
  EXPECT_EQ(demo_no_csrf->status, 403);
  auto demo_empty = post(demo, R"({"answer":"  "})");
  ASSERT_TRUE(demo_empty);
  EXPECT_EQ(demo_empty->status, 400);
  auto demo_ok = post(demo, R"({"answer":"Paris, France","reason":"name the country too"})");
  ASSERT_TRUE(demo_ok);
  ASSERT_EQ(demo_ok->status, 200) << demo_ok->body;
  auto with_demo = review_events(ids[0]);
  ASSERT_EQ(with_demo.Size(), 3u);
  EXPECT_EQ(json::get_string(with_demo[2], "action"), "demonstration");
  EXPECT_EQ(json::get_string(with_demo[2], "note"), "Paris, France");
  EXPECT_EQ(json::get_string(with_demo[2], "actor"), "local-tester");
  EXPECT_EQ(json::get_string(with_demo[2], "reason"), "name the country too");

  // The full session shows the history.
  auto one = get_json("/ui/api/sessions/" + ids[0]);
  EXPECT_EQ(json::get_string(one, "review_status"), "approved");
  EXPECT_EQ(one["review_events"].Size(), 4u);  // with the initial row finish_session wrote
  EXPECT_TRUE(json::find(one, "ui_cost") != nullptr);

  // A JSON body is required (a form post from another site cannot be one without a preflight).
  auto form = client().Post(path, auth(), "status=approved", "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 400);
}

TEST_P(ReviewUiApi, BulkChangeNeedsAPreviewedConfirmationAndAReason) {
  auto ids = seed_default();
  start();
  login_local();
  auto preview =
      post("/ui/api/bulk/preview", R"({"status":"quarantined","filters":{"lane":"coach","review":"pending"}})");
  ASSERT_TRUE(preview);
  ASSERT_EQ(preview->status, 200) << preview->body;
  auto p = json::parse(preview->body);
  EXPECT_EQ(json::get_int(*p, "count"), 2);
  std::string token = json::get_string(*p, "confirmation");
  ASSERT_FALSE(token.empty());

  auto no_reason = post("/ui/api/bulk/apply", "{\"confirmation\":\"" + token + "\"}");
  ASSERT_TRUE(no_reason);
  EXPECT_EQ(no_reason->status, 400);
  auto applied = post("/ui/api/bulk/apply", "{\"confirmation\":\"" + token + "\",\"reason\":\"coach lane misrouted\"}");
  ASSERT_TRUE(applied);
  ASSERT_EQ(applied->status, 200) << applied->body;
  EXPECT_EQ(json::get_int(*json::parse(applied->body), "changed"), 2);
  for (const auto& id : {ids[1], ids[5]}) {
    auto ev = review_events(id);
    ASSERT_EQ(ev.Size(), 1u) << id;
    EXPECT_EQ(json::get_string(ev[0], "new_status"), "quarantined");
    EXPECT_EQ(json::get_string(ev[0], "actor"), "local-tester");
    EXPECT_EQ(json::get_string(ev[0], "reason"), "coach lane misrouted");
  }
  EXPECT_EQ(review_events(ids[0]).Size(), 0u);  // not selected: untouched
  // A confirmation is good once.
  auto again = post("/ui/api/bulk/apply", "{\"confirmation\":\"" + token + "\",\"reason\":\"again\"}");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409);
  // Without the CSRF token nothing is even previewed.
  auto no_csrf = post("/ui/api/bulk/preview", R"({"status":"approved","filters":{}})", false);
  ASSERT_TRUE(no_csrf);
  EXPECT_EQ(no_csrf->status, 403);
}

TEST_P(ReviewUiApi, ExportShowsCountAndHashAndDownloadsTheSameBytes) {
  auto ids = seed_default();
  ASSERT_TRUE(data::set_review(*store_, ids[0], ReviewStatus::kApproved, "t", "ok", "").is_ok());
  start();
  login_local();
  auto count = post("/ui/api/export/count", R"({"format":"atlas-jsonl","review":"approved"})");
  ASSERT_TRUE(count);
  ASSERT_EQ(count->status, 200) << count->body;
  EXPECT_EQ(json::get_int(*json::parse(count->body), "count"), 2);
  auto exp = post("/ui/api/export", R"({"format":"trl-sft","review":"approved"})");
  ASSERT_TRUE(exp);
  ASSERT_EQ(exp->status, 200) << exp->body;
  auto summary = json::parse(exp->body);
  EXPECT_EQ(json::get_int(*summary, "sessions"), 2);
  auto file = client().Get(json::get_string(*summary, "download"), auth(false));
  ASSERT_TRUE(file);
  ASSERT_EQ(file->status, 200);
  EXPECT_NE(file->get_header_value("Content-Disposition").find("attachment"), std::string::npos);
  EXPECT_EQ(sha256_hex(file->body), json::get_string(*summary, "sha256"));
  auto bad = post("/ui/api/export", R"({"format":"csv"})");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("atlas-jsonl"), std::string::npos) << bad->body;
}

TEST_P(ReviewUiApi, LearningKeysHaveReadableLabelsAndASeries) {
  seed_default();
  start();
  login_local();
  auto keys = get_json("/ui/api/learning/keys");
  ASSERT_EQ(keys["keys"].Size(), 2u);
  EXPECT_EQ(json::get_string(keys["keys"][0], "learning_key"), "geo");  // newest session first
  EXPECT_EQ(json::get_string(keys["keys"][0], "label"), "Capital of Chile?");
  EXPECT_EQ(json::get_int(keys["keys"][0], "sessions"), 4);
  auto geo = get_json("/ui/api/learning?key=geo");
  ASSERT_EQ(geo["sessions"].Size(), 4u);
  EXPECT_EQ(json::get_string(geo["sessions"][0], "student_learning"), "playbook after Capital of France?");
  EXPECT_DOUBLE_EQ(json::get_double(geo["sessions"][0], "total_tokens"), 100);

  // No learning_put yet: no stored version, nothing rejected.
  EXPECT_EQ(geo["versions"].Size(), 0u);
  EXPECT_EQ(geo["rejected"].Size(), 0u);
}

// The learning page's versions and rejected candidates come from learning_versions (migration 6)
// through the functions behind `atlas-host playbook history|rejected`.
TEST_P(ReviewUiApi, LearningShowsStoredVersionsAndTheCandidatesTheGatesRejected) {
  auto ids = seed_default();
  auto put = [&](long long expected, const std::string& text, const std::string& meta, const std::string& actor) {
    auto r = store_->execute("learning_put", R"({"learning_key":"geo","expected_version":)" + std::to_string(expected) +
                                                 R"(,"student_learning":)" + json::quote(text) + R"(,"metadata":)" +
                                                 meta + R"(,"actor":")" + actor + R"(","session":{"session_id":")" +
                                                 ids[0] + R"("}})");
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  };
  put(0, "Check the capital.", "{}", "learning");
  put(1, "Check the capital.\nName the country.",
      R"({"last_evaluation":{"timestamp":"2026-12-05T10:00:00Z","session_id":")" + ids[0] +
          R"(","candidates":[{"id":"cand-bad","accepted":false,"entry":{"text":"<b>always</b> guess"},)"
          R"("rubric":{"failure_reasons":["actionability_gate:imperative missing","cue_gate:invalid cue pattern"]}},)"
          R"({"id":"cand-ok","accepted":true}]}})",
      "learning");
  start();
  login_local();
  auto geo = get_json("/ui/api/learning?key=geo");
  ASSERT_EQ(geo["versions"].Size(), 2u);
  EXPECT_EQ(json::get_int(geo["versions"][0], "version"), 1);
  EXPECT_EQ(json::get_int(geo["versions"][1], "version"), 2);
  EXPECT_EQ(json::get_string(geo["versions"][1], "student_learning"), "Check the capital.\nName the country.");
  EXPECT_EQ(json::get_string(geo["versions"][1], "actor"), "learning");
  EXPECT_EQ(json::get_string(geo["versions"][1], "session_id"), ids[0]);
  ASSERT_EQ(geo["rejected"].Size(), 1u);  // the accepted candidate is not listed
  const json::Value& r = geo["rejected"][0];
  EXPECT_EQ(json::get_string(r, "entry_id"), "cand-bad");
  EXPECT_EQ(json::get_int(r, "version"), 2);
  ASSERT_EQ(r["reasons"].Size(), 2u);
  EXPECT_EQ(std::string(r["reasons"][1].GetString()), "cue_gate:invalid cue pattern");
  EXPECT_EQ(json::get_string(r["entry"], "text"), "<b>always</b> guess");
  // A key without a playbook has no versions; a missing key parameter is refused.
  auto math = get_json("/ui/api/learning?key=math");
  EXPECT_EQ(math["versions"].Size(), 0u);
  get_json("/ui/api/learning", 400);
}

// The tabs' counts come in their own request after the rows, and each stops at a cap: the cost of
// a count is bounded by the cap, not by the table (docs/review-ui.md, "Speed").
TEST_P(ReviewUiApi, CountsComeSeparatelyAndStopAtTheCap) {
  seed_default();
  start();
  login_local();
  auto counts = get_json("/ui/api/sessions/counts?lane=coach");
  EXPECT_EQ(json::get_int(counts, "count"), 3);
  EXPECT_FALSE(json::get_bool(counts, "count_capped"));
  EXPECT_EQ(json::get_int(counts["counts"], "pending"), 2);
  EXPECT_EQ(json::get_int(counts["counts"], "approved"), 1);
  EXPECT_EQ(json::get_int(counts["counts"], "quarantined"), 0);
  EXPECT_EQ(counts["counts_capped"].MemberCount(), 0u);
  EXPECT_EQ(json::get_int(counts, "count_cap"), 1000);
  // The same numbers as the list's own counts; the review filter narrows "count", not the tabs.
  auto page = get_json("/ui/api/sessions?lane=coach&review=pending");
  auto narrowed = get_json("/ui/api/sessions/counts?lane=coach&review=pending");
  EXPECT_EQ(json::get_int(page, "count"), 2);
  EXPECT_EQ(json::get_int(narrowed, "count"), 2);
  EXPECT_EQ(json::get_int(narrowed["counts"], "approved"), 1);
  EXPECT_EQ(json::get_int(page["counts"], "approved"), 1);
  // Bad filters are refused on the counts route too.
  auto bad = get_json("/ui/api/sessions/counts?review=aproved", 400);
  EXPECT_NE(json::get_string(bad, "error").find("approved"), std::string::npos);

  // A cap of 2 over 7 sessions (5 pending, 1 approved, 1 quarantined): the capped ones say so.
  auto capped = store_->execute("review_ui_counts", R"({"count_cap":2})");
  ASSERT_TRUE(capped.is_ok()) << capped.status().to_string();
  auto c = json::parse(*capped);
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(json::get_int(*c, "count"), 2);
  EXPECT_TRUE(json::get_bool(*c, "count_capped"));
  EXPECT_EQ(json::get_int((*c)["counts"], "pending"), 2);
  EXPECT_EQ(json::get_int((*c)["counts"], "approved"), 1);
  EXPECT_TRUE(json::get_bool((*c)["counts_capped"], "pending"));
  EXPECT_FALSE(json::find((*c)["counts_capped"], "approved"));
  // Exactly at the cap is not "more".
  auto exact = json::parse(*store_->execute("review_ui_counts", R"({"count_cap":5,"review_status":["pending"]})"));
  ASSERT_TRUE(exact.is_ok());
  EXPECT_EQ(json::get_int(*exact, "count"), 5);
  EXPECT_FALSE(json::get_bool(*exact, "count_capped"));
}

std::string ascii_lower(std::string s) {
  for (char& ch : s)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return s;
}

// The text search through the trigram index (SQLite FTS5, PostgreSQL pg_trgm) returns exactly
// what the plain LIKE/ILIKE substring search returned: the reference below is that semantics
// (case-insensitive for ASCII, wildcards and quotes literal, other characters as they are).
TEST_P(ReviewUiApi, TextSearchMatchesTheSubstringSemanticsOnTrickyText) {
  const std::vector<Seed> seeds = {
      {"100% sure about 50%_off", "it's 10%", "auto", 0.5, "pending", "t"},
      {"snake_case_name lookup", "found snake_case", "auto", 0.5, "pending", "t"},
      {"It's \"quoted\" text", "say \"hi\"", "coach", 0.5, "approved", "t"},
      {"back\\slash path C:\\dir", "ok", "auto", 0.5, "pending", "t"},
      {"naïve café 日本語テキスト", "été", "paired", 0.5, "quarantined", "t"},
      {"Plain ASCII Title", "NOTHING SPECIAL", "auto", 0.5, "pending", "t"},
      {"percent%sign and under_score", "", "auto", 0.5, "pending", "t"},
      {"abc", "xyz%", "auto", 0.5, "pending", "t"},
  };
  std::vector<std::string> ids;
  for (const auto& s : seeds) ids.push_back(seed(s));
  start();
  login_local();
  auto enc = [](const std::string& q) {
    std::string out;
    char buf[4];
    for (unsigned char ch : q) {
      std::snprintf(buf, sizeof(buf), "%%%02X", ch);
      out += buf;
    }
    return out;
  };
  const std::vector<std::string> queries = {
      "%",       "_",      "0%",  "50%_", "e_c", "10%", "'s \"q", "\"hi\"", "\\sl",
      "c:\\d",   "日本語", "本",  "café", "caf", "af",  "été",    "ascii",  "SPECIAL",
      "special", "t%s",    "r_s", "xyz%", "abc", "ab",  "zzz",    "a",      "PLAIN ascii title",
      "\"",
  };
  for (const std::string& q : queries) {
    std::vector<std::string> expect;
    for (size_t i = seeds.size(); i-- > 0;) {
      const std::string needle = ascii_lower(q);
      if (ascii_lower(seeds[i].task).find(needle) != std::string::npos ||
          ascii_lower(seeds[i].answer).find(needle) != std::string::npos)
        expect.push_back(ids[i]);
    }
    auto page = get_json("/ui/api/sessions?limit=100&q=" + enc(q));
    EXPECT_EQ(ids_of(page), expect) << "q=" << q;
    EXPECT_EQ(json::get_int(page, "count"), static_cast<int64_t>(expect.size())) << "q=" << q;
    // Paged two at a time by cursor: the same rows.
    std::vector<std::string> paged;
    std::string after;
    for (int n = 0; n < 10; ++n) {
      auto p = get_json("/ui/api/sessions?counts=0&limit=2&q=" + enc(q) + (after.empty() ? "" : "&after=" + after));
      for (auto& id : ids_of(p)) paged.push_back(id);
      const json::Value* next = json::find(p, "next");
      if (!next || !next->IsString()) break;
      after = next->GetString();
    }
    EXPECT_EQ(paged, expect) << "q=" << q;
  }
  if (GetParam() == "sqlite") {
    // SQLite's LIKE folds ASCII only: "ÉTÉ" does not find "été", although the trigram index
    // (which folds Unicode) offers it as a candidate; the LIKE re-check decides, as before.
    EXPECT_TRUE(ids_of(get_json("/ui/api/sessions?q=" + enc("ÉTÉ"))).empty());
  }
}

TEST_P(ReviewUiApi, PagesCarryAStrictContentSecurityPolicyAndNoInlineScript) {
  start();
  auto page = client().Get("/ui/");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200);
  std::string csp = page->get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(page->get_header_value("X-Content-Type-Options"), "nosniff");
  // Every <script> has a src: nothing inline for the policy to have to allow.
  size_t pos = 0;
  while ((pos = page->body.find("<script", pos)) != std::string::npos) {
    size_t end = page->body.find('>', pos);
    EXPECT_NE(page->body.substr(pos, end - pos).find("src="), std::string::npos);
    pos = end;
  }
  auto js = client().Get("/ui/assets/app.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->get_header_value("Content-Type").rfind("text/javascript", 0), 0u);
  EXPECT_EQ(js->body.find("innerHTML"), std::string::npos);  // data goes in as text only
  auto missing = client().Get("/ui/assets/nothing.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_P(ReviewUiApi, LoopbackRefusesForeignHostHeaders) {
  start();
  auto r = client().Get("/ui/api/me", httplib::Headers{{"Host", "attacker.example:8787"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  auto ok = client().Get("/ui/api/me", httplib::Headers{{"Host", "localhost:8787"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_P(ReviewUiApi, TokenLoginNamesTheReviewer) {
  auto ids = seed_default();
  ::setenv("ATLAS_TEST_UI_TOKENS", "alice=alice-token-0123456789abcdef, bob=bob-token-0123456789abcdef", 1);
  UiOptions o;
  o.listen_host = "0.0.0.0";  // a non-loopback address: tokens are required
  o.tokens_env = "ATLAS_TEST_UI_TOKENS";
  start(o);
  auto me = client().Get("/ui/api/me");
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 401);
  auto wrong = client().Post("/ui/api/login", R"({"token":"alice-token-0123456789abcdeX"})", "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_TRUE(wrong->get_header_value("Set-Cookie").empty());
  auto in = client().Post("/ui/api/login", R"({"token":"bob-token-0123456789abcdef"})", "application/json");
  ASSERT_TRUE(in);
  ASSERT_EQ(in->status, 200) << in->body;
  cookie_ = in->get_header_value("Set-Cookie").substr(0, in->get_header_value("Set-Cookie").find(';'));
  auto doc = json::parse(in->body);
  csrf_ = json::get_string(*doc, "csrf");
  EXPECT_EQ(json::get_string(*doc, "actor"), "bob");
  auto r = post("/ui/api/sessions/" + ids[2] + "/review", R"({"status":"quarantined","reason":"wrong units"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::get_string(review_events(ids[2])[0], "actor"), "bob");
  // Logged out: the cookie no longer works.
  auto out = post("/ui/api/logout", "{}");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200);
  EXPECT_EQ(client().Get("/ui/api/sessions", auth(false))->status, 401);
  ::unsetenv("ATLAS_TEST_UI_TOKENS");
}

TEST_P(ReviewUiApi, NonLoopbackWithoutTokensIsRefused) {
  UiOptions o;
  o.listen_host = "0.0.0.0";
  auto ui = ReviewUi::create(*store_, o);
  ASSERT_FALSE(ui.is_ok());
  EXPECT_NE(ui.status().message().find("ui_tokens_env"), std::string::npos) << ui.status().message();
  ::setenv("ATLAS_TEST_UI_TOKENS_BAD", "alice=tooweak1", 1);
  o.tokens_env = "ATLAS_TEST_UI_TOKENS_BAD";
  auto weak = ReviewUi::create(*store_, o);
  ASSERT_FALSE(weak.is_ok());
  EXPECT_NE(weak.status().message().find("16 characters"), std::string::npos) << weak.status().message();
  EXPECT_EQ(weak.status().message().find("tooweak1"), std::string::npos);  // the token itself is never shown
  ::unsetenv("ATLAS_TEST_UI_TOKENS_BAD");
  o.tokens_env = "ATLAS_TEST_UI_TOKENS_UNSET";
  EXPECT_FALSE(ReviewUi::create(*store_, o).is_ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, ReviewUiApi, ::testing::Values("sqlite", "postgresql"), test::backend_name);

TEST(ReviewUiAuth, ParsesTokensAndComparesInConstantTime) {
  auto ok = parse_reviewer_tokens("X", " alice = 0123456789abcdef0 ,bob=fedcba98765432100");
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[0].name, "alice");
  EXPECT_EQ((*ok)[0].token, "0123456789abcdef0");
  EXPECT_FALSE(parse_reviewer_tokens("X", "alice0123456789abcdef").is_ok());
  EXPECT_FALSE(parse_reviewer_tokens("X", "a=0123456789abcdef0,b=0123456789abcdef0").is_ok());  // shared token
  EXPECT_FALSE(parse_reviewer_tokens("X", "al ice=0123456789abcdef0").is_ok());
  EXPECT_FALSE(parse_reviewer_tokens("X", ",,").is_ok());
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_EQ(cookie_value("a=1; atlas_ui_session=xyz; b=2", "atlas_ui_session"), "xyz");
  EXPECT_EQ(cookie_value("atlas_ui_session_x=1", "atlas_ui_session"), "");
  EXPECT_NE(random_hex(16), random_hex(16));
}

}  // namespace
}  // namespace atlas::review_ui
