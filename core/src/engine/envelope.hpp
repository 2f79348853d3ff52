// Stamping the envelope of unified events (docs/events.md): the run's identity, seq, id, time
// and source around a payload.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "store/store.hpp"

namespace runhost::engine {

// Who a run's events belong to: the envelope fields every event of the run repeats.
struct RunIdentity {
  std::string run_id;
  std::string tenant_id;
  std::string workspace_id;
  std::optional<std::string> project_id;
  std::string user_id;
  std::string runtime;
  std::string device_type;
  std::string device_id;
};

RunIdentity identity_of(const store::RunRow& run);

// Appends `s` as a JSON string literal, quotes included (as nlohmann::json's dump writes it).
void append_string(std::string& out, std::string_view s);

// RFC 3339, UTC, microseconds: 2026-11-21T09:30:00.123456Z.
std::string format_time(int64_t unix_us);
int64_t now_us();

// run.failed's payload for `error`: {"error": {code, message, request_id, retryable, recovery?}}.
nlohmann::json failure_payload(const Error& error);

// The stored row for one event; `raw` is kept only when non-empty. make_event_text takes the
// payload as JSON text (a JSON object; the caller has checked it) and writes it as it is.
store::EventRow make_event(const RunIdentity& who, int64_t seq, std::string_view type, std::string_view source,
                           nlohmann::json payload, std::string_view raw = {},
                           const std::optional<std::string>& request_id = std::nullopt);
store::EventRow make_event_text(const RunIdentity& who, int64_t seq, std::string_view type, std::string_view source,
                                std::string_view payload_json, std::string_view raw = {},
                                const std::optional<std::string>& request_id = std::nullopt);

}  // namespace runhost::engine
