// DevicePromptDispatch: the contract from the MIOSA backend guide, as JSON (camelCase), parsed
// and validated field by field. A bad field is an invalid_dispatch error naming it, with a
// fix_dispatch recovery; nothing is started.
//
//   {"tenantId": "t1", "workspaceId": "w1", "projectId": "p1", "userId": "u1",
//    "deviceType": "local", "deviceId": "laptop", "runtime": "custom", "prompt": "build it",
//    "cwd": "app", "connectors": ["github"], "approvalPolicy": "auto", "idempotencyKey": "k1",
//    "command": ["make", "all"], "outputMode": "text", "timeoutSeconds": 600,
//    "resumeSessionId": "3f1c..."}
//
// command, outputMode, timeoutSeconds and resumeSessionId are runhost's extensions (the custom
// runtime's argv and output mode; a per-run time limit; the runtime's own session to continue,
// as an earlier run's terminal event gave it in `session_id`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runhost/error.hpp"

namespace runhost::engine {

struct Dispatch {
  std::string tenant_id;
  std::string workspace_id;
  std::optional<std::string> project_id;
  std::string user_id;
  std::string device_type;  // sandbox | computer | local
  std::string device_id;
  std::string runtime;
  std::string prompt;
  std::optional<std::string> cwd;
  std::vector<std::string> connectors;
  std::string approval_policy;  // auto | confirm-risky | manual
  std::string idempotency_key;
  std::vector<std::string> command;
  std::optional<std::string> output_mode;  // text | jsonl
  std::optional<int64_t> timeout_seconds;
  std::optional<std::string> resume_session_id;

  std::string canonical_json;  // the dispatch as validated, keys sorted: what adapters see and what is hashed
  std::string request_hash;    // sha256 of canonical_json, hex
};

inline constexpr size_t kMaxPromptBytes = 1u << 20;
inline constexpr size_t kMaxIdBytes = 256;

// `acting_tenant`: the scope's tenant, if any. A dispatch without tenantId gets it; one naming
// another tenant is refused (field tenantId).
Result<Dispatch> parse_dispatch(std::string_view json, const std::optional<std::string>& acting_tenant = {});

// An invalid_dispatch error naming `field`, with a fix_dispatch recovery.
Error invalid_field(std::string_view field, std::string_view problem);

}  // namespace runhost::engine
