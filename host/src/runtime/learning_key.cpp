#include "runtime/learning_key.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace atlas::runtime {
namespace {

// Decodes one UTF-8 code point at s[i]; invalid bytes decode as themselves (Latin-1) so
// the function never fails on bad input.
char32_t decode(std::string_view s, size_t& i) {
  auto b = static_cast<unsigned char>(s[i]);
  int extra = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : b >= 0xC0 ? 1 : 0;
  if (b < 0x80 || extra == 0 || (b & 0xC0) == 0x80 || i + static_cast<size_t>(extra) >= s.size()) {
    ++i;
    return b;
  }
  char32_t cp = b & (0x3F >> extra);
  for (int k = 1; k <= extra; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) {
      ++i;
      return b;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  i += static_cast<size_t>(extra) + 1;
  return cp;
}

bool is_python_space(char32_t c) {
  switch (c) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x1C:
    case 0x1D:
    case 0x1E:
    case 0x1F:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

std::string str_of(const json::Value& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsBool()) return v.GetBool() ? "True" : "False";
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  if (v.IsDouble()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v.GetDouble());
    std::string s = buf;
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
  }
  return json::dump(v);
}

// Python truthiness for the `tenant_id or tenant` chain.
bool truthy(const json::Value* v) {
  if (!v || v->IsNull()) return false;
  if (v->IsString()) return v->GetStringLength() > 0;
  if (v->IsBool()) return v->GetBool();
  if (v->IsNumber()) return v->GetDouble() != 0.0;
  if (v->IsArray()) return !v->Empty();
  if (v->IsObject()) return v->MemberCount() > 0;
  return true;
}

}  // namespace

std::string python_json_string(std::string_view s) {
  std::string out = "\"";
  char buf[16];  // "\\uXXXX" needs 7; GCC cannot see that v <= 0xFFFF
  auto esc = [&](unsigned v) {
    std::snprintf(buf, sizeof buf, "\\u%04x", v);
    out += buf;
  };
  for (size_t i = 0; i < s.size();) {
    char32_t c = decode(s, i);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (c < 0x20 || c > 0x7E) {
      if (c >= 0x10000) {
        char32_t v = c - 0x10000;
        esc(0xD800 + static_cast<unsigned>(v >> 10));
        esc(0xDC00 + static_cast<unsigned>(v & 0x3FF));
      } else {
        esc(static_cast<unsigned>(c));
      }
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out += '"';
  return out;
}

std::string python_strip(std::string_view s) {
  // Find first and last non-space code point boundaries.
  size_t begin = s.size(), end = 0;
  for (size_t i = 0; i < s.size();) {
    size_t start = i;
    char32_t c = decode(s, i);
    if (!is_python_space(c)) {
      if (begin == s.size()) begin = start;
      end = i;
    }
  }
  if (begin >= end) return {};
  return std::string(s.substr(begin, end - begin));
}

std::string python_prefix(std::string_view s, size_t n) {
  size_t i = 0, count = 0;
  while (i < s.size() && count < n) {
    decode(s, i);
    ++count;
  }
  return std::string(s.substr(0, i));
}

std::string derive_learning_key(std::string_view agent_name, std::string_view task, const json::Value* md) {
  const json::Value* meta = md && md->IsObject() ? md : nullptr;
  if (meta) {
    if (const json::Value* o = json::find(*meta, "learning_key_override"); o && o->IsString()) {
      std::string v = python_strip(std::string_view(o->GetString(), o->GetStringLength()));
      if (!v.empty()) return v;
    }
    if (const json::Value* k = json::find(*meta, "learning_key"); k && k->IsString() && k->GetStringLength() > 0)
      return std::string(k->GetString(), k->GetStringLength());
  }
  std::string tenant = "default";
  if (meta) {
    const json::Value* t = json::find(*meta, "tenant_id");
    if (!truthy(t)) t = json::find(*meta, "tenant");
    if (truthy(t)) tenant = str_of(*t);
  }
  std::vector<std::string> tags;
  if (meta) {
    if (const json::Value* t = json::find(*meta, "tags")) {
      auto add = [&](const json::Value& v) {
        if (v.IsNull()) return;
        std::string s = python_strip(str_of(v));
        if (!s.empty()) tags.push_back(std::move(s));
      };
      if (t->IsArray()) {
        for (const auto& v : t->GetArray()) add(v);
      } else if (t->IsString()) {
        add(*t);
      }
    }
  }
  std::sort(tags.begin(), tags.end());  // UTF-8 byte order == code point order
  std::string tags_json = "[";
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i) tags_json += ", ";
    tags_json += python_json_string(tags[i]);
  }
  tags_json += "]";
  std::string payload = "{\"agent\": " + python_json_string(agent_name) + ", \"tags\": " + tags_json +
                        ", \"task_prefix\": " + python_json_string(python_prefix(python_strip(task), 64)) +
                        ", \"tenant\": " + python_json_string(tenant) + "}";
  return sha256_hex(payload);
}

}  // namespace atlas::runtime
