#include "data/export.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "common/digest.hpp"
#include "common/json.hpp"
#include "config/loader.hpp"
#include "data/export_schema.hpp"
#include "data/export_tokens.hpp"
#include "data/session_cost.hpp"
#include "data/session_trace.hpp"

namespace atlas::data {

using json::Value;

Result<ExportFormat> parse_export_format(std::string_view name) {
  if (name == "atlas-jsonl") return ExportFormat::kAtlasJsonl;
  if (name == "trl-sft") return ExportFormat::kTrlSft;
  if (name == "trl-grpo") return ExportFormat::kTrlGrpo;
  if (name == "trl-dpo") return ExportFormat::kTrlDpo;
  if (name == "openai-ft") return ExportFormat::kOpenAiFt;
  if (name == "trl-sft-corrections") return ExportFormat::kTrlSftCorrections;
  if (name == "trl-kto") return ExportFormat::kTrlKto;
  if (name == "trl-prm") return ExportFormat::kTrlPrm;
  if (name == "tokens-jsonl") return ExportFormat::kTokensJsonl;
  return invalid_argument("unknown export format '" + std::string(name) +
                          "'; use one of atlas-jsonl, trl-sft, trl-grpo, trl-dpo, openai-ft, trl-sft-corrections, "
                          "trl-kto, trl-prm, tokens-jsonl");
}

std::string_view export_format_name(ExportFormat f) {
  switch (f) {
    case ExportFormat::kAtlasJsonl:
      return "atlas-jsonl";
    case ExportFormat::kTrlSft:
      return "trl-sft";
    case ExportFormat::kTrlGrpo:
      return "trl-grpo";
    case ExportFormat::kTrlDpo:
      return "trl-dpo";
    case ExportFormat::kOpenAiFt:
      return "openai-ft";
    case ExportFormat::kTrlSftCorrections:
      return "trl-sft-corrections";
    case ExportFormat::kTrlKto:
      return "trl-kto";
    case ExportFormat::kTrlPrm:
      return "trl-prm";
    case ExportFormat::kTokensJsonl:
      return "tokens-jsonl";
  }
  return "atlas-jsonl";
}

std::optional<std::vector<ReviewStatus>> resolve_review_filter(const config::ReviewConfig* review,
                                                               const std::vector<ReviewStatus>& include_statuses,
                                                               bool include_all) {
  // Without a config file the policy is the defaults with the environment on top.
  const config::ReviewConfig policy = review ? *review : config::review_policy(config::ReviewConfig{});
  const bool require_approval = policy.require_approval;
  const bool all = policy.include_all_statuses;
  const bool explicit_statuses = policy.statuses_explicit;
  std::vector<ReviewStatus> defaults;
  if (explicit_statuses) defaults = policy.default_export_statuses;
  if (include_all || all) return std::nullopt;
  if (defaults.empty()) {
    defaults = explicit_statuses || require_approval
                   ? std::vector<ReviewStatus>{ReviewStatus::kApproved}
                   : std::vector<ReviewStatus>{ReviewStatus::kApproved, ReviewStatus::kPending};
  }
  std::vector<ReviewStatus> out;
  for (const auto& list : {defaults, include_statuses})
    for (ReviewStatus s : list)
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  return out;
}

std::string filters_json(const ExportFilters& f) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  auto list = [&](const std::vector<std::string>& v) {
    Value arr(rapidjson::kArrayType);
    for (const auto& s : v) arr.PushBack(json::str(s, a), a);
    return arr;
  };
  if (f.review_statuses) json::set(d, "review_status", list(status_names(*f.review_statuses)), a);
  std::vector<SessionStatus> statuses =
      f.statuses.empty() ? std::vector<SessionStatus>{SessionStatus::kSucceeded} : f.statuses;
  json::set(d, "status", list(status_names(statuses)), a);
  json::set(d, "exclude_unfinished", true, a);  // never running/interrupted, whatever --status says
  if (f.min_reward) json::set(d, "min_reward", *f.min_reward, a);
  if (!f.learning_key.empty()) json::set(d, "learning_key", f.learning_key, a);
  if (!f.created_after.empty()) json::set(d, "created_after", f.created_after, a);
  if (!f.session_ids.empty()) json::set(d, "session_ids", list(f.session_ids), a);
  return json::dump(d);
}

namespace {

// Output file with running byte count and SHA-256; renamed into place on commit().
class Output {
 public:
  static Result<std::unique_ptr<Output>> open(const std::filesystem::path& path) {
    auto out = std::unique_ptr<Output>(new Output(path));
    if (path == "-") {
      // Standard output: the rows go to an anonymous temporary file first and are copied to
      // stdout by commit(), so a row refused half-way leaves nothing on stdout either.
      out->file_ = std::tmpfile();
      out->to_stdout_ = true;
      if (!out->file_)
        return unavailable(std::string("cannot create a temporary file for the export: ") + std::strerror(errno));
    }
    std::error_code ec;
    if (!out->to_stdout_ && path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    if (!out->to_stdout_) out->file_ = std::fopen(out->partial_.c_str(), "wb");
    if (!out->file_) {
      return unavailable("cannot write the export file " + out->partial_.string() + ": " + std::strerror(errno));
    }
    out->md_ = EVP_MD_CTX_new();
    if (!out->md_ || EVP_DigestInit_ex(out->md_, EVP_sha256(), nullptr) != 1)
      return internal_error("SHA-256 init failed");
    return out;
  }
  ~Output() {
    if (file_) {
      std::fclose(file_);  // stdout's temporary file disappears with it
      std::error_code ec;
      if (!to_stdout_) std::filesystem::remove(partial_, ec);
    }
    if (md_) EVP_MD_CTX_free(md_);
  }
  Status write_line(const std::string& line) {
    std::string text = line + "\n";
    if (std::fwrite(text.data(), 1, text.size(), file_) != text.size())
      return unavailable("cannot write the export file " + partial_.string() + ": " + std::strerror(errno));
    EVP_DigestUpdate(md_, text.data(), text.size());
    bytes_ += text.size();
    ++lines_;
    return Status::ok();
  }
  Result<std::string> commit() {
    if (to_stdout_) {
      Status copied = copy_to_stdout();
      std::fclose(file_);
      file_ = nullptr;
      ATLAS_RETURN_IF_ERROR(copied);
      if (std::fflush(stdout) != 0)
        return unavailable(std::string("cannot write the export to stdout: ") + std::strerror(errno));
    } else {
      if (std::fflush(file_) != 0 || std::fclose(file_) != 0) {
        file_ = nullptr;
        return unavailable("cannot finish the export file " + partial_.string() + ": " + std::strerror(errno));
      }
      file_ = nullptr;
      std::error_code ec;
      std::filesystem::rename(partial_, path_, ec);
      if (ec) return unavailable("cannot move " + partial_.string() + " to " + path_.string() + ": " + ec.message());
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(md_, md, &len);
    std::string hex;
    char buf[3];
    for (unsigned int i = 0; i < len; ++i) {
      std::snprintf(buf, sizeof(buf), "%02x", md[i]);
      hex += buf;
    }
    return hex;
  }
  uint64_t bytes() const { return bytes_; }
  const std::filesystem::path& path() const { return path_; }
  uint64_t lines() const { return lines_; }

 private:
  Status copy_to_stdout() {
    if (std::fflush(file_) != 0 || std::fseek(file_, 0, SEEK_SET) != 0)
      return unavailable(std::string("cannot read back the export's temporary file: ") + std::strerror(errno));
    std::array<char, 1 << 16> buf{};
    size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), file_)) > 0)
      if (std::fwrite(buf.data(), 1, n, stdout) != n)
        return unavailable(std::string("cannot write the export to stdout: ") + std::strerror(errno));
    return Status::ok();
  }
  explicit Output(std::filesystem::path path) : path_(std::move(path)) {
    partial_ = path_;
    partial_ += ".partial";
  }
  std::filesystem::path path_, partial_;
  std::FILE* file_ = nullptr;
  bool to_stdout_ = false;  // path "-"
  EVP_MD_CTX* md_ = nullptr;
  uint64_t bytes_ = 0, lines_ = 0;
};

// Tool-call arguments: objects for TRL, JSON strings for OpenAI.
void to_wire_messages(Value& messages, bool arguments_as_string, json::Allocator& a) {
  for (Value& m : messages.GetArray()) {
    Value* calls = m.IsObject() && m.HasMember("tool_calls") ? &m["tool_calls"] : nullptr;
    if (!calls || !calls->IsArray()) continue;
    Value out(rapidjson::kArrayType);
    for (Value& c : calls->GetArray()) {
      Value fn(rapidjson::kObjectType);
      fn.AddMember("name", json::str(json::get_string(c, "name"), a), a);
      Value args(rapidjson::kObjectType);
      if (const Value* av = json::find(c, "arguments")) {
        if (av->IsString()) {
          auto parsed = json::parse(av->GetString(), "tool arguments");
          if (parsed.is_ok()) args.CopyFrom(*parsed, a);
        } else {
          args.CopyFrom(*av, a);
        }
      }
      if (arguments_as_string) {
        fn.AddMember("arguments", json::str(json::dump(args), a), a);
      } else {
        fn.AddMember("arguments", args, a);
      }
      Value call(rapidjson::kObjectType);
      call.AddMember("id", json::str(json::get_string(c, "id"), a), a);
      call.AddMember("type", "function", a);
      call.AddMember("function", fn, a);
      out.PushBack(call, a);
    }
    *calls = out;
    // OpenAI wants content null (not "") next to tool calls.
    if (arguments_as_string && json::get_string(m, "content").empty()) m["content"].SetNull();
  }
}

Value optional_number(std::optional<double> v) {
  return v ? Value(*v) : Value();
}

// OpenAI's `weight` of the transcript's turns (index = message; only assistant turns use it): 1
// on the final answer, the turn the session was judged and accepted on. Earlier (tool-calling)
// turns get 1 only when no step of the session had an attempt rejected: the transcript takes
// every tool_call event of the session, and a rejected attempt's calls are no behaviour to
// train on (docs/export-formats.md, "openai-ft").
std::vector<char> transcript_weights(const Value& messages, bool earlier_turns_accepted) {
  std::vector<char> trained(messages.Size(), earlier_turns_accepted ? 1 : 0);
  for (rapidjson::SizeType i = messages.Size(); i-- > 0;)
    if (json::get_string(messages[i], "role") == "assistant") {
      trained[i] = 1;
      break;
    }
  return trained;
}

// True when some step of the session had an attempt the teacher rejected.
bool had_rejected_attempt(const Value& session) {
  const Value* steps = json::find(session, "steps");
  if (!steps || !steps->IsArray()) return false;
  for (const Value& s : steps->GetArray()) {
    const Value* details = json::find(s, "attempt_details");
    if (!details || !details->IsArray()) continue;
    for (const Value& d : details->GetArray())
      if (const Value* ev = json::find(d, "evaluation"); ev && attempt_rejected(*ev)) return true;
  }
  return false;
}

// {role, content}.
Value chat_message(const char* role, const std::string& content, json::Allocator& a) {
  Value m(rapidjson::kObjectType);
  m.AddMember("role", json::str(role, a), a);
  m.AddMember("content", json::str(content, a), a);
  return m;
}

// A one-message conversation.
Value single_message(const char* role, const std::string& content, json::Allocator& a) {
  Value conversation(rapidjson::kArrayType);
  conversation.PushBack(chat_message(role, content, a), a);
  return conversation;
}

// A prompt conversation: the student's system prompt (when stored) and the user turn.
Value prompt_messages(const std::string& system_prompt, const std::string& user, json::Allocator& a) {
  Value prompt(rapidjson::kArrayType);
  if (!system_prompt.empty()) prompt.PushBack(chat_message("system", system_prompt, a), a);
  prompt.PushBack(chat_message("user", user, a), a);
  return prompt;
}

class Exporter {
 public:
  Exporter(Store& store, const ExportOptions& o) : store_(store), o_(o) {}

  Result<ExportSummary> run() {
    std::string filters = filters_json(o_.filters);
    ATLAS_ASSIGN_OR_RETURN(std::string counted, store_.execute("count_sessions", filters));
    ATLAS_ASSIGN_OR_RETURN(auto cdoc, json::parse(counted, "count_sessions response"));
    total_ = static_cast<uint64_t>(json::get_int(cdoc, "count"));
    if (o_.filters.limit && static_cast<uint64_t>(*o_.filters.limit) < total_) total_ = *o_.filters.limit;
    ExportSummary summary;
    if (total_ == 0) return summary;
    ATLAS_ASSIGN_OR_RETURN(schema_, export_schema(o_.format));
    if (!o_.extra_schema_json.empty()) {
      ATLAS_ASSIGN_OR_RETURN(json::Schema extra, json::Schema::compile(o_.extra_schema_json, o_.extra_schema_name));
      extra_schema_ = std::move(extra);
    }
    ATLAS_ASSIGN_OR_RETURN(out_, Output::open(o_.output));
    if (lineage_in_sidecar(o_.format) && o_.output != "-") {
      ATLAS_ASSIGN_OR_RETURN(lineage_out_, Output::open(lineage_sidecar_path(o_.output)));
    }
    if (o_.format == ExportFormat::kTrlGrpo) {
      ATLAS_RETURN_IF_ERROR(run_grpo(filters));
    } else {
      std::vector<std::string> page_ids;
      auto flush_page = [&]() -> Status {
        if (page_ids.empty()) return Status::ok();
        ATLAS_ASSIGN_OR_RETURN(auto page, read_many(page_ids));
        page_ids.clear();
        const Value* sessions = json::find(page, "sessions");
        if (!sessions || !sessions->IsArray()) return internal_error("read_sessions: no 'sessions' list");
        for (const Value& session : sessions->GetArray()) {
          ATLAS_RETURN_IF_ERROR(write_session(session));
          tick();
        }
        return Status::ok();
      };
      ATLAS_RETURN_IF_ERROR(for_each_summary(filters, [&](const Value& s) -> Status {
        page_ids.push_back(json::get_string(s, "session_id"));
        if (page_ids.size() >= static_cast<size_t>(o_.page_size)) return flush_page();
        return Status::ok();
      }));
      ATLAS_RETURN_IF_ERROR(flush_page());
    }
    summary.groups_dropped = groups_dropped_;
    if (out_->lines() == 0) {
      // Sessions matched but none produced a record (e.g. DPO without a rejected attempt).
      summary.sessions = done_;
      return summary;
    }
    summary.sessions = done_;
    summary.records = out_->lines();
    summary.steps = steps_;
    summary.bytes = out_->bytes();
    summary.cost_usd = cost_.value();
    summary.sessions_cost_unknown = cost_.unknown_terms();
    if (lineage_out_) {
      ATLAS_RETURN_IF_ERROR(lineage_out_->commit().status());
    } else if (o_.output != "-") {
      std::error_code ec;  // a sidecar left by an earlier export in another format would mislead
      std::filesystem::remove(lineage_sidecar_path(o_.output), ec);
    }
    auto committed = out_->commit();
    if (!committed.is_ok() && lineage_out_) {
      std::error_code ec;
      std::filesystem::remove(lineage_sidecar_path(o_.output), ec);
    }
    ATLAS_ASSIGN_OR_RETURN(summary.sha256, std::move(committed));
    return summary;
  }

 private:
  // Pages through the matching session summaries, oldest first, honouring the limit.
  template <typename Fn>
  Status for_each_summary(const std::string& filters, Fn&& fn) {
    std::string after;
    uint64_t seen = 0;
    for (;;) {
      auto doc = json::parse(filters, "filters");
      auto& a = doc->GetAllocator();
      json::set(*doc, "order", "asc", a);
      json::set(*doc, "limit", static_cast<int64_t>(o_.page_size), a);
      if (!after.empty()) json::set(*doc, "after", after, a);
      ATLAS_ASSIGN_OR_RETURN(std::string page, store_.execute("query_sessions", json::dump(*doc)));
      ATLAS_ASSIGN_OR_RETURN(auto pdoc, json::parse(page, "query_sessions response"));
      const Value* sessions = json::find(pdoc, "sessions");
      if (!sessions || !sessions->IsArray() || sessions->Empty()) return Status::ok();
      for (const Value& s : sessions->GetArray()) {
        if (o_.filters.limit && seen >= static_cast<uint64_t>(*o_.filters.limit)) return Status::ok();
        ++seen;
        ATLAS_RETURN_IF_ERROR(fn(s));
      }
      const Value* next = json::find(pdoc, "next");
      if (!next || !next->IsString()) return Status::ok();
      after = next->GetString();
    }
  }

  Result<json::Document> read(const std::string& id) {
    ATLAS_ASSIGN_OR_RETURN(std::string text,
                           store_.execute("read_session", "{\"session_id\":" + json::quote(id) + "}"));
    return json::parse(text, "read_session response");
  }

  // One round trip for a page of sessions (read_sessions), in the order given.
  Result<json::Document> read_many(const std::vector<std::string>& ids) {
    std::string req = "{\"session_ids\":[";
    for (size_t i = 0; i < ids.size(); ++i) req += (i ? "," : "") + json::quote(ids[i]);
    req += "]}";
    ATLAS_ASSIGN_OR_RETURN(std::string text, store_.execute("read_sessions", req));
    return json::parse(text, "read_sessions response");
  }

  TranscriptOptions transcript_options() const { return TranscriptOptions{o_.strip_playbook}; }

  void tick() {
    ++done_;
    if (o_.progress) o_.progress(done_, total_);
  }

  Status write_session(const Value& session) {
    json::Document rec(rapidjson::kObjectType);
    auto& a = rec.GetAllocator();
    if (const Value* st = json::find(session, "steps"); st && st->IsArray()) steps_ += st->Size();
    cost_.add(session_cost(session).total_usd);
    switch (o_.format) {
      case ExportFormat::kAtlasJsonl:
        build_atlas_trace(session, rec, a);
        return write_row(rec, {{&session}, std::nullopt});
      case ExportFormat::kTrlSft:
      case ExportFormat::kOpenAiFt:
        return write_conversation(session);
      case ExportFormat::kTrlDpo:
        ATLAS_RETURN_IF_ERROR(write_dpo(session));
        return write_demonstration_pair(session);
      case ExportFormat::kTrlSftCorrections:
      case ExportFormat::kTrlKto:
        return write_corrections(session);
      case ExportFormat::kTrlPrm:
        return write_prm(session);
      case ExportFormat::kTrlGrpo:
        break;
      case ExportFormat::kTokensJsonl:  // data/export_tokens.hpp
        return tokens_rows(session, [&](json::Document& row, int64_t step_id) {
          return write_row(row, {{&session}, step_id});
        });
    }
    return Status::ok();
  }

  // ---- conversations (docs/export-formats.md, "trl-sft", "openai-ft", "Multi-step conversations")

  // trl-sft / openai-ft. A session of one step (or none): one row, the transcript (system, task,
  // tool calls, final answer) as before --conversation existed. Several steps: per-session, one
  // row with every accepted step's turns; per-step, one row per accepted step, then one for the
  // final answer synthesis when the session made one.
  Status write_conversation(const Value& session) {
    const Value* steps = json::find(session, "steps");
    const size_t step_count = steps && steps->IsArray() ? steps->Size() : 0;
    if (step_count == 0 || (step_count == 1 && o_.conversation == ExportOptions::Conversation::kPerSession)) {
      json::Document rec(rapidjson::kObjectType);
      Value messages;
      build_transcript(session, messages, rec.GetAllocator(), transcript_options());
      const std::vector<char> trained = transcript_weights(messages, !had_rejected_attempt(session));
      return write_conversation_row(session, rec, messages, std::nullopt, trained);
    }
    json::Document whole(rapidjson::kObjectType);
    Value messages;
    const ConversationOptions co{transcript_options(), o_.guidance == ExportOptions::Guidance::kContext};
    const std::vector<StepTurns> turns = build_conversation(session, messages, whole.GetAllocator(), co);
    if (o_.conversation == ExportOptions::Conversation::kPerSession) {
      json::Document rec(rapidjson::kObjectType);
      Value row(messages, rec.GetAllocator());
      // Every assistant turn is an accepted step's (or the final answer), except tool calls that
      // cannot be told apart from a rejected attempt's.
      std::vector<char> trained(row.Size(), 1);
      for (const StepTurns& t : turns)
        if (t.tool_turns_unattributed) untrain_tool_turns(row, t.first_reply, t.end, trained);
      return write_conversation_row(session, rec, row, std::nullopt, trained);
    }
    for (const StepTurns& t : turns) {
      json::Document rec(rapidjson::kObjectType);
      auto& a = rec.GetAllocator();
      Value row(rapidjson::kArrayType);
      std::vector<char> trained;
      // A run step was a conversation of its own (its prompt carries its dependencies' results);
      // a captured call continued the episode's, so the earlier turns are its context.
      if (t.own_prompt) {
        const std::string system =
            t.system_prompt.empty() ? student_system_prompt(session, transcript_options()) : t.system_prompt;
        if (!system.empty()) {
          row.PushBack(chat_message("system", system, a), a);
          trained.push_back(0);
        }
      }
      for (size_t i = t.own_prompt ? t.begin : 0; i < t.end; ++i) {
        row.PushBack(Value(messages[static_cast<rapidjson::SizeType>(i)], a), a);
        trained.push_back(i >= t.first_reply ? 1 : 0);
      }
      if (t.tool_turns_unattributed) untrain_tool_turns(row, row.Size() - (t.end - t.first_reply), row.Size(), trained);
      // A captured call's reply ends at its tool calls: their results came with the next call.
      while (!t.own_prompt && row.Size() > 1 && json::get_string(row[row.Size() - 1], "role") == "tool") {
        row.PopBack();
        trained.pop_back();
      }
      ATLAS_RETURN_IF_ERROR(write_conversation_row(session, rec, row, t.step_id, trained));
    }
    json::Document rec(rapidjson::kObjectType);
    Value synthesis;
    if (!build_synthesis(session, synthesis, rec.GetAllocator(), transcript_options())) return Status::ok();
    const std::vector<char> trained(synthesis.Size(), 1);  // its tool calls and the final answer
    return write_conversation_row(session, rec, synthesis, std::nullopt, trained, true);
  }

  // trained[i] = 0 for the tool-calling assistant turns in [from, to).
  static void untrain_tool_turns(const Value& messages, size_t from, size_t to, std::vector<char>& trained) {
    for (size_t i = from; i < to && i < trained.size(); ++i)
      if (json::find(messages[static_cast<rapidjson::SizeType>(i)], "tool_calls")) trained[i] = 0;
  }

  // One trl-sft / openai-ft row from `messages` (adapter-contract shape): the offered tools, the
  // tool calls in the format's wire shape and, for OpenAI, `weight` on every assistant turn from
  // `trained` (index = message). trl-sft rows carry session_id, reward and (per-step) step_id, or
  // `synthesis: true` for the final answer synthesis row.
  Status write_conversation_row(const Value& session, json::Document& rec, Value& messages,
                                std::optional<int64_t> step_id, const std::vector<char>& trained,
                                bool synthesis = false) {
    auto& a = rec.GetAllocator();
    const bool openai = o_.format == ExportFormat::kOpenAiFt;
    Value tools;
    build_tools(session, messages, tools, a);
    to_wire_messages(messages, openai, a);
    if (openai)
      for (rapidjson::SizeType i = 0; i < messages.Size(); ++i)
        if (json::get_string(messages[i], "role") == "assistant")
          json::set(messages[i], "weight", Value(i < trained.size() && trained[i] ? 1 : 0), a);
    rec.AddMember("messages", messages, a);
    if (!tools.Empty()) rec.AddMember("tools", tools, a);
    if (openai) {
      rec.AddMember("parallel_tool_calls", false, a);
    } else {
      // Provenance for people; TRL ignores extra columns.
      rec.AddMember("session_id", json::str(json::get_string(session, "session_id"), a), a);
      auto score = session_score(session);
      rec.AddMember("reward", score ? Value(*score) : Value(), a);
      if (step_id) rec.AddMember("step_id", Value(*step_id), a);
      if (synthesis) rec.AddMember("synthesis", true, a);
    }
    return write_row(rec, {{&session}, step_id, synthesis});
  }

  // ---- corrections as data (docs/export-formats.md, "Corrections") ----------------------------

  // A step whose first rejected attempt was followed by an accepted one (the teacher's guidance
  // led to it): the step's prompt, both outputs and the guidance the retry carried.
  struct RetryCorrection {
    int64_t step_id = 0;
    std::string prompt;                // the step's user turn without guidance (step_user_prompt)
    std::string prompt_with_guidance;  // as the accepted retry was sent it
    std::string rejected, accepted;
    std::vector<std::string> guidance;
  };

  static std::vector<RetryCorrection> retry_corrections(const Value& session) {
    std::vector<RetryCorrection> out;
    const Value* steps = json::find(session, "steps");
    if (!steps || !steps->IsArray()) return out;
    for (const Value& s : steps->GetArray()) {
      const Value* details = json::find(s, "attempt_details");
      if (!details || !details->IsArray() || details->Size() < 2) continue;
      const Value* rejected = nullptr;
      for (const Value& d : details->GetArray()) {
        const Value* ev = json::find(d, "evaluation");
        if (ev && !rejected && attempt_rejected(*ev)) rejected = ev;
      }
      const Value* last = json::find((*details)[details->Size() - 1], "evaluation");
      const Value* accepted = last && attempt_accepted(*last) ? last : nullptr;
      if (!rejected || !accepted || rejected == accepted) continue;
      RetryCorrection c;
      c.step_id = json::get_int(s, "step_id");
      c.rejected = json::get_string(*rejected, "output");
      c.accepted = json::get_string(*accepted, "output");
      if (c.accepted.empty()) c.accepted = json::get_string(s, "output");
      if (c.rejected.empty() || c.accepted.empty() || c.rejected == c.accepted) continue;
      c.prompt = step_user_prompt(session, s, false);
      c.prompt_with_guidance = step_user_prompt(session, s, true);
      if (const Value* g = json::find(s, "guidance"); g && g->IsArray())
        for (const Value& note : g->GetArray())
          if (note.IsString()) c.guidance.emplace_back(note.GetString());
      out.push_back(std::move(c));
    }
    return out;
  }

  // The user turn of a retry: with --guidance context, as the accepted attempt was sent it, the
  // guidance the runtime appended included (runtime/session.cpp, run_step).
  std::string retry_user_turn(const RetryCorrection& c) const {
    return o_.guidance == ExportOptions::Guidance::kContext ? c.prompt_with_guidance : c.prompt;
  }

  // The session's latest demonstration (`review demonstrate`): its answer, "" when none.
  static std::string demonstration_of(const Value& session) {
    std::string answer;
    if (const Value* events = json::find(session, "review_events"); events && events->IsArray())
      for (const Value& e : events->GetArray())
        if (json::get_string(e, "action") == "demonstration") answer = json::get_string(e, "note");
    return answer;
  }

  // A demonstration that differs from the session's answer: chosen = demonstration,
  // rejected = the session's final answer, same prompt (trl-dpo).
  Status write_demonstration_pair(const Value& session) {
    const std::string demo = demonstration_of(session);
    const std::string answer = json::get_string(session, "final_answer");
    if (demo.empty() || answer.empty() || demo == answer) return Status::ok();
    json::Document rec(rapidjson::kObjectType);
    auto& a = rec.GetAllocator();
    rec.AddMember(
        "prompt",
        prompt_messages(student_system_prompt(session, transcript_options()), json::get_string(session, "task"), a), a);
    rec.AddMember("chosen", single_message("assistant", demo, a), a);
    rec.AddMember("rejected", single_message("assistant", answer, a), a);
    rec.AddMember("session_id", json::str(json::get_string(session, "session_id"), a), a);
    rec.AddMember("source", "demonstration", a);
    return write_row(rec, {{&session}, std::nullopt});
  }

  // trl-sft-corrections: one row per accepted retry (the accepted output after its prompt, with
  // or without the guidance) and one per demonstration (the task, then the demonstration).
  // trl-kto: the same corrections as single completions with a desirable flag, plus the
  // session's own answer (desirable when its reward reaches --label-threshold; undesirable when
  // a reviewer replaced it with a demonstration).
  Status write_corrections(const Value& session) {
    const bool kto = o_.format == ExportFormat::kTrlKto;
    const std::string system = student_system_prompt(session, transcript_options());
    const std::string session_id = json::get_string(session, "session_id");
    auto emit = [&](const std::string& user, const std::string& completion, std::optional<bool> label,
                    const char* source, std::optional<int64_t> step_id) -> Status {
      json::Document rec(rapidjson::kObjectType);
      auto& a = rec.GetAllocator();
      if (kto) {
        rec.AddMember("prompt", prompt_messages(system, user, a), a);
        rec.AddMember("completion", single_message("assistant", completion, a), a);
        rec.AddMember("label", label.value_or(true), a);
      } else {
        Value messages = prompt_messages(system, user, a);
        messages.PushBack(chat_message("assistant", completion, a), a);
        rec.AddMember("messages", messages, a);
      }
      rec.AddMember("session_id", json::str(session_id, a), a);
      if (step_id) rec.AddMember("step_id", Value(*step_id), a);
      rec.AddMember("source", Value(rapidjson::StringRef(source)), a);
      return write_row(rec, {{&session}, step_id});
    };
    for (const RetryCorrection& c : retry_corrections(session)) {
      // The rejected attempt was made before any guidance: its prompt has none.
      if (kto) ATLAS_RETURN_IF_ERROR(emit(c.prompt, c.rejected, false, "teacher_retry", c.step_id));
      ATLAS_RETURN_IF_ERROR(emit(retry_user_turn(c), c.accepted, true, "teacher_retry", c.step_id));
    }
    const std::string task = json::get_string(session, "task");
    const std::string answer = json::get_string(session, "final_answer");
    const std::string demo = demonstration_of(session);
    if (!demo.empty()) ATLAS_RETURN_IF_ERROR(emit(task, demo, true, "demonstration", std::nullopt));
    if (kto && !answer.empty() && demo != answer) {
      if (!demo.empty()) {
        ATLAS_RETURN_IF_ERROR(emit(task, answer, false, "session", std::nullopt));
      } else if (auto score = session_score(session)) {
        ATLAS_RETURN_IF_ERROR(emit(task, answer, *score >= o_.label_threshold, "session", std::nullopt));
      }
    }
    return Status::ok();
  }

  // trl-prm: TRL stepwise supervision (standard format): the task, each step's output in plan
  // order, and one label per step: its step reward >= --label-threshold. A session with a step
  // no judge scored is left out (a made-up label would teach the reward model a guess).
  Status write_prm(const Value& session) {
    const Value* steps = json::find(session, "steps");
    if (!steps || !steps->IsArray() || steps->Empty()) return Status::ok();
    json::Document rec(rapidjson::kObjectType);
    auto& a = rec.GetAllocator();
    Value completions(rapidjson::kArrayType), labels(rapidjson::kArrayType), rewards(rapidjson::kArrayType);
    for (const Value& step : steps->GetArray()) {
      auto score = step_score(step);
      if (!score) return Status::ok();
      completions.PushBack(json::str(json::get_string(step, "output"), a), a);
      labels.PushBack(*score >= o_.label_threshold, a);
      rewards.PushBack(*score, a);
    }
    rec.AddMember("prompt", json::str(json::get_string(session, "task"), a), a);
    rec.AddMember("completions", completions, a);
    rec.AddMember("labels", labels, a);
    rec.AddMember("step_rewards", rewards, a);
    rec.AddMember("session_id", json::str(json::get_string(session, "session_id"), a), a);
    return write_row(rec, {{&session}, std::nullopt});
  }

  // One preference row per step whose first attempt was rejected and whose last attempt was
  // accepted after teacher guidance.
  Status write_dpo(const Value& session) {
    for (const RetryCorrection& c : retry_corrections(session)) {
      json::Document rec(rapidjson::kObjectType);
      auto& a = rec.GetAllocator();
      // Both attempts answer the same prompt: the rejected one was made before any guidance.
      rec.AddMember("prompt", prompt_messages(student_system_prompt(session, transcript_options()), c.prompt, a), a);
      rec.AddMember("chosen", single_message("assistant", c.accepted, a), a);
      rec.AddMember("rejected", single_message("assistant", c.rejected, a), a);
      rec.AddMember("session_id", json::str(json::get_string(session, "session_id"), a), a);
      rec.AddMember("step_id", Value(c.step_id), a);
      Value guidance(rapidjson::kArrayType);
      for (const auto& g : c.guidance) guidance.PushBack(json::str(g, a), a);
      rec.AddMember("guidance", guidance, a);
      rec.AddMember("source", "teacher_retry", a);
      ATLAS_RETURN_IF_ERROR(write_row(rec, {{&session}, c.step_id}));
    }
    return Status::ok();
  }

  // Groups: the rollout group (run --rollouts, X-Atlas-Rollout-Group) when the session has one,
  // else (learning key, task). Pass 1 keeps only ids and rewards per group; pass 2 reads each
  // group's sessions and writes one row with group-relative advantages.
  Status run_grpo(const std::string& filters) {
    struct Group {
      std::string learning_key, task, rollout_group;
      std::vector<std::pair<std::string, double>> members;
    };
    std::map<std::string, Group> groups;
    ATLAS_RETURN_IF_ERROR(for_each_summary(filters, [&](const Value& s) -> Status {
      const Value* r = json::find(s, "reward");
      if (!r || !r->IsNumber()) return Status::ok();  // no reward, no signal
      std::string lk = json::get_string(s, "learning_key");
      std::string task = json::get_string(s, "task");
      std::string rollout = json::get_string(s, "rollout_group");
      Group& g = groups[rollout.empty() ? "t\x1f" + lk + '\x1f' + task : "r\x1f" + rollout];
      if (g.members.empty()) {
        g.learning_key = lk;
        g.task = task;
        g.rollout_group = rollout;
      }
      g.members.emplace_back(json::get_string(s, "session_id"), r->GetDouble());
      return Status::ok();
    }));
    for (auto& [key, g] : groups) {
      // --drop-zero-variance: a group whose rewards are all equal has every advantage 0 and
      // teaches a group-relative trainer nothing (a group of one included).
      if (o_.drop_zero_variance && std::all_of(g.members.begin(), g.members.end(),
                                               [&](const auto& m) { return m.second == g.members[0].second; })) {
        ++groups_dropped_;
        for (size_t i = 0; i < g.members.size(); ++i) tick();
        continue;
      }
      double mean = 0.0;
      for (auto& m : g.members) mean += m.second;
      mean /= static_cast<double>(g.members.size());
      double var = 0.0;
      for (auto& m : g.members) var += (m.second - mean) * (m.second - mean);
      double sd = std::sqrt(var / static_cast<double>(g.members.size()));
      json::Document rec(rapidjson::kObjectType);
      auto& a = rec.GetAllocator();
      Value completions(rapidjson::kArrayType), rewards(rapidjson::kArrayType), advantages(rapidjson::kArrayType),
          ids(rapidjson::kArrayType), step_rewards(rapidjson::kArrayType), uncertainties(rapidjson::kArrayType);
      std::string system_prompt;  // the first session's: the group shares one prompt
      std::vector<std::string> member_ids;
      for (auto& m : g.members) member_ids.push_back(m.first);
      // Read in slices (read_sessions takes at most 1000 ids); values stay owned by `docs`.
      std::vector<json::Document> docs;
      docs.reserve(member_ids.size() / 500 + 1);
      std::map<std::string, const Value*> by_id;
      for (size_t off = 0; off < member_ids.size(); off += 500) {
        std::vector<std::string> slice(
            member_ids.begin() + static_cast<std::ptrdiff_t>(off),
            member_ids.begin() + static_cast<std::ptrdiff_t>(std::min(member_ids.size(), off + 500)));
        ATLAS_ASSIGN_OR_RETURN(auto doc, read_many(slice));
        docs.push_back(std::move(doc));
        if (const Value* ss = json::find(docs.back(), "sessions"); ss && ss->IsArray())
          for (const Value& v : ss->GetArray()) by_id[json::get_string(v, "session_id")] = &v;
      }
      RowSource source;
      for (auto& [id, reward] : g.members) {
        auto found = by_id.find(id);
        if (found == by_id.end()) continue;
        const Value& session = *found->second;
        source.sessions.push_back(&session);
        if (const Value* st = json::find(session, "steps"); st && st->IsArray()) steps_ += st->Size();
        cost_.add(session_cost(session).total_usd);
        if (source.sessions.size() == 1) system_prompt = student_system_prompt(session, transcript_options());
        Value messages;
        build_transcript(session, messages, a, transcript_options());
        to_wire_messages(messages, false, a);
        // The completion is everything after the prompt (the user turn and any system turn).
        Value completion(rapidjson::kArrayType);
        for (Value& m : messages.GetArray()) {
          std::string role = json::get_string(m, "role");
          if (role == "system" || role == "user") continue;
          completion.PushBack(Value(m, a), a);
        }
        completions.PushBack(completion, a);
        rewards.PushBack(reward, a);
        Value scores(rapidjson::kArrayType);  // step order; null for a step no judge scored
        if (const Value* st = json::find(session, "steps"); st && st->IsArray())
          for (const Value& step : st->GetArray()) scores.PushBack(optional_number(step_score(step)), a);
        step_rewards.PushBack(scores, a);
        uncertainties.PushBack(optional_number(session_uncertainty(session)), a);
        advantages.PushBack(g.members.size() > 1 ? (reward - mean) / (sd + o_.grpo_epsilon) : 0.0, a);
        ids.PushBack(json::str(id, a), a);
        tick();
      }
      // TRL passes every column but `prompt` to the reward functions as keyword arguments, next to
      // its own `prompts`, `completions`, `completion_ids` and `trainer_state`: ours are prefixed
      // `atlas_` so none can collide (docs/export-formats.md, "trl-grpo").
      rec.AddMember("prompt", prompt_messages(system_prompt, g.task, a), a);
      rec.AddMember("atlas_completions", completions, a);
      rec.AddMember("atlas_session_rewards", rewards, a);
      rec.AddMember("atlas_step_rewards", step_rewards, a);
      rec.AddMember("atlas_reward_uncertainty", uncertainties, a);
      rec.AddMember("atlas_advantages", advantages, a);
      // Unique per group: the rollout group id, else a digest of (learning key, task) (the key
      // alone is shared by every task of the key).
      rec.AddMember("atlas_group_id",
                    json::str(g.rollout_group.empty() ? "task-" + sha256_hex(key).substr(0, 16) : g.rollout_group, a),
                    a);
      rec.AddMember("atlas_group_source", Value(rapidjson::StringRef(g.rollout_group.empty() ? "task" : "rollout")), a);
      rec.AddMember("atlas_group_size", static_cast<int64_t>(g.members.size()), a);
      rec.AddMember("atlas_reward_mean", mean, a);
      rec.AddMember("atlas_reward_std", sd, a);
      rec.AddMember("atlas_session_ids", ids, a);
      ATLAS_RETURN_IF_ERROR(write_row(rec, source));
    }
    return Status::ok();
  }

  // What a row was made from.
  struct RowSource {
    std::vector<const Value*> sessions;  // read_session responses
    std::optional<int64_t> step_id;      // trl-dpo: the step the preference pair comes from
    bool synthesis = false;              // per-step conversations: the final answer synthesis row
  };

  // Checks the row against its format's schema (and --schema), then writes it with its lineage:
  // inside the record for atlas-jsonl (session_metadata.lineage), else one line in the sidecar.
  // A refused row stops the export; the caller's failure leaves no file behind.
  Status write_row(json::Document& rec, const RowSource& source) {
    const uint64_t row = out_->lines() + 1;
    auto refused = [&](const json::SchemaError& e, const std::string& schema) {
      std::string from;
      for (const Value* s : source.sessions) from += (from.empty() ? "" : ", ") + json::get_string(*s, "session_id");
      return invalid_argument(
          "row " + std::to_string(row) + " of the " + std::string(export_format_name(o_.format)) + " export (session " +
          from + (source.step_id ? ", step " + std::to_string(*source.step_id) : std::string()) + ") does not match " +
          schema + ": " + e.message + "; nothing was written (docs/export-formats.md, \"Schemas\")");
    };
    if (auto e = schema_->check(rec))
      return refused(*e, "the " + std::string(export_format_name(o_.format)) + " schema");
    if (extra_schema_)
      if (auto e = extra_schema_->check(rec)) return refused(*e, o_.extra_schema_name);
    std::string line = json::dump(rec);
    json::Document lineage = row_lineage(row, sha256_hex(line), source);
    if (!lineage_in_sidecar(o_.format)) {
      auto meta = rec.FindMember("session_metadata");
      if (meta != rec.MemberEnd() && meta->value.IsObject()) {
        json::set(meta->value, "lineage", Value(lineage, rec.GetAllocator()), rec.GetAllocator());
        line = json::dump(rec);
      }
    } else if (lineage_out_) {
      ATLAS_RETURN_IF_ERROR(lineage_out_->write_line(json::dump(lineage)));
    }
    return out_->write_line(line);
  }

  // {"row", "format", "content_sha256", "step_id"?, "synthesis"?, "sessions": [{"session_id", "learning_key",
  //  "review_status", "reviewer", "judges", "cost_usd"}]}
  json::Document row_lineage(uint64_t row, const std::string& content_sha256, const RowSource& source) const {
    json::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    json::set(d, "row", static_cast<int64_t>(row), a);
    json::set(d, "format", std::string(export_format_name(o_.format)), a);
    json::set(d, "content_sha256", content_sha256, a);
    if (source.step_id) json::set(d, "step_id", *source.step_id, a);
    if (source.synthesis) json::set(d, "synthesis", true, a);
    Value sessions(rapidjson::kArrayType);
    for (const Value* s : source.sessions) {
      Value o(rapidjson::kObjectType);
      json::set(o, "session_id", json::get_string(*s, "session_id"), a);
      const Value* meta = json::find(*s, "metadata");
      json::set(o, "learning_key", meta && meta->IsObject() ? json::get_string(*meta, "learning_key") : "", a);
      json::set(o, "review_status", json::get_string(*s, "review_status"), a);
      json::set(o, "reviewer", reviewer_of(*s), a);
      Value judges(rapidjson::kArrayType);
      for (const auto& j : judges_of(*s)) judges.PushBack(json::str(j, a), a);
      json::set(o, "judges", std::move(judges), a);
      auto cost = session_cost(*s).total_usd;
      json::set(o, "cost_usd", cost ? Value(*cost) : Value(), a);
      sessions.PushBack(o, a);
    }
    json::set(d, "sessions", std::move(sessions), a);
    return d;
  }

  // Who set the session's current review status: the actor of the last review event that
  // changed it ("runtime" when the policy approved it; a person's name after `review approve`).
  static std::string reviewer_of(const Value& session) {
    std::string reviewer;
    if (const Value* events = json::find(session, "review_events"); events && events->IsArray())
      for (const Value& e : events->GetArray())
        if (!json::get_string(e, "new_status").empty()) reviewer = json::get_string(e, "actor");
    return reviewer;
  }

  // The judges (rubric identifiers) that scored the session or its steps, sorted.
  static std::set<std::string> judges_of(const Value& session) {
    std::set<std::string> out;
    auto collect = [&](const Value* reward) {
      const Value* judges = reward && reward->IsObject() ? json::find(*reward, "judges") : nullptr;
      if (!judges || !judges->IsArray()) return;
      for (const Value& j : judges->GetArray())
        if (auto id = json::get_string(j, "identifier"); !id.empty()) out.insert(id);
    };
    collect(json::find(session, "reward"));
    if (const Value* steps = json::find(session, "steps"); steps && steps->IsArray())
      for (const Value& step : steps->GetArray()) {
        const Value* evaluation = json::find(step, "evaluation");
        collect(evaluation ? json::find(*evaluation, "reward") : nullptr);
      }
    return out;
  }

  Store& store_;
  const ExportOptions& o_;
  std::unique_ptr<Output> out_;
  std::unique_ptr<Output> lineage_out_;  // the sidecar of the formats without room for lineage
  const json::Schema* schema_ = nullptr;
  std::optional<json::Schema> extra_schema_;
  uint64_t total_ = 0, done_ = 0, steps_ = 0;
  uint64_t groups_dropped_ = 0;  // trl-grpo --drop-zero-variance
  CostSum cost_;                 // of the sessions written
};

}  // namespace

bool lineage_in_sidecar(ExportFormat format) {
  return format != ExportFormat::kAtlasJsonl;
}

std::filesystem::path lineage_sidecar_path(const std::filesystem::path& output) {
  std::filesystem::path p = output;
  p += ".lineage.jsonl";
  return p;
}

Result<ExportSummary> export_sessions(Store& store, const ExportOptions& options) {
  if (options.output.empty()) return invalid_argument("export: no output file given (--output FILE)");
  Exporter e(store, options);
  return e.run();
}

}  // namespace atlas::data
