#include "scan/report.hpp"

#include <algorithm>
#include <sstream>

#include "common/json.hpp"

namespace atlas::scan {

std::string render_text(const Report& r, bool verbose) {
  std::ostringstream o;
  o << "Found " << r.tools.size() << " tool" << (r.tools.size() == 1 ? "" : "s") << ":\n";
  size_t width = 4;
  for (const Tool& t : r.tools) width = std::max(width, t.name.size());
  for (const Tool& t : r.tools) {
    o << "  " << t.name << std::string(width - t.name.size() + 2, ' ') << t.source.where.to_string() << "  ("
      << t.source.format << ")";
    if (t.openai_name != t.name) o << "  openai name: " << t.openai_name;
    o << "\n";
  }
  bool any_note = false;
  for (const Tool& t : r.tools) {
    for (const Note& n : t.notes) {
      if (n.severity == Severity::kInfo && !verbose) continue;
      if (!any_note) o << "\nSchema normalisation:\n";
      any_note = true;
      o << "  " << severity_name(n.severity) << ": " << t.name << " #" << n.pointer << ": " << n.message << "\n";
    }
  }
  if (!verbose) {
    size_t infos = 0;
    for (const Tool& t : r.tools)
      infos += static_cast<size_t>(std::count_if(t.notes.begin(), t.notes.end(),
                                                 [](const Note& n) { return n.severity == Severity::kInfo; }));
    if (infos) o << (any_note ? "" : "\n") << "  (" << infos << " lowering step" << (infos == 1 ? "" : "s")
                 << " applied; --verbose lists them)\n";
  }
  if (!r.skipped.empty()) {
    o << "\nSkipped:\n";
    for (const Skipped& s : r.skipped) o << "  " << s.where.to_string() << ": " << s.reason << "\n";
  }
  if (!r.files.empty()) {
    o << "\nProject " << r.out_dir << ":\n";
    for (const FileResult& f : r.files) {
      std::string action = file_action_name(f.action);
      o << "  " << action << std::string(action.size() < 18 ? 18 - action.size() : 1, ' ') << f.path << "\n";
    }
  }
  return o.str();
}

std::string render_json(const Report& r) {
  json::Document doc;
  doc.SetObject();
  auto& a = doc.GetAllocator();
  json::Value tools(rapidjson::kArrayType);
  for (const Tool& t : r.tools) {
    json::Value e(rapidjson::kObjectType);
    json::set(e, "name", t.name, a);
    json::set(e, "source", t.source.where.to_string(), a);
    json::set(e, "format", t.source.format, a);
    json::set(e, "openai_name", t.openai_name, a);
    json::set(e, "gemini_name", t.gemini_name, a);
    json::set(e, "identifier", t.ident, a);
    json::set(e, "forwards_to_mcp", t.source.from_mcp, a);
    json::Value notes(rapidjson::kArrayType);
    for (const Note& n : t.notes) {
      json::Value nv(rapidjson::kObjectType);
      json::set(nv, "severity", severity_name(n.severity), a);
      json::set(nv, "pointer", n.pointer, a);
      json::set(nv, "message", n.message, a);
      notes.PushBack(nv, a);
    }
    e.AddMember("notes", notes, a);
    tools.PushBack(e, a);
  }
  doc.AddMember("tools", tools, a);
  json::Value skipped(rapidjson::kArrayType);
  for (const Skipped& s : r.skipped) {
    json::Value e(rapidjson::kObjectType);
    json::set(e, "where", s.where.to_string(), a);
    json::set(e, "reason", s.reason, a);
    skipped.PushBack(e, a);
  }
  doc.AddMember("skipped", skipped, a);
  json::Value files(rapidjson::kArrayType);
  for (const FileResult& f : r.files) {
    json::Value e(rapidjson::kObjectType);
    json::set(e, "path", f.path, a);
    json::set(e, "action", file_action_name(f.action), a);
    json::set(e, "user_owned", f.user_owned, a);
    files.PushBack(e, a);
  }
  doc.AddMember("files", files, a);
  if (!r.out_dir.empty()) json::set(doc, "out", r.out_dir, a);
  return json::dump_pretty(doc) + "\n";
}

}  // namespace atlas::scan
