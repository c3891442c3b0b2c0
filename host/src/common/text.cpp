#include "common/text.hpp"

namespace atlas::text {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the valid UTF-8 sequence starting at s[i] (1-4), or 0 when it is not valid
// (overlong forms, UTF-16 surrogates and code points above U+10FFFF are invalid).
size_t valid_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return len;
}

// Value of the 4 hex digits at s[i], or -1.
int hex4(std::string_view s, size_t i) {
  if (i + 4 > s.size()) return -1;
  int v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    char c = s[k];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

}  // namespace

std::string normalise_json(std::string_view s, Repairs* repairs) {
  Repairs local;
  Repairs& r = repairs ? *repairs : local;
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    // A run of plain ASCII (no backslash, no NUL) is what most text is: copied in one append
    // (byte by byte, the scan was a quarter of the gateway's storage CPU on long conversations).
    size_t run = i;
    while (run < s.size()) {
      const auto b = static_cast<unsigned char>(s[run]);
      if (b >= 0x80 || b == '\\' || b == '\0') break;
      ++run;
    }
    if (run > i) {
      out.append(s, i, run - i);
      i = run;
      continue;
    }
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      if (s[i + 1] != 'u') {  // a two-character escape (\\, \", \n, ...): copy as is
        out.append(s, i, 2);
        i += 2;
        continue;
      }
      int cp = hex4(s, i + 2);
      if (cp == 0) {
        ++r.nul;
        out += "\\ufffd";
        i += 6;
        continue;
      }
      if (cp >= 0xD800 && cp <= 0xDBFF) {  // high surrogate: valid only with a low one after it
        int low = i + 12 <= s.size() && s[i + 6] == '\\' && s[i + 7] == 'u' ? hex4(s, i + 8) : -1;
        if (low >= 0xDC00 && low <= 0xDFFF) {
          out.append(s, i, 12);
          i += 12;
          continue;
        }
      }
      if (cp >= 0xD800 && cp <= 0xDFFF) {
        ++r.invalid_utf8;
        out += "\\ufffd";
        i += 6;
        continue;
      }
      out.append(s, i, 2);  // \u followed by its digits, copied by the loop
      i += 2;
      continue;
    }
    if (c == '\0') {
      ++r.nul;
      out += kReplacement;
      ++i;
      continue;
    }
    size_t len = valid_sequence_length(s, i);
    if (len == 0) {
      ++r.invalid_utf8;
      out += kReplacement;
      ++i;
      continue;
    }
    out.append(s, i, len);
    i += len;
  }
  return out;
}

}  // namespace atlas::text
