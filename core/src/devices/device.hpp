// The device interface: where a run's runtime executes. The engine drives every kind of device
// through these three classes and never learns which kind it holds (LevelDB's Env is the model:
// one abstract surface, one implementation per platform, fakes in tests).
//
//   DeviceDriver  one per device type on a host ("local", "sandbox"): checks a dispatch before
//                 anything is recorded and opens a Device for each run.
//   Device        one run's use of a device: resolve() finds, creates or resumes the place the
//                 run executes; launch() starts the adapter's launch spec there. Destroying it
//                 stops what the run started and keeps the device itself (a sandbox is never
//                 deleted by a run).
//   Execution     the launched runtime: stdin, termination, backpressure.
//
// Everything reports to a DeviceObserver, in this order:
//   on_resolved                      exactly once, after resolve(); an error ends it there
//   on_started                       exactly once, after launch(); an error ends it there
//   on_output / on_file_changed /    any number, interleaved
//   on_artifact / on_preview
//   on_exit                          exactly once, last
// Each callback carries the request id of the device call that revealed it (MIOSA's
// x-request-id; empty for the local device), which the engine stamps on the event.
//
// Thread rule: every method of these classes, and every observer callback, runs on the host's
// reactor thread (RUNHOST_ASSERT_ON_REACTOR checks it in debug builds). No callback is made
// re-entrantly from within a method call, and none after the object that would make it is
// destroyed. A device never blocks the reactor: its I/O is asynchronous (asio, libcurl multi)
// or runs on executors that may block.
#pragma once

#include <cassert>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <runhost/runtime.h>

#include "runhost/error.hpp"
#include "util/reactor_assert.hpp"

namespace runhost::devices {

// What a run asks of a device, from the dispatch: who it is for and where in the device.
struct DeviceRequest {
  std::string run_id;
  std::string tenant_id;
  std::string workspace_id;
  std::optional<std::string> project_id;
  std::string user_id;
  std::string device_id;  // as dispatched; empty: the device finds or creates one
  // device_id was not dispatched but is the project's current device (the store remembers it):
  // if it is gone, the device makes another rather than failing.
  bool remembered = false;
  std::string idempotency_key;  // the dispatch's: a retried dispatch resolves to the same device
  std::string cwd;              // what DeviceDriver::check() answered
};

// The device a run resolved to.
struct DeviceRef {
  std::string type;  // local | sandbox | computer
  std::string id;
  std::string cwd;       // the run's working directory in the device
  bool created = false;  // resolve() made it (rather than finding or resuming it)
};

// An adapter's launch spec, as the device runs it.
struct LaunchSpec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // the spec's env and the connectors' (secrets live here only)
  std::string stdin_data;                  // written first
  bool keep_stdin_open = false;            // else stdin is closed after stdin_data
};

struct Started {
  int64_t pid = -1;        // the runtime's process id in the device, when it has one
  std::string process_id;  // the device's own handle for it, when that is not the pid
};

struct FileChange {
  std::string path;         // relative to the run's cwd, '/'-separated
  std::string change;       // created | modified | deleted | renamed
  std::string from;         // for renamed: the old relative path (empty otherwise)
  int64_t size_bytes = -1;  // -1 when deleted or unknown
};

struct Artifact {
  std::string path;  // relative to the run's cwd
  int64_t size_bytes = 0;
  std::string content_type;        // from the extension: application/pdf, text/html, image/png, ...
  std::string sha256;              // lowercase hex; empty when too large to hash
  std::string device_artifact_id;  // the device's own id for it (MIOSA export), when it has one
  std::string download_url;        // never one that carries a credential
};

struct Preview {
  int port = 0;
  std::string address;     // "127.0.0.1", "0.0.0.0", "::"
  int64_t pid = 0;         // a process of the run holding the socket, when known
  std::string url;         // iframe-safe; never one that carries the device's API key
  std::string preview_id;  // the device's id for the preview, when it has one
  std::string expires_at;  // when `url` stops working (RFC 3339), when it does
};

class DeviceObserver {
 public:
  virtual void on_resolved(const Result<DeviceRef>& resolved, std::string_view request_id) = 0;
  virtual void on_started(const Result<Started>& started, std::string_view request_id) = 0;
  virtual void on_output(rh_stream stream, std::string_view bytes, std::string_view request_id) = 0;
  virtual void on_file_changed(const FileChange& change, std::string_view request_id) = 0;
  virtual void on_artifact(const Artifact& artifact, std::string_view request_id) = 0;
  virtual void on_preview(const Preview& preview, std::string_view request_id) = 0;
  // The runtime ended (or the device lost it: `device_error` says why, and the run fails with
  // it). After stdout and stderr were delivered to the end and pending changes were reported.
  virtual void on_exit(const rh_exit& exit, const std::optional<Error>& device_error, std::string_view request_id) = 0;

 protected:
  ~DeviceObserver() = default;
};

// What a run's helper process (Device::start_helper) reports, in this order: on_started exactly
// once (an error ends it there), on_output any number of times, on_exit exactly once, last.
class HelperObserver {
 public:
  virtual void on_started(const Result<Started>& started) = 0;
  virtual void on_output(rh_stream stream, std::string_view bytes) = 0;
  virtual void on_exit(const rh_exit& exit) = 0;

 protected:
  ~HelperObserver() = default;
};

class Execution {
 public:
  virtual ~Execution() = default;  // stops what it started; no callback after
  // Every method may be called before on_started: it takes effect once the runtime runs.
  virtual void write_stdin(std::string_view bytes) = 0;  // queued, delivered in order
  virtual void close_stdin() = 0;
  // Stops the runtime; the exit carries `flags` (RH_EXIT_FLAG_CANCELLED or _TIMED_OUT).
  // Idempotent; always ends in on_exit.
  virtual void terminate(uint32_t flags) = 0;
  // Backpressure: stop delivering output until resume_output(); memory stays bounded.
  virtual void pause_output() = 0;
  virtual void resume_output() = 0;
};

class Device {
 public:
  virtual ~Device() = default;  // keeps the device; no callback after
  // Finds, creates or resumes the device: ends in observer.on_resolved().
  virtual void resolve() = 0;
  // After on_resolved succeeded: starts `spec` in the device's cwd. Errors found before
  // anything started are returned (runtime_not_found, invalid_dispatch); later ones reach
  // on_started().
  virtual Result<std::unique_ptr<Execution>> launch(LaunchSpec spec) = 0;

  // Helper processes: more processes for the run, which its adapter starts (an ACP agent's
  // terminal/create) in the device beside the runtime. Whether this device can start them.
  virtual bool can_start_helpers() const noexcept { return false; }
  // After on_resolved succeeded: starts `spec` in `cwd` (relative to the run's working directory,
  // or absolute inside it; empty: the run's), reporting to `observer`. A port it listens on
  // reaches the device's observer as a preview; the files it changes are the run's own watching's
  // to see. Destroying the Execution stops it with no callback. Errors found before anything
  // started are returned: device_unavailable (this device cannot), runtime_not_found,
  // invalid_dispatch (a cwd outside the run's).
  virtual Result<std::unique_ptr<Execution>> start_helper(LaunchSpec spec, std::string_view cwd,
                                                          HelperObserver& observer) {
    (void)spec, (void)cwd, (void)observer;
    return Error{ErrorCode::device_unavailable, "this device cannot start helper processes"};
  }
};

class DeviceDriver {
 public:
  virtual ~DeviceDriver() = default;
  virtual std::string_view type() const noexcept = 0;
  // At dispatch, before anything is recorded (any thread): the run's working directory in the
  // device, or why the dispatch cannot run here (invalid_dispatch naming the field).
  virtual Result<std::string> check(std::string_view requested_cwd) const = 0;
  virtual std::unique_ptr<Device> open(DeviceRequest request, DeviceObserver& observer) = 0;
};

}  // namespace runhost::devices
