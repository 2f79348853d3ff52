#include "engine/envelope.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <limits>

#include <runhost/json.h>

#include "events/event_types.hpp"
#include "events/ids.hpp"
#include "host/string_writer.hpp"

namespace runhost::engine {

RunIdentity identity_of(const store::RunRow& run) {
  return {run.id,      run.tenant_id, run.workspace_id, run.project_id,
          run.user_id, run.runtime,   run.device_type,  run.device_id};
}

int64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_time(int64_t unix_us) {
  const std::time_t seconds = static_cast<std::time_t>(unix_us / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lldZ", static_cast<long long>(unix_us % 1'000'000));
  return std::string(buf, n) + frac;
}

nlohmann::json failure_payload(const Error& error) {
  nlohmann::json e{
      {"code", to_string(error.code)},
      {"message", error.message},
      {"request_id", error.request_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(error.request_id)},
      {"retryable", default_retryable(error.code)}};
  if (!error.recovery_json.empty()) {
    nlohmann::json recovery = nlohmann::json::parse(error.recovery_json, nullptr, false);
    if (recovery.is_object()) e["recovery"] = std::move(recovery);
  }
  return nlohmann::json{{"error", std::move(e)}};
}

namespace {}  // namespace

// Most envelope strings (ids, names, types) need no escaping and are copied as they are; anything
// else goes through runhost/json.h's writer, which escapes and replaces invalid UTF-8 with U+FFFD.
void append_string(std::string& out, std::string_view s) {
  const bool plain = std::all_of(s.begin(), s.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b >= 0x20 && b < 0x7F && b != '"' && b != '\\';
  });
  out += '"';
  if (plain) {
    out.append(s);
  } else {
    host::StringWriter escaped(std::numeric_limits<size_t>::max());
    (void)rh_json_write_escaped(escaped.get(), s.data(), s.size());
    out.append(escaped.str());
  }
  out += '"';
}

namespace {

// format_time, with the seconds' text kept while the second lasts (events come in bursts).
void append_time(std::string& out, int64_t unix_us) {
  thread_local int64_t cached_second = -1;
  thread_local std::string cached;  // "2026-11-21T09:30:00"
  const int64_t second = unix_us / 1'000'000;
  if (second != cached_second) {
    const std::string full = format_time(second * 1'000'000);
    cached = full.substr(0, full.size() - 8);  // without ".000000Z"
    cached_second = second;
  }
  char frac[9];
  auto us = static_cast<unsigned>(unix_us % 1'000'000);
  frac[0] = '.';
  for (int i = 6; i >= 1; --i, us /= 10) frac[i] = static_cast<char>('0' + us % 10);
  frac[7] = 'Z';
  frac[8] = '"';
  out += '"';
  out.append(cached).append(frac, sizeof frac);
}

}  // namespace

store::EventRow make_event(const RunIdentity& who, int64_t seq, std::string_view type, std::string_view source,
                           nlohmann::json payload, std::string_view raw, const std::optional<std::string>& request_id) {
  return make_event_text(who, seq, type, source, payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                         raw, request_id);
}

// Written as text around the payload's: the envelope of docs/events.md, its members in a fixed
// order (what the run is, then where it comes from, then what it says).
store::EventRow make_event_text(const RunIdentity& who, int64_t seq, std::string_view type, std::string_view source,
                                std::string_view payload_json, std::string_view raw,
                                const std::optional<std::string>& request_id) {
  store::EventRow row;
  row.run_id = who.run_id;
  row.seq = seq;
  row.id = events::new_id("evt");
  row.type = std::string(type);
  row.time_us = now_us();
  row.request_id = request_id;
  std::string& e = row.json;
  e.reserve(320 + payload_json.size() + raw.size() + who.tenant_id.size() + who.workspace_id.size() +
            who.user_id.size() + who.device_id.size());
  e += R"({"schema":)";
  append_string(e, events::kSchema);
  e += R"(,"id":)";
  append_string(e, row.id);
  e += R"(,"run_id":)";
  append_string(e, who.run_id);
  e += R"(,"seq":)";
  e += std::to_string(seq);
  e += R"(,"type":)";
  append_string(e, type);
  e += R"(,"time":)";
  append_time(e, row.time_us);
  e += R"(,"tenant_id":)";
  append_string(e, who.tenant_id);
  e += R"(,"workspace_id":)";
  append_string(e, who.workspace_id);
  if (who.project_id) {
    e += R"(,"project_id":)";
    append_string(e, *who.project_id);
  }
  e += R"(,"user_id":)";
  append_string(e, who.user_id);
  e += R"(,"runtime":)";
  append_string(e, who.runtime);
  e += R"(,"device":{"type":)";
  append_string(e, who.device_type);
  e += R"(,"id":)";
  append_string(e, who.device_id);
  e += R"(},"request_id":)";
  if (request_id) {
    append_string(e, *request_id);
  } else {
    e += "null";
  }
  e += R"(,"source":)";
  append_string(e, source);
  e += R"(,"payload":)";
  e.append(payload_json);
  if (!raw.empty()) {
    e += R"(,"raw":)";
    append_string(e, raw);
  }
  e += '}';
  return row;
}

}  // namespace runhost::engine
