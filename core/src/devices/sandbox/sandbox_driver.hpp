// The sandbox device behind the device interface (devices/device.hpp): a run's runtime inside a
// MIOSA sandbox, over the MIOSA HTTP API (MiosaClient, never blocking the reactor).
//
// Resolving: a dispatched deviceId (or the project's current sandbox) is read; a paused or
// stopped one is resumed (once its checkpoint is written), with an Idempotency-Key; a destroyed
// or failed one is device_unavailable with fork_from_snapshot (never silently replaced when it
// was dispatched). Without one, a sandbox is created with an Idempotency-Key derived from the
// tenant and the dispatch's key, so a retried create never makes a second sandbox. Then the
// sandbox's readiness is awaited.
//
// Launching: the API has no stdin route and no output cursor, so the device keeps a small run
// directory in the sandbox, /workspace/.runhost/<run>/ (scripts/run.sh says what is in it):
//   1. fs/write-many puts run.sh, tail.sh and the first input there;
//   2. exec `command -v ARGV0` proves the runtime is in the sandbox (else runtime_not_found);
//   3. POST /processes starts run.sh, which runs the runtime in the run's cwd with its stdin,
//      stdout and stderr on files (a repeated start does nothing, so the start is retried
//      safely), and notes the ports the run's processes listen on;
//   4. exec/stream runs tail.sh, which prints those files as chunks tagged with byte offsets
//      and the exit status last. A stream that drops is run again from the offsets received:
//      nothing is lost or repeated. Too many drops in a row: device_lost.
// Input written later (write_stdin, close_stdin) goes as numbered files through fs/write-many.
// Ground truth: files/watch (SSE) → file changes, debounced; files matching the artifact
// patterns → exec `stat`/`sha256sum` → artifacts, each also exported (POST /exports) for its
// MIOSA id and URL when the server gives one; a new listening port → POST /previews and a
// preview token → a preview whose URL is the token URL (it carries no API key).
// Stopping: DELETE /processes/{pid}; the exit is the one run.sh records, or, if none comes
// within the kill grace, a SIGKILL exit. The sandbox is kept; its run directory is removed.
//
// Every callback reports the x-request-id of the MIOSA response behind it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "devices/device.hpp"
#include "devices/local/local_device.hpp"
#include "devices/sandbox/miosa_client.hpp"

namespace runhost::devices::sandbox {

struct SandboxOptions {
  std::string template_id = "miosa-sandbox";  // for the sandboxes runhost creates
  // What counts as an artifact, and which directories' changes are noise: as on the local device.
  std::vector<std::string> artifact_patterns = local::LocalOptions{}.artifact_patterns;
  std::vector<std::string> ignore_dirs = local::LocalOptions{}.ignore_dirs;
  int64_t artifact_max_bytes = local::LocalOptions{}.artifact_max_bytes;  // larger: reported without sha256
  std::chrono::milliseconds readiness_timeout{180'000};
  std::chrono::milliseconds poll{200};          // readiness, checkpoints
  std::chrono::milliseconds debounce{150};      // file changes
  std::chrono::milliseconds kill_grace{1'500};  // after MIOSA answered the process's DELETE
  std::chrono::milliseconds exit_settle{400};   // after the exit: file changes still arriving
  int max_stream_drops = 8;                     // in a row, before the runtime counts as lost
  std::chrono::milliseconds stream_idle{60'000};
  std::chrono::milliseconds reopen_delay{200};  // first reopen; doubles up to 5 s
  // The ports a run reports are put behind a MIOSA preview; the token lasts this long.
  std::chrono::seconds preview_token_ttl{3600};
};

class SandboxDriver final : public DeviceDriver {
 public:
  // The client (and its CurlMulti) must outlive the driver and every device it opened.
  SandboxDriver(boost::asio::io_context& io, MiosaClient& client, SandboxOptions options);

  std::string_view type() const noexcept override { return "sandbox"; }
  // The cwd in the sandbox: /workspace, or a path under it ("app" or "/workspace/app"); ".."
  // and paths elsewhere are invalid_dispatch naming "cwd".
  Result<std::string> check(std::string_view requested_cwd) const override;
  std::unique_ptr<Device> open(DeviceRequest request, DeviceObserver& observer) override;

  // The Idempotency-Key for `purpose` of one dispatch: a UUID (RFC 9562 version 8, from
  // SHA-256) of the tenant, the dispatch's idempotency key and the purpose.
  static std::string idempotency_key(std::string_view tenant_id, std::string_view dispatch_key,
                                     std::string_view purpose);

 private:
  boost::asio::io_context& io_;
  MiosaClient& client_;
  SandboxOptions options_;
};

}  // namespace runhost::devices::sandbox
