#include "engine/envelope.hpp"

#include <chrono>
#include <ctime>

#include "events/event_types.hpp"
#include "events/ids.hpp"

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

store::EventRow make_event(const RunIdentity& who, int64_t seq, std::string_view type, std::string_view source,
                           nlohmann::json payload, std::string_view raw, const std::optional<std::string>& request_id) {
  store::EventRow row;
  row.run_id = who.run_id;
  row.seq = seq;
  row.id = events::new_id("evt");
  row.type = std::string(type);
  row.time_us = now_us();
  row.request_id = request_id;
  nlohmann::json e = nlohmann::json::object();
  e["schema"] = events::kSchema;
  e["id"] = row.id;
  e["run_id"] = who.run_id;
  e["seq"] = seq;
  e["type"] = row.type;
  e["time"] = format_time(row.time_us);
  e["tenant_id"] = who.tenant_id;
  e["workspace_id"] = who.workspace_id;
  if (who.project_id) e["project_id"] = *who.project_id;
  e["user_id"] = who.user_id;
  e["runtime"] = who.runtime;
  e["device"] = {{"type", who.device_type}, {"id", who.device_id}};
  e["request_id"] = request_id ? nlohmann::json(*request_id) : nlohmann::json(nullptr);
  e["source"] = source;
  e["payload"] = std::move(payload);
  if (!raw.empty()) e["raw"] = std::string(raw);
  row.json = e.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return row;
}

}  // namespace runhost::engine
