#include "judge_reply.hpp"

#include <atlas/json_parse.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <optional>

namespace atlas_judge_llm {
namespace {

constexpr unsigned kLenient =
    rapidjson::kParseTrailingCommasFlag | rapidjson::kParseCommentsFlag | rapidjson::kParseNanAndInfFlag;
constexpr double kClampSlack = 0.05;

std::string dump(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Tries each balanced object of `text`; prefers one that has a "score" member. A candidate
// nested too deeply ends the search with `error` set (no rescans of its inner objects).
bool find_object(std::string_view text, rapidjson::Document& out, std::string& error) {
  bool have_any = false;
  atlas::sdk::ObjectScanner objects(text);
  for (std::string_view candidate; objects.next(candidate);) {
    rapidjson::Document doc;
    atlas::sdk::JsonParseStatus st = atlas::sdk::parse_json<kLenient>(doc, candidate);
    if (st.too_deep) {
      error = "the reply's JSON is " + st.message();
      return false;
    }
    if (st && doc.IsObject()) {
      if (doc.HasMember("score")) {
        out.Swap(doc);
        return true;
      }
      if (!have_any) {
        out.Swap(doc);
        have_any = true;
      }
    }
  }
  return have_any;
}

std::optional<double> parse_number(std::string_view s) {
  std::string tmp(trim(s));
  if (tmp.empty()) return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(tmp.c_str(), &end);
  if (end == tmp.c_str() || !std::isfinite(d)) return std::nullopt;
  if (!trim(std::string_view(end)).empty()) return std::nullopt;
  return d;
}

}  // namespace

UnitValue to_unit_interval(std::string_view field, const void* raw) {
  const auto* v = static_cast<const rapidjson::Value*>(raw);
  UnitValue out;
  const std::string name(field);
  if (!v) {
    out.error = "the reply has no \"" + name + "\"";
    return out;
  }
  double d = 0.0;
  if (v->IsNumber()) {
    d = v->GetDouble();
  } else if (v->IsString()) {
    std::string_view s = trim(std::string_view(v->GetString(), v->GetStringLength()));
    std::optional<double> parsed;
    if (!s.empty() && s.back() == '%') {
      if (auto p = parse_number(s.substr(0, s.size() - 1)); p && *p >= 0.0 && *p <= 100.0) parsed = *p / 100.0;
    } else if (size_t slash = s.find('/'); slash != std::string_view::npos) {
      auto num = parse_number(s.substr(0, slash));
      auto den = parse_number(s.substr(slash + 1));
      if (num && den && *den > 0.0) parsed = *num / *den;
    } else {
      parsed = parse_number(s);
    }
    if (!parsed) {
      out.error = "\"" + name + "\" is the string \"" + std::string(s.substr(0, 40)) +
                  "\", which is not a number, a percentage or a fraction";
      return out;
    }
    d = *parsed;
  } else {
    out.error = "\"" + name + "\" is not a number";
    return out;
  }
  if (!std::isfinite(d)) {
    out.error = "\"" + name + "\" is not a finite number";
    return out;
  }
  if (d < -kClampSlack || d > 1.0 + kClampSlack) {
    out.error = "\"" + name + "\" is " + dump(*v) + ", outside the required 0..1 scale";
    return out;
  }
  out.ok = true;
  out.value = d < 0.0 ? 0.0 : d > 1.0 ? 1.0 : d;
  return out;
}

ParsedReply parse_reply(std::string_view reply) {
  ParsedReply out;
  std::string_view body = trim(reply);
  if (body.empty()) {
    out.error = "the reply is empty";
    return out;
  }
  // Prefer the content of a ``` fence when there is one.
  rapidjson::Document doc;
  bool found = false;
  std::string deep;
  if (size_t fence = body.find("```"); fence != std::string_view::npos) {
    size_t nl = body.find('\n', fence);
    size_t close = nl == std::string_view::npos ? std::string_view::npos : body.find("```", nl);
    if (close != std::string_view::npos) found = find_object(body.substr(nl + 1, close - nl - 1), doc, deep);
  }
  if (!found && deep.empty()) found = find_object(body, doc, deep);
  if (!found) {
    out.error = deep.empty() ? "the reply contains no JSON object" : deep;
    return out;
  }
  auto member = [&doc](const char* key) -> const rapidjson::Value* {
    auto it = doc.FindMember(key);
    return it == doc.MemberEnd() ? nullptr : &it->value;
  };
  UnitValue score = to_unit_interval("score", member("score"));
  if (!score.ok) {
    out.error = score.error;
    return out;
  }
  UnitValue unc = to_unit_interval("uncertainty", member("uncertainty"));
  if (!unc.ok) {
    out.error = unc.error;
    return out;
  }
  out.score = score.value;
  out.uncertainty = unc.value;
  if (const auto* r = member("rationale")) out.rationale = r->IsString() ? r->GetString() : dump(*r);

  rapidjson::Document principles(rapidjson::kArrayType);
  auto& a = principles.GetAllocator();
  if (const auto* p = member("principles"); p && p->IsArray()) {
    for (const auto& item : p->GetArray()) {
      if (!item.IsObject()) continue;
      auto name = item.FindMember("name");
      auto weight = item.FindMember("weight");
      if (name == item.MemberEnd() || !name->value.IsString()) continue;
      std::optional<double> w;
      if (weight != item.MemberEnd()) {
        if (weight->value.IsNumber()) w = weight->value.GetDouble();
        else if (weight->value.IsString()) w = parse_number(weight->value.GetString());
      }
      if (!w) continue;
      rapidjson::Value e(rapidjson::kObjectType);
      e.AddMember("name", rapidjson::Value(name->value, a), a);
      e.AddMember("weight", *w, a);
      auto desc = item.FindMember("description");
      std::string d = desc == item.MemberEnd() ? ""
                      : desc->value.IsString() ? std::string(desc->value.GetString())
                                               : dump(desc->value);
      e.AddMember("description", rapidjson::Value(d.c_str(), static_cast<rapidjson::SizeType>(d.size()), a), a);
      principles.PushBack(e, a);
    }
  }
  out.principles_json = dump(principles);
  out.ok = true;
  return out;
}

}  // namespace atlas_judge_llm
