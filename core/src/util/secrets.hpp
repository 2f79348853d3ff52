// The process's secrets, and the one place text is scrubbed of them before it is stored,
// delivered or logged.
//
// Every secret the host learns (a connector credential, a plugin config's secret value) is
// added to secrets() once; events, their raw lines, store rows and log lines then pass through
// secrets().redact(). The registry is process-wide on purpose: a secret one run knows must not
// appear in another run's events either (a second run listing a file the first one named
// after a token), and it is never forgotten while the process lives.
//
// A secret reaches text in more spellings than its own bytes: escaped inside a JSON string,
// twice escaped when that JSON sits in another JSON string, or percent-encoded in a URL. add()
// derives each spelling the host can foresee, and redact() replaces any of them.
//
// Thread rules: every call may be made from any thread at any time. redact() takes a shared
// lock and, when the registry is empty, returns before taking it.
//
//   util::secrets().add(token);
//   std::string line = payload_text;
//   if (util::secrets().redact(line)) { /* line now says [redacted] where the token was */ }
#pragma once

#include <atomic>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace runhost::util {

inline constexpr std::string_view kRedacted = "[redacted]";

class Redactor {
 public:
  // Values shorter than this are not secrets worth the name (a 3-byte value is guessed in
  // seconds), while replacing them would shred every event ("on", "yes", "123").
  static constexpr size_t kMinSecretBytes = 4;

  // Remembers `secret` in every spelling: raw; JSON-escaped as nlohmann's dump() writes it
  // (\" \\ \b \f \n \r \t, other control bytes as \u00xx), with \u00XX in upper case as other
  // encoders write it, with non-ASCII as \uXXXX (ensure_ascii, as Python's json.dumps writes
  // it), and each of those escaped once more; percent-encoded (upper- and lower-case hex; space
  // as %20 and as '+'; with and without encodeURIComponent's unescaped !'()*).
  void add(std::string_view secret);

  // Replaces every occurrence of any spelling of any secret by [redacted]; true if anything
  // changed. Overlapping or adjacent occurrences become one [redacted].
  //
  // When `text` is a JSON document, the result is one too: a replacement inside a string
  // never splits an escape sequence or a UTF-8 character (it widens to whole ones), a number
  // or literal token that holds a secret becomes the string "[redacted]", and the structure
  // between tokens is left as it is. Any other text is replaced byte for byte.
  bool redact(std::string& text) const;

  bool empty() const noexcept { return count_.load(std::memory_order_acquire) == 0; }
  size_t size() const noexcept { return count_.load(std::memory_order_acquire); }  // secrets added

 private:
  struct Match {
    size_t begin, end;
  };
  std::vector<Match> find(std::string_view text) const;  // merged, sorted; under the lock

  mutable std::shared_mutex mutex_;
  std::unordered_set<std::string> secrets_;  // as added, to ignore repeats
  std::unordered_set<std::string> known_;    // every spelling in variants_
  std::vector<std::string> variants_;        // every spelling of every secret
  // Filters, one bit per byte pair (b0 << 8 | b1). A spelling has kMinSecretBytes or more, so
  // one starting at p has a pair at an odd position o (p or p + 1) among its first three bytes:
  // find() tests only the pairs at odd positions against probe_bits_ (the pairs at offsets 0
  // and 1 of every spelling), and only on a hit tests o - 1 and o against start_bits_ (the
  // pairs spellings start with). Most pairs of most text fail the first test.
  std::vector<uint64_t> probe_bits_ = std::vector<uint64_t>(65536 / 64, 0);
  std::vector<uint64_t> start_bits_ = std::vector<uint64_t>(65536 / 64, 0);
  // The spellings starting with each such pair, longest first.
  std::unordered_map<uint16_t, std::vector<uint32_t>> by_pair_;
  std::atomic<size_t> count_{0};
};

// The process's one registry: events, logs and store rows all pass through it.
Redactor& secrets();

// The secret values in a plugin's JSON configuration (empty when it is not JSON):
// - any value marked {"secret": true, "value": "..."} (and never one marked "secret": false,
//   whatever its key is called: the way to say a key only looks like a secret);
// - every string at any depth under a key named like a secret. A key is named like one when,
//   lower-cased, it contains secret, password, passwd, token, credential, apikey, cookie or
//   bearer, or one of its words (split at _ - . space and lowerUpper) is key, auth,
//   authorization, private or session. Whole words for the short ones, so that "monkey",
//   "author" and "keybindings" are not secrets while "api_key", "apiKey", "GITHUB_TOKEN"
//   and "PGPASSWORD" are.
// Values shorter than Redactor::kMinSecretBytes are left out.
std::vector<std::string> secrets_in_config(std::string_view config_json);

// Whether a config key is named like a secret, by the rule above.
bool named_like_secret(std::string_view key);

}  // namespace runhost::util
