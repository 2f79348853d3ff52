#include "util/secrets.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

namespace runhost::util {
namespace {

using nlohmann::json;

constexpr char kLowerHex[] = "0123456789abcdef";
constexpr char kUpperHex[] = "0123456789ABCDEF";

// --- spellings -------------------------------------------------------------------------------

// How one JSON encoder writes a string's content. The encoders the host can meet: nlohmann
// (ours; plugins' too), JavaScript's JSON.stringify, Python's json.dumps (ASCII only), Go's
// encoding/json (escapes < > & and U+2028/9), PHP's json_encode (ASCII only, escapes /).
struct JsonStyle {
  bool upper_hex = false;     // \u001F rather than \u001f
  bool ascii_only = false;    // non-ASCII as \uXXXX (UTF-16, surrogate pairs)
  bool html_safe = false;     // < > & and U+2028/U+2029 as \u00xx / \u20xx
  bool escape_slash = false;  // / as \/
};

void append_u_escape(std::string& out, uint32_t unit, bool upper) {
  const char* hex = upper ? kUpperHex : kLowerHex;
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += hex[(unit >> shift) & 15];
}

// The code point of the UTF-8 sequence at s[i] and its length; length 0 when it is not valid.
std::pair<uint32_t, size_t> decode_utf8(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t len = b >= 0xF0 && b < 0xF5 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 0;
  if (len == 0 || i + len > s.size()) return {0, 0};
  uint32_t cp = b & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return {0, 0};
    cp = cp << 6 | (c & 0x3F);
  }
  const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
  if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return {0, 0};
  return {cp, len};
}

std::string json_escape(std::string_view s, const JsonStyle& style) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
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
      default:
        break;
    }
    if (c < 0x20 || (style.html_safe && (c == '<' || c == '>' || c == '&'))) {
      append_u_escape(out, c, style.upper_hex);
    } else if (c == '/' && style.escape_slash) {
      out += "\\/";
    } else if (c >= 0x80 && (style.ascii_only || style.html_safe)) {
      // Invalid UTF-8 stays as it is: no encoder agrees on what to make of it.
      const auto [cp, len] = decode_utf8(s, i);
      const bool escape = len > 0 && (style.ascii_only || cp == 0x2028 || cp == 0x2029);
      if (!escape) {
        out += static_cast<char>(c);
        continue;
      }
      if (cp >= 0x10000) {
        append_u_escape(out, 0xD800 + ((cp - 0x10000) >> 10), style.upper_hex);
        append_u_escape(out, 0xDC00 + ((cp - 0x10000) & 0x3FF), style.upper_hex);
      } else {
        append_u_escape(out, cp, style.upper_hex);
      }
      i += len - 1;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// How one URL encoder writes it: which bytes besides letters and digits stay as they are, the
// case of the hex digits, and whether a space becomes '+'.
struct UrlStyle {
  std::string_view keep;
  bool upper_hex;
  bool space_plus;
};

std::string percent_encode(std::string_view s, const UrlStyle& style) {
  const char* hex = style.upper_hex ? kUpperHex : kLowerHex;
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 && c < 0x80) {
      out += ch;
    } else if (c == ' ' && style.space_plus) {
      out += '+';
    } else if (style.keep.find(ch) != std::string_view::npos) {
      out += ch;
    } else {
      out += {'%', hex[c >> 4], hex[c & 15]};
    }
  }
  return out;
}

std::set<std::string> spellings(std::string_view secret) {
  std::set<std::string> all{std::string(secret)};
  const JsonStyle json_styles[] = {
      {},                           // nlohmann dump(), JSON.stringify
      {true, false, false, false},  // upper-case \u00XX
      {false, true, false, false},  // json.dumps, dump(ensure_ascii)
      {true, true, false, false},   // both
      {false, false, true, false},  // Go
      {false, true, false, true},   // PHP
  };
  for (const auto& style : json_styles) {
    const std::string once = json_escape(secret, style);
    all.insert(once);
    // A JSON document inside a JSON string, as the host writes one (an event's raw line).
    all.insert(json_escape(once, {}));
    all.insert(json_escape(once, {false, true, false, false}));
  }
  // RFC 3986 (curl, Python's quote(safe='')), Python's quote(), JavaScript's
  // encodeURIComponent, HTML forms (Java's URLEncoder, WHATWG urlencoded).
  for (std::string_view keep : {"-_.~", "-_.~/", "-_.~!'()*", "-_.*"}) {
    for (bool upper : {true, false}) {
      for (bool plus : {false, true}) all.insert(percent_encode(secret, {keep, upper, plus}));
    }
  }
  return all;
}

// --- redaction of JSON text -------------------------------------------------------------------

bool hex4(std::string_view s, size_t at, uint32_t& value) {
  if (at + 4 > s.size()) return false;
  value = 0;
  for (size_t k = 0; k < 4; ++k) {
    const auto c = static_cast<unsigned char>(s[at + k]);
    if (std::isxdigit(c) == 0) return false;
    const int digit = std::isdigit(c) != 0 ? c - '0' : std::tolower(c) - 'a' + 10;
    value = value << 4 | static_cast<uint32_t>(digit);
  }
  return true;
}

// The length of the character of a JSON string's content at s[i]: an escape sequence (a
// surrogate pair's two escapes together, since either alone is refused by parsers), a UTF-8
// sequence, or one byte. Cutting inside one would leave the document invalid.
size_t string_unit(std::string_view s, size_t i) {
  if (s[i] == '\\') {
    if (i + 1 >= s.size() || s[i + 1] != 'u') return 2;
    uint32_t high = 0, low = 0;
    if (hex4(s, i + 2, high) && high >= 0xD800 && high < 0xDC00 && s.compare(i + 6, 2, "\\u") == 0 &&
        hex4(s, i + 8, low) && low >= 0xDC00 && low < 0xE000) {
      return 12;
    }
    return 6;
  }
  size_t len = 1;
  while (i + len < s.size() && (static_cast<unsigned char>(s[i + len]) & 0xC0) == 0x80) ++len;
  return len;
}

uint16_t pair_at(std::string_view s, size_t i) {
  return static_cast<uint16_t>(static_cast<unsigned char>(s[i]) << 8 | static_cast<unsigned char>(s[i + 1]));
}
void set_bit(std::vector<uint64_t>& bits, uint16_t at) {
  bits[at >> 6] |= uint64_t{1} << (at & 63);
}
bool test_bit(const std::vector<uint64_t>& bits, uint16_t at) {
  return (bits[at >> 6] >> (at & 63) & 1) != 0;
}

bool in_literal(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '+' || c == '-';
}

}  // namespace

// --- Redactor ----------------------------------------------------------------------------------

void Redactor::add(std::string_view secret) {
  if (secret.size() < kMinSecretBytes) return;
  const std::set<std::string> spelled = spellings(secret);
  std::unique_lock lock(mutex_);
  if (!secrets_.emplace(secret).second) return;
  for (const auto& v : spelled) {
    if (!known_.insert(v).second) continue;
    const uint16_t start = pair_at(v, 0);
    set_bit(start_bits_, start);
    set_bit(probe_bits_, start);
    set_bit(probe_bits_, pair_at(v, 1));
    auto& list = by_pair_[start];
    list.push_back(static_cast<uint32_t>(variants_.size()));
    variants_.push_back(v);
    std::stable_sort(list.begin(), list.end(),
                     [this](uint32_t a, uint32_t b) { return variants_[a].size() > variants_[b].size(); });
  }
  count_.store(secrets_.size(), std::memory_order_release);
}

std::vector<Redactor::Match> Redactor::find(std::string_view text) const {
  std::vector<Match> found;
  auto try_at = [&](size_t i) {
    const uint16_t pair = pair_at(text, i);
    if (!test_bit(start_bits_, pair)) return;
    for (uint32_t index : by_pair_.at(pair)) {
      const std::string& v = variants_[index];
      if (v.size() > text.size() - i || std::memcmp(text.data() + i + 2, v.data() + 2, v.size() - 2) != 0) continue;
      // Positions inside a match are searched too, so that a secret overlapping another one
      // is not left half shown; overlapping and adjacent matches merge into one.
      if (!found.empty() && i <= found.back().end) {
        found.back().end = std::max(found.back().end, i + v.size());
      } else {
        found.push_back({i, i + v.size()});
      }
      return;  // the longest spelling that matches here
    }
  };
  for (size_t odd = 1; odd + 1 < text.size(); odd += 2) {
    if (!test_bit(probe_bits_, pair_at(text, odd))) continue;
    try_at(odd - 1);
    try_at(odd);
  }
  return found;
}

bool Redactor::redact(std::string& text) const {
  if (empty()) return false;
  std::vector<Match> matches;
  {
    std::shared_lock lock(mutex_);
    matches = find(text);
  }
  if (matches.empty()) return false;

  std::string out;
  out.reserve(text.size());
  if (!json::accept(text)) {
    size_t copied = 0;
    for (const auto& m : matches) {
      out.append(text, copied, m.begin - copied);
      out += kRedacted;
      copied = m.end;
    }
    out.append(text, copied);
    text = std::move(out);
    return true;
  }

  // A JSON document: walk its tokens; inside strings replace whole characters, replace a number
  // or literal token as a whole by a string, and copy structure and whitespace.
  size_t next = 0;  // the first match that may still overlap what follows
  auto overlaps = [&](size_t begin, size_t end) {
    while (next < matches.size() && matches[next].end <= begin) ++next;
    return next < matches.size() && matches[next].begin < end;
  };
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const char c = text[i];
    if (c == '"') {
      out += '"';
      bool redacting = false;
      for (++i; i < n && text[i] != '"';) {
        const size_t len = string_unit(text, i);
        if (!overlaps(i, i + len)) {
          out.append(text, i, len);
          redacting = false;
        } else if (!redacting) {
          out += kRedacted;
          redacting = true;
        }
        i += len;
      }
      if (i < n) out += text[i++];
    } else if (c == '-' || std::isalnum(static_cast<unsigned char>(c)) != 0) {
      size_t end = i;
      while (end < n && in_literal(text[end])) ++end;
      if (overlaps(i, end)) {
        out += '"';
        out += kRedacted;
        out += '"';
      } else {
        out.append(text, i, end - i);
      }
      i = end;
    } else {
      out += text[i++];
    }
  }
  text = std::move(out);
  return true;
}

Redactor& secrets() {
  static Redactor instance;
  return instance;
}

// --- configs -----------------------------------------------------------------------------------

bool named_like_secret(std::string_view key) {
  std::string lower(key);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view part : {"secret", "password", "passwd", "token", "credential", "apikey", "cookie", "bearer"}) {
    if (lower.find(part) != std::string::npos) return true;
  }
  // Words: split at anything but a letter or digit, and where a lower-case letter meets an
  // upper-case one (apiKey).
  static const std::set<std::string, std::less<>> kWords = {"key",           "keys",    "auth",
                                                            "authorization", "private", "session"};
  std::string word;
  for (size_t i = 0; i <= key.size(); ++i) {
    const auto c = static_cast<unsigned char>(i < key.size() ? key[i] : ' ');
    const bool camel = i > 0 && std::islower(static_cast<unsigned char>(key[i - 1])) != 0 && std::isupper(c) != 0;
    if (std::isalnum(c) == 0 || camel) {
      if (kWords.count(word) > 0) return true;
      word.clear();
    }
    if (std::isalnum(c) != 0) word += static_cast<char>(std::tolower(c));
  }
  return false;
}

namespace {

// "${NAME}": a reference to a variable that holds the secret (an MCP server's env), not one.
bool is_variable_reference(const std::string& text) {
  if (text.size() < 4 || text.compare(0, 2, "${") != 0 || text.back() != '}') return false;
  for (size_t i = 2; i + 1 < text.size(); ++i) {
    const char c = text[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

void collect_secrets(const json& value, bool under_secret_key, std::vector<std::string>& out) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (under_secret_key && text.size() >= Redactor::kMinSecretBytes && !is_variable_reference(text)) {
      out.push_back(value.get<std::string>());
    }
  } else if (value.is_array()) {
    for (const auto& item : value) collect_secrets(item, under_secret_key, out);
  } else if (value.is_object()) {
    const auto marker = value.find("secret");
    if (marker != value.end() && marker->is_boolean() && value.contains("value")) {
      collect_secrets(value["value"], marker->get<bool>(), out);
      return;
    }
    for (const auto& [key, item] : value.items()) {
      collect_secrets(item, under_secret_key || named_like_secret(key), out);
    }
  }
}

}  // namespace

std::vector<std::string> secrets_in_config(std::string_view config_json) {
  const json config = json::parse(config_json, nullptr, false);
  std::vector<std::string> out;
  if (!config.is_discarded()) collect_secrets(config, false, out);
  return out;
}

}  // namespace runhost::util
