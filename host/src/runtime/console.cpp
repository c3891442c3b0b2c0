#include "runtime/console.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/json.hpp"
#include "common/secrets.hpp"
#include "data/store.hpp"

namespace atlas::runtime::console {

namespace {
// Display width: count UTF-8 lead bytes only.
size_t width_of(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}
}  // namespace

std::string table(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return {};
  std::vector<size_t> w;
  for (const auto& r : rows) {
    if (w.size() < r.size()) w.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], width_of(r[i]));
  }
  std::string out;
  for (size_t ri = 0; ri < rows.size(); ++ri) {
    const auto& r = rows[ri];
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(w[i] - width_of(r[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
    if (ri == 0) {
      size_t total = 0;
      for (size_t i = 0; i < w.size(); ++i) total += w[i] + (i + 1 < w.size() ? 2 : 0);
      out += std::string(total, '-') + "\n";
    }
  }
  return out;
}

std::string fixed(std::optional<double> v, int decimals) {
  if (!v) return "-";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, *v);
  return b;
}

std::string token_table(const SessionReport& r) {
  std::vector<std::vector<std::string>> rows = {{"role", "calls", "prompt", "completion", "total"}};
  for (const auto& [role, t] : r.tokens)
    rows.push_back({role, std::to_string(t.calls), std::to_string(t.prompt_tokens), std::to_string(t.completion_tokens),
                    std::to_string(t.total_tokens)});
  rows.push_back({"all", std::to_string(r.total_tokens.calls), std::to_string(r.total_tokens.prompt_tokens),
                  std::to_string(r.total_tokens.completion_tokens), std::to_string(r.total_tokens.total_tokens)});
  return table(rows);
}

std::string batch_table(const std::vector<TaskSpec>& tasks, const std::vector<SessionReport>& reports) {
  std::vector<std::vector<std::string>> rows = {
      {"#", "session", "task", "lane", "reward", "tokens", "seconds", "status"}};
  size_t succeeded = 0, rewarded = 0;
  double reward_sum = 0;
  int64_t tokens = 0;
  for (size_t i = 0; i < reports.size(); ++i) {
    const auto& r = reports[i];
    std::string task = secrets::redact(i < tasks.size() ? tasks[i].task : r.task);
    rows.push_back({std::to_string(i + 1),
                    r.session_id.empty() ? "-" : r.session_id + (r.stored ? "" : " (not stored)"), one_line(task, 48),
                    r.lane.empty() ? "-" : r.lane, fixed(r.reward), std::to_string(r.total_tokens.total_tokens),
                    fixed(r.seconds, 2), std::string(status_name(r.status))});
    if (r.status == SessionStatus::kSucceeded) ++succeeded;
    if (r.reward) reward_sum += *r.reward, ++rewarded;
    tokens += r.total_tokens.total_tokens;
  }
  std::string out = table(rows);
  out += std::to_string(reports.size()) + " task(s): " + std::to_string(succeeded) + " succeeded, " +
         std::to_string(reports.size() - succeeded) + " failed; mean reward " +
         (rewarded ? fixed(reward_sum / static_cast<double>(rewarded)) : std::string("-")) + "; " +
         std::to_string(tokens) + " tokens\n";
  return out;
}

std::string progress_bar(size_t done, size_t total, size_t width) {
  size_t filled = total ? done * width / total : width;
  return "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] " + std::to_string(done) + "/" +
         std::to_string(total);
}

std::string one_line(std::string_view s, size_t n) {
  std::string out;
  for (char c : s) out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  if (width_of(out) <= n) return out;
  size_t count = 0, i = 0;
  for (; i < out.size(); ++i) {
    if ((static_cast<unsigned char>(out[i]) & 0xC0) != 0x80) {
      if (count == n - 3) break;
      ++count;
    }
  }
  return out.substr(0, i) + "...";
}

bool color_enabled(int fd) {
  const char* nc = std::getenv("NO_COLOR");
  return isatty(fd) && !(nc && *nc);
}

std::string store_location(data::Store& store) {
  auto status = store.execute("status", "{}");
  if (!status.is_ok()) return "";
  auto doc = json::parse(*status, "storage status");
  if (!doc.is_ok()) return "";
  std::string backend = json::get_string(*doc, "backend");
  std::string location = json::get_string(*doc, "location");
  if (location.empty()) return "";
  if (backend == "sqlite") {
    std::error_code ec;
    auto abs = std::filesystem::absolute(location, ec);
    if (!ec) location = abs.lexically_normal().string();
  }
  return backend.empty() ? location : backend + " " + location;
}

}  // namespace atlas::runtime::console
