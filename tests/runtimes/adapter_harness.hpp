// Driving a runtime adapter plugin in-process, the way the host does, without its CLI: load the
// built plugin, create a session with a recording run, feed native bytes in any chunking, finish
// with an exit, and look at the unified events it emitted. Every payload is checked against
// docs/events.schema.json as it arrives (a refused one is kept as runtime.unparsed, as the host
// does), and each event, wrapped in an envelope, against the whole schema.
//
//   AdapterHarness h("claude-code");
//   auto s = h.start(h.dispatch("Say hi"));
//   s.feed_chunked(RH_STREAM_STDOUT, transcript, 7);
//   const auto& events = s.finish(exited(0));
//
// Each adapter of the bundled set describes itself to the generic suites in
// tests/runtimes/adapters/<id>.json (see tests/runtimes/README.md).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/host_services.hpp"
#include "plugins/instances.hpp"
#include "plugins/registry.hpp"

namespace runhost::testing {

struct RecordedEvent {
  std::string type;
  nlohmann::json payload;
  std::string raw;
  bool by_host = false;  // the run kept it itself, for an event it refused
};

// A run that keeps what the adapter emits. A payload that does not match the schema is refused
// with the validator's message as last_error, and its line is kept as runtime.unparsed, as the
// host does (host.h, emit).
class RecordingRun final : public rh_run {
 public:
  rh_status emit(const rh_event& e) noexcept override;
  // What the adapter wrote to its runtime's stdin through the host (send_input).
  rh_status send_input(std::string_view data, uint32_t flags) noexcept override;

  std::vector<RecordedEvent> events;
  std::string input;          // every byte sent
  bool input_closed = false;  // RH_INPUT_CLOSE was sent
  std::vector<std::string> refusals;
  std::vector<std::string> envelope_errors;  // events that fail the whole-envelope check

  // Helper processes (runtime.h, "runhost.processes/1"): none unless `processes_available`. Each
  // start is recorded, and a test plays the process through its sink; `refuse_start` makes the
  // next start fail with that status (and `refusal` as last_error).
  struct Process {
    nlohmann::json spec;
    rh_process_sink sink{};
    uint64_t id = 0;
    int kills = 0;
    void output(rh_stream stream, std::string_view bytes) const { sink.output(sink.user, id, stream, bytes.data(), bytes.size()); }
    void exit(const rh_exit& e) const { sink.exit(sink.user, id, &e); }
  };
  bool processes_available = false;
  rh_status refuse_start = RH_OK;
  std::string refusal;
  std::vector<Process> processes;
  int can_start_processes() noexcept override { return processes_available ? 1 : 0; }
  rh_status start_process(std::string_view spec_json, const rh_process_sink& sink, uint64_t* id) noexcept override;
  rh_status kill_process(uint64_t id) noexcept override;
};

rh_exit exited(int code, uint32_t flags = 0);
rh_exit signaled(int sig, uint32_t flags = 0);
rh_exit spawn_failed(int err);

// One session of one adapter.
class AdapterSession {
 public:
  AdapterSession(std::unique_ptr<plugins::RuntimeSession> session, std::unique_ptr<RecordingRun> run)
      : session_(std::move(session)), run_(std::move(run)) {}
  Result<std::string> launch() { return session_->launch(); }
  nlohmann::json launch_spec();  // parsed; throws when launch() fails
  void feed(rh_stream stream, std::string_view bytes);
  // Feeds `bytes` in pieces of `chunk` bytes (0: whole).
  void feed_chunked(rh_stream stream, std::string_view bytes, size_t chunk);
  // Feeds `bytes` in pieces of random sizes from 1 to `max`, from a fixed seed.
  void feed_random(rh_stream stream, std::string_view bytes, size_t max, unsigned seed);
  // Hands the adapter an answer to one of its approval requests: the bytes for its stdin.
  Result<std::string> respond(const nlohmann::json& answer) { return session_->respond(answer.dump()); }
  RecordingRun& mutable_run() { return *run_; }
  void cancel() { session_->cancel(); }  // rh_runtime_adapter.cancel, when the adapter has it
  bool can_cancel() const { return session_->can_cancel(); }
  const std::vector<RecordedEvent>& finish(const rh_exit& exit);
  const RecordingRun& run() const { return *run_; }

 private:
  std::unique_ptr<plugins::RuntimeSession> session_;
  std::unique_ptr<RecordingRun> run_;
};

// What tests/runtimes/adapters/<id>.json says about an adapter.
struct AdapterSpec {
  std::string id;
  std::string program;               // argv[0] by default
  std::string install_hint_contains; // runtime_not_found's recovery hint names this
  bool expects_result_line = true;
  std::filesystem::path transcript;  // a realistic stdout transcript (repository-relative)
  std::string result_line_prefix;    // how the transcript's final line starts (dropped for no-result tests)
  std::vector<std::string> wrong_shape_lines;
  nlohmann::json config = nlohmann::json::object();
};

std::vector<std::string> adapter_ids();  // from RUNHOST_TEST_ADAPTERS (tests/runtimes/CMakeLists.txt)
std::vector<std::string> golden_adapter_ids();  // those and RUNHOST_GOLDEN_ONLY_ADAPTERS
AdapterSpec adapter_spec(const std::string& id);

class AdapterHarness {
 public:
  explicit AdapterHarness(std::string id);
  const plugins::LoadedPlugin& plugin() const;

  static nlohmann::json dispatch(const std::string& prompt = "Do the thing", const std::string& runtime = "");

  struct Options {
    nlohmann::json config = nlohmann::json::object();
    nlohmann::json constraints = nlohmann::json::object();
    std::string resume_id;
    nlohmann::json mcp_servers = nlohmann::json::object();  // rh_runtime_context.mcp_servers_json
    bool processes = false;                                  // RecordingRun::processes_available
  };
  Result<AdapterSession> create(const nlohmann::json& dispatch, const Options& options);
  Result<AdapterSession> create(const nlohmann::json& dispatch) { return create(dispatch, Options{}); }
  AdapterSession start(const nlohmann::json& dispatch, const Options& options);
  AdapterSession start(const nlohmann::json& dispatch) { return start(dispatch, Options{}); }
  AdapterSession start() { return start(dispatch(), Options{}); }

 private:
  std::string id_;
};

// Golden files: one {"type", "payload"} object per line, keys sorted, with what changes from one
// recording of the same scenario to the next made neutral: UUIDs in any string (session and
// thread ids) become "<uuid>", and every "duration_ms" becomes "<duration>".
std::string to_golden(const std::vector<RecordedEvent>& events);
std::vector<nlohmann::json> golden_events(const std::vector<RecordedEvent>& events);
nlohmann::json neutral(const nlohmann::json& value);

std::string read_text(const std::filesystem::path& path);
std::vector<std::string> split_lines(const std::string& text);  // without their newlines

// The payloads of the events of one type, in order.
std::vector<nlohmann::json> of_type(const std::vector<RecordedEvent>& events, const std::string& type);

// One recorded run of a runtime: NAME.stdout.jsonl, NAME.stderr.txt (may be absent: empty) and
// NAME.meta.json (absent: null), from kTranscriptDir/RUNTIME, else kRuntimeFixtureDir/RUNTIME.
struct Transcript {
  std::string out, err;
  nlohmann::json meta;
};
Transcript load_transcript(const std::string& runtime, const std::string& name);

extern const std::filesystem::path kRuntimeFixtureDir;  // tests/fixtures/runtimes
extern const std::filesystem::path kTranscriptDir;      // tests/runtimes/transcripts
extern const std::filesystem::path kGoldenDir;          // tests/runtimes/golden
extern const std::filesystem::path kSpecDir;            // tests/runtimes/adapters

}  // namespace runhost::testing
