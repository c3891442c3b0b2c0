#include "scan/lexer.hpp"

#include <cctype>
#include <charconv>
#include <cstdint>

namespace atlas::scan {
namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$' || (c & 0x80); }
bool is_ident_char(char c) { return is_ident_start(c) || std::isdigit(static_cast<unsigned char>(c)); }

class Lexer {
 public:
  Lexer(std::string_view t, Lang lang) : t_(t), lang_(lang) {}

  std::vector<Token> run() {
    while (pos_ < t_.size()) {
      char c = t_[pos_];
      if (c == '\n') {
        if (lang_ == Lang::kPython && depth_ == 0 && !tokens_.empty() && tokens_.back().kind != Token::kNewline)
          push(Token::kNewline, "\n");
        ++line_;
        ++pos_;
        line_start_ = true;
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
        ++pos_;
        continue;
      }
      if (c == '\\' && lang_ == Lang::kPython && pos_ + 1 < t_.size() && t_[pos_ + 1] == '\n') {
        pos_ += 2;  // explicit line joining
        ++line_;
        continue;
      }
      if (lang_ == Lang::kPython && c == '#') {
        skip_to_eol();
        continue;
      }
      if (lang_ == Lang::kJavaScript && c == '/' && peek(1) == '/') {
        skip_to_eol();
        continue;
      }
      if (lang_ == Lang::kJavaScript && c == '/' && peek(1) == '*') {
        size_t end = t_.find("*/", pos_ + 2);
        end = end == std::string_view::npos ? t_.size() : end + 2;
        count_lines(pos_, end);
        pos_ = end;
        continue;
      }
      if (lang_ == Lang::kPython && is_ident_start(c)) {
        // String prefixes: r, b, u, f and combinations (rb, fr, ...).
        size_t p = pos_;
        while (p < t_.size() && p - pos_ < 2 && std::string_view("rRbBuUfF").find(t_[p]) != std::string_view::npos) ++p;
        if (p > pos_ && p < t_.size() && (t_[p] == '"' || t_[p] == '\'')) {
          std::string prefix(t_.substr(pos_, p - pos_));
          pos_ = p;
          python_string(prefix);
          continue;
        }
      }
      if (is_ident_start(c)) {
        size_t start = pos_;
        while (pos_ < t_.size() && is_ident_char(t_[pos_])) ++pos_;
        push(Token::kName, std::string(t_.substr(start, pos_ - start)));
        continue;
      }
      if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && std::isdigit(static_cast<unsigned char>(peek(1))))) {
        size_t start = pos_;
        while (pos_ < t_.size() && (std::isalnum(static_cast<unsigned char>(t_[pos_])) || t_[pos_] == '.' ||
                                    t_[pos_] == '_' ||
                                    ((t_[pos_] == '+' || t_[pos_] == '-') && (t_[pos_ - 1] == 'e' || t_[pos_ - 1] == 'E'))))
          ++pos_;
        push(Token::kNumber, std::string(t_.substr(start, pos_ - start)));
        continue;
      }
      if (c == '"' || c == '\'') {
        if (lang_ == Lang::kPython) python_string("");
        else js_string(c);
        continue;
      }
      if (c == '`' && lang_ == Lang::kJavaScript) {
        template_string();
        continue;
      }
      if (c == '/' && lang_ == Lang::kJavaScript && regex_allowed()) {
        regex_literal();
        continue;
      }
      // Punctuation; a few two/three-character operators matter (->, =>, ..., **).
      static const char* const kMulti[] = {"...", "->", "=>", "**", "==", "!=", "<=", ">=", "&&", "||", "??", "?."};
      std::string punct(1, c);
      for (const char* m : kMulti) {
        std::string_view mv(m);
        if (t_.substr(pos_, mv.size()) == mv) {
          punct = std::string(mv);
          break;
        }
      }
      if (c == '(' || c == '[' || c == '{') ++depth_;
      if ((c == ')' || c == ']' || c == '}') && depth_ > 0) --depth_;
      pos_ += punct.size();
      push(Token::kPunct, punct);
    }
    push(Token::kEnd, "");
    return std::move(tokens_);
  }

 private:
  char peek(size_t k) const { return pos_ + k < t_.size() ? t_[pos_ + k] : '\0'; }
  void skip_to_eol() {
    while (pos_ < t_.size() && t_[pos_] != '\n') ++pos_;
  }
  void count_lines(size_t from, size_t to) {
    for (size_t i = from; i < to && i < t_.size(); ++i)
      if (t_[i] == '\n') ++line_;
  }
  void push(Token::Kind kind, std::string text, int line = 0, bool interpolated = false) {
    Token tok;
    tok.kind = kind;
    tok.text = std::move(text);
    tok.line = line ? line : line_;
    tok.interpolated = interpolated;
    tok.starts_line = line_start_;
    line_start_ = false;
    tokens_.push_back(std::move(tok));
  }
  bool regex_allowed() const {
    if (tokens_.empty()) return true;
    const Token& prev = tokens_.back();
    if (prev.kind == Token::kName)
      return prev.text == "return" || prev.text == "typeof" || prev.text == "case" || prev.text == "in";
    if (prev.kind != Token::kPunct) return false;
    return prev.text != ")" && prev.text != "]" && prev.text != "}";
  }
  // Decodes one escape after a backslash at pos_ (pos_ points at the escaped character).
  void escape(std::string& out, bool raw) {
    char e = t_[pos_];
    if (raw) {
      out += '\\';
      out += e;
      if (e == '\n') ++line_;
      ++pos_;
      return;
    }
    ++pos_;
    switch (e) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'v': out += '\v'; break;
      case '0': out += '\0'; break;
      case '\n': ++line_; break;  // line continuation
      case 'x':
      case 'u': {
        size_t n = e == 'x' ? 2 : 4;
        if (e == 'u' && peek(0) == '{') {  // JS \u{1F600}: 1 to 6 hex digits, at most U+10FFFF
          size_t close = t_.find('}', pos_);
          if (close != std::string_view::npos) {
            std::string_view digits = t_.substr(pos_ + 1, close - pos_ - 1);
            uint32_t code = 0;
            auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), code, 16);
            if (!digits.empty() && digits.size() <= 6 && err == std::errc() && end == digits.data() + digits.size() &&
                code <= 0x10FFFF) {
              append_utf8(out, code);
              pos_ = close + 1;
              break;
            }
          }
          out += e;  // not a code point escape: kept as written, like other unknown escapes
          break;
        }
        std::string hex(t_.substr(pos_, n));
        bool valid = hex.size() == n && hex.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
        if (!valid) {
          out += e;
          break;
        }
        append_utf8(out, static_cast<uint32_t>(std::stoul(hex, nullptr, 16)));
        pos_ += n;
        break;
      }
      default: out += e;
    }
  }
  void python_string(const std::string& prefix) {
    bool raw = prefix.find_first_of("rR") != std::string::npos;
    bool fstr = prefix.find_first_of("fF") != std::string::npos;
    char q = t_[pos_];
    bool triple = peek(1) == q && peek(2) == q;
    int start_line = line_;
    pos_ += triple ? 3 : 1;
    std::string out;
    while (pos_ < t_.size()) {
      char c = t_[pos_];
      if (c == '\\' && pos_ + 1 < t_.size()) {
        ++pos_;
        escape(out, raw);
        continue;
      }
      if (c == q && (!triple || (peek(1) == q && peek(2) == q))) {
        pos_ += triple ? 3 : 1;
        break;
      }
      if (c == '\n') {
        if (!triple) break;  // unterminated: stop at the line end
        ++line_;
      }
      out += c;
      ++pos_;
    }
    push(Token::kString, std::move(out), start_line, fstr && out.find('{') != std::string::npos);
  }
  void js_string(char q) {
    int start_line = line_;
    ++pos_;
    std::string out;
    while (pos_ < t_.size() && t_[pos_] != q && t_[pos_] != '\n') {
      if (t_[pos_] == '\\' && pos_ + 1 < t_.size()) {
        ++pos_;
        escape(out, false);
        continue;
      }
      out += t_[pos_++];
    }
    if (pos_ < t_.size() && t_[pos_] == q) ++pos_;
    push(Token::kString, std::move(out), start_line);
  }
  void template_string() {
    int start_line = line_;
    ++pos_;
    std::string out;
    bool interpolated = false;
    while (pos_ < t_.size() && t_[pos_] != '`') {
      char c = t_[pos_];
      if (c == '\\' && pos_ + 1 < t_.size()) {
        ++pos_;
        escape(out, false);
        continue;
      }
      if (c == '$' && peek(1) == '{') {
        interpolated = true;
        int d = 0;
        while (pos_ < t_.size()) {  // skip the expression (nested braces counted)
          if (t_[pos_] == '{') ++d;
          if (t_[pos_] == '}' && --d == 0) {
            ++pos_;
            break;
          }
          if (t_[pos_] == '\n') ++line_;
          ++pos_;
        }
        out += "${...}";
        continue;
      }
      if (c == '\n') ++line_;
      out += c;
      ++pos_;
    }
    if (pos_ < t_.size()) ++pos_;
    push(Token::kString, std::move(out), start_line, interpolated);
  }
  void regex_literal() {
    ++pos_;
    std::string out;
    bool in_class = false;
    while (pos_ < t_.size() && t_[pos_] != '\n') {
      char c = t_[pos_];
      if (c == '\\' && pos_ + 1 < t_.size()) {
        out += c;
        out += t_[pos_ + 1];
        pos_ += 2;
        continue;
      }
      if (c == '[') in_class = true;
      if (c == ']') in_class = false;
      if (c == '/' && !in_class) break;
      out += c;
      ++pos_;
    }
    if (pos_ < t_.size() && t_[pos_] == '/') ++pos_;
    while (pos_ < t_.size() && std::isalpha(static_cast<unsigned char>(t_[pos_]))) ++pos_;  // flags
    push(Token::kRegex, std::move(out));
  }

  std::string_view t_;
  Lang lang_;
  size_t pos_ = 0;
  int line_ = 1;
  int depth_ = 0;
  bool line_start_ = true;
  std::vector<Token> tokens_;
};

bool is_punct(const Token& t, std::string_view p) { return t.kind == Token::kPunct && t.text == p; }

LiteralResult fail(const Token& t, std::string what) {
  LiteralResult r;
  r.error = "line " + std::to_string(t.line) + ": " + std::move(what);
  return r;
}

std::string describe(const Token& t) {
  switch (t.kind) {
    case Token::kName: return "`" + t.text + "` is a name, not a literal";
    case Token::kEnd: return "the file ends inside a literal";
    default: return "`" + t.text + "` is not part of a literal";
  }
}

bool parse_number(const std::string& text, json::Value& out) {
  std::string s;
  for (char c : text)
    if (c != '_') s += c;
  try {
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
      out.SetInt64(std::stoll(s.substr(2), nullptr, 16));
      return true;
    }
    size_t used = 0;
    if (s.find_first_of(".eE") == std::string::npos) {
      long long v = std::stoll(s, &used);
      if (used != s.size()) return false;
      out.SetInt64(v);
    } else {
      double d = std::stod(s, &used);
      if (used != s.size()) return false;
      out.SetDouble(d);
    }
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

std::vector<Token> tokenize(std::string_view text, Lang lang) { return Lexer(text, lang).run(); }

size_t skip_balanced(const std::vector<Token>& tokens, size_t i) {
  int depth = 0;
  for (; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (t.kind != Token::kPunct) continue;
    if (t.text == "(" || t.text == "[" || t.text == "{") ++depth;
    if (t.text == ")" || t.text == "]" || t.text == "}") {
      if (--depth == 0) return i + 1;
    }
  }
  return tokens.size();
}

LiteralResult parse_literal(const std::vector<Token>& tokens, size_t i, Lang lang, json::Value& out,
                            json::Allocator& a) {
  const Token& t = tokens[i];
  bool py = lang == Lang::kPython;
  LiteralResult r;
  auto finish = [&](size_t next) {
    // TypeScript `as const` / `satisfies X` after a literal.
    if (!py && next < tokens.size() && tokens[next].kind == Token::kName &&
        (tokens[next].text == "as" || tokens[next].text == "satisfies") && next + 1 < tokens.size())
      next += 2;
    r.ok = true;
    r.next = next;
    return r;
  };
  if (t.kind == Token::kString) {
    if (t.interpolated) return fail(t, "an interpolated string is computed at run time, not a literal");
    std::string s = t.text;
    size_t j = i + 1;
    while (py && j < tokens.size() && tokens[j].kind == Token::kString && !tokens[j].interpolated)
      s += tokens[j++].text;  // implicit concatenation
    out = json::str(s, a);
    return finish(j);
  }
  if (t.kind == Token::kNumber) {
    if (!parse_number(t.text, out)) return fail(t, "`" + t.text + "` is not a number JSON can hold");
    return finish(i + 1);
  }
  if (is_punct(t, "-") && i + 1 < tokens.size() && tokens[i + 1].kind == Token::kNumber) {
    if (!parse_number("-" + tokens[i + 1].text, out)) return fail(t, "bad number");
    return finish(i + 2);
  }
  if (t.kind == Token::kName) {
    const std::string& n = t.text;
    if ((py && n == "True") || (!py && n == "true")) return out.SetBool(true), finish(i + 1);
    if ((py && n == "False") || (!py && n == "false")) return out.SetBool(false), finish(i + 1);
    if ((py && n == "None") || (!py && (n == "null" || n == "undefined"))) return out.SetNull(), finish(i + 1);
    return fail(t, describe(t));
  }
  bool list = is_punct(t, "[") || (py && is_punct(t, "("));
  if (list) {
    std::string close = t.text == "[" ? "]" : ")";
    out.SetArray();
    size_t j = i + 1;
    while (j < tokens.size() && !is_punct(tokens[j], close)) {
      json::Value item;
      LiteralResult sub = parse_literal(tokens, j, lang, item, a);
      if (!sub.ok) return sub;
      out.PushBack(item, a);
      j = sub.next;
      if (is_punct(tokens[j], ",")) ++j;
      else if (!is_punct(tokens[j], close)) return fail(tokens[j], describe(tokens[j]));
    }
    if (j >= tokens.size()) return fail(t, "unclosed bracket");
    return finish(j + 1);
  }
  if (is_punct(t, "{")) {
    out.SetObject();
    size_t j = i + 1;
    while (j < tokens.size() && !is_punct(tokens[j], "}")) {
      const Token& k = tokens[j];
      std::string key;
      if (k.kind == Token::kString && !k.interpolated) key = k.text;
      else if (!py && (k.kind == Token::kName || k.kind == Token::kNumber)) key = k.text;
      else if (is_punct(k, "...") || is_punct(k, "**")) return fail(k, "a spread (" + k.text + ") is not a literal");
      else return fail(k, "a computed key is not a literal");
      ++j;
      if (!is_punct(tokens[j], ":")) {
        return fail(tokens[j], !py && (is_punct(tokens[j], ",") || is_punct(tokens[j], "}"))
                                   ? "shorthand property `" + key + "` refers to a variable, not a literal"
                                   : describe(tokens[j]));
      }
      ++j;
      json::Value v;
      LiteralResult sub = parse_literal(tokens, j, lang, v, a);
      if (!sub.ok) return sub;
      json::set(out, key, std::move(v), a);
      j = sub.next;
      if (is_punct(tokens[j], ",")) ++j;
      else if (!is_punct(tokens[j], "}")) return fail(tokens[j], describe(tokens[j]));
    }
    if (j >= tokens.size()) return fail(t, "unclosed brace");
    return finish(j + 1);
  }
  return fail(t, describe(t));
}

}  // namespace atlas::scan
