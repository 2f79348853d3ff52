#include "adapter_harness.hpp"

#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "events/schema.hpp"
#include "runhost/plugins.hpp"
#include "test_paths.hpp"

namespace runhost::testing {

using nlohmann::json;

const std::filesystem::path kRuntimeFixtureDir = kSourceDir / "tests" / "fixtures" / "runtimes";
const std::filesystem::path kTranscriptDir = kSourceDir / "tests" / "runtimes" / "transcripts";
const std::filesystem::path kGoldenDir = kSourceDir / "tests" / "runtimes" / "golden";
const std::filesystem::path kSpecDir = kSourceDir / "tests" / "runtimes" / "adapters";

namespace {

std::shared_ptr<const PluginRegistry> registry() {
  static std::shared_ptr<const PluginRegistry> loaded = [] {
    PluginSearchPath search;
    search.directories = {kBundledDir};
    search.use_environment = false;
    search.use_bundled = false;
    return PluginRegistry::load(search);
  }();
  return loaded;
}

// The whole event, with an envelope the host would stamp, against the whole schema.
Status check_envelope(const std::string& type, const json& payload, size_t seq) {
  json envelope = {{"schema", "runhost.event/1"},
                   {"id", "evt_01JD3QZ5Y80000000000000001"},
                   {"run_id", "run_01JD3QZ5Y7R8W2K4M6N8P0Q2S4"},
                   {"seq", seq},
                   {"type", type},
                   {"time", "2026-11-21T09:30:00.123456Z"},
                   {"tenant_id", "t1"},
                   {"workspace_id", "w1"},
                   {"user_id", "u1"},
                   {"runtime", "test"},
                   {"device", {{"type", "local"}, {"id", "laptop"}}},
                   {"source", "runtime"},
                   {"payload", payload}};
  return events::validate_event(envelope);
}

}  // namespace

rh_status RecordingRun::send_input(std::string_view data, uint32_t flags) noexcept {
  if (input_closed) return RH_ERR_INVALID_ARGUMENT;  // as the host: nothing after the close
  input.append(data);
  input_closed = (flags & RH_INPUT_CLOSE) != 0;
  return RH_OK;
}

rh_status RecordingRun::start_process(std::string_view spec_json, const rh_process_sink& sink, uint64_t* id) noexcept {
  if (refuse_start != RH_OK) {
    host::set_last_error(refusal);
    return std::exchange(refuse_start, RH_OK);
  }
  try {
    processes.push_back({json::parse(spec_json), sink, processes.size() + 1, 0});
  } catch (...) {
    host::set_last_error("the spec is not JSON");
    return RH_ERR_INVALID_ARGUMENT;
  }
  *id = processes.back().id;
  return RH_OK;
}

rh_status RecordingRun::kill_process(uint64_t id) noexcept {
  if (id == 0 || id > processes.size()) return RH_ERR_NOT_FOUND;
  processes[id - 1].kills++;
  return RH_OK;
}

rh_status RecordingRun::emit(const rh_event& e) noexcept {
  try {
    std::string type(e.type.data, e.type.len);
    const std::string_view text =
        e.payload_json.len ? std::string_view(e.payload_json.data, e.payload_json.len) : std::string_view("{}");
    const std::string raw = e.raw.len ? std::string(e.raw.data, e.raw.len) : "";
    const std::string_view line = raw.empty() ? text : std::string_view(raw);
    auto refuse = [&](std::string why) {
      host::set_last_error(why);
      json kept{{"stream", "stdout"}, {"line", line}, {"reason", why}};
      events.push_back({"runtime.unparsed", std::move(kept), std::string(line), true});
      refusals.push_back(type + ": " + why + " in " + std::string(text.substr(0, 300)));
      return RH_ERR_INVALID_ARGUMENT;
    };
    json payload = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (payload.is_discarded()) return refuse("emit: the payload is not valid JSON");
    if (auto st = events::validate_payload(type, payload); !st) return refuse(st.error().message);
    if (auto st = check_envelope(type, payload, events.size() + 1); !st) envelope_errors.push_back(type + ": " + st.error().message);
    events.push_back({std::move(type), std::move(payload), raw, false});
    return RH_OK;
  } catch (...) {
    return RH_ERR_NO_MEMORY;
  }
}

rh_exit exited(int code, uint32_t flags) { return {sizeof(rh_exit), RH_EXIT_EXITED, code, 0, flags}; }
rh_exit signaled(int sig, uint32_t flags) { return {sizeof(rh_exit), RH_EXIT_SIGNALED, 0, sig, flags}; }
rh_exit spawn_failed(int err) { return {sizeof(rh_exit), RH_EXIT_SPAWN_FAILED, err, 0, 0}; }

json AdapterSession::launch_spec() {
  auto spec = session_->launch();
  if (!spec) throw std::runtime_error("launch(): " + spec.error().message);
  return json::parse(*spec);
}

void AdapterSession::feed(rh_stream stream, std::string_view bytes) {
  // A failing feed is what the host records as runtime.unparsed and goes on: not a crash, and
  // the tests look at the events; but a bundled adapter should not fail on any input.
  if (auto st = session_->feed(stream, bytes); !st) throw std::runtime_error("feed(): " + st.error().message);
}

void AdapterSession::feed_chunked(rh_stream stream, std::string_view bytes, size_t chunk) {
  if (chunk == 0) return feed(stream, bytes);
  for (size_t at = 0; at < bytes.size(); at += chunk) feed(stream, bytes.substr(at, chunk));
}

void AdapterSession::feed_random(rh_stream stream, std::string_view bytes, size_t max, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> size(1, max);
  for (size_t at = 0; at < bytes.size();) {
    const size_t n = std::min(size(rng), bytes.size() - at);
    feed(stream, bytes.substr(at, n));
    at += n;
  }
}

const std::vector<RecordedEvent>& AdapterSession::finish(const rh_exit& exit) {
  if (auto st = session_->finish(exit); !st) throw std::runtime_error("finish(): " + st.error().message);
  return run_->events;
}

AdapterHarness::AdapterHarness(std::string id) : id_(std::move(id)) {}

const plugins::LoadedPlugin& AdapterHarness::plugin() const {
  const auto* p = registry()->impl().find(PluginKind::runtime, id_);
  if (p == nullptr) {
    std::string why;
    for (const auto& r : registry()->refusals()) why += "\n  " + r.path.string() + ": " + r.reason;
    throw std::runtime_error(id_ + " did not load from " + kBundledDir.string() + why);
  }
  return *p;
}

json AdapterHarness::dispatch(const std::string& prompt, const std::string& runtime) {
  return {{"tenantId", "t1"},      {"workspaceId", "w1"},   {"userId", "u1"},
          {"deviceType", "local"}, {"deviceId", "laptop"},  {"runtime", runtime.empty() ? "test" : runtime},
          {"prompt", prompt},      {"approvalPolicy", "auto"}, {"idempotencyKey", "k1"}};
}

Result<AdapterSession> AdapterHarness::create(const json& d, const Options& options) {
  auto run = std::make_unique<RecordingRun>();
  run->processes_available = options.processes;
  plugins::RuntimeSessionArgs args;
  args.run_id = "run_TEST1";
  args.dispatch_json = d.dump();
  args.config_json = options.config.dump();
  args.constraints_json = options.constraints.dump();
  args.resume_id = options.resume_id;
  args.mcp_servers_json = options.mcp_servers.dump();
  auto session = plugins::RuntimeSession::create(plugin(), args, run.get());
  if (!session) return session.error();
  return AdapterSession(std::move(*session), std::move(run));
}

AdapterSession AdapterHarness::start(const json& d, const Options& options) {
  auto s = create(d, options);
  if (!s) throw std::runtime_error("create(): " + s.error().message);
  return std::move(*s);
}

namespace {
std::vector<std::string> split_ids(const char* joined) {  // "claude-code,codex,..."
  std::vector<std::string> ids;
  std::stringstream list(joined);
  for (std::string id; std::getline(list, id, ',');) {
    if (!id.empty()) ids.push_back(id);
  }
  return ids;
}
}  // namespace

std::vector<std::string> adapter_ids() { return split_ids(RUNHOST_TEST_ADAPTERS); }

std::vector<std::string> golden_adapter_ids() {
  auto ids = adapter_ids();
  for (auto& id : split_ids(RUNHOST_GOLDEN_ONLY_ADAPTERS)) ids.push_back(std::move(id));
  return ids;
}

AdapterSpec adapter_spec(const std::string& id) {
  const json doc = json::parse(read_text(kSpecDir / (id + ".json")));
  AdapterSpec spec;
  spec.id = id;
  spec.program = doc.at("program").get<std::string>();
  spec.install_hint_contains = doc.at("install_hint_contains").get<std::string>();
  spec.expects_result_line = doc.value("expects_result_line", true);
  spec.transcript = kSourceDir / doc.at("transcript").get<std::string>();
  spec.result_line_prefix = doc.value("result_line_prefix", std::string());
  spec.wrong_shape_lines = doc.value("wrong_shape_lines", std::vector<std::string>{});
  spec.config = doc.value("config", json::object());
  return spec;
}

json neutral(const json& value) {
  static const std::regex uuid("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
  if (value.is_string()) return std::regex_replace(value.get<std::string>(), uuid, "<uuid>");
  if (value.is_array()) {
    json out = json::array();
    for (const auto& v : value) out.push_back(neutral(v));
    return out;
  }
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [k, v] : value.items()) out[k] = k == "duration_ms" ? json("<duration>") : neutral(v);
    return out;
  }
  return value;
}

std::vector<json> golden_events(const std::vector<RecordedEvent>& events) {
  std::vector<json> out;
  for (const auto& e : events) out.push_back(json{{"type", e.type}, {"payload", neutral(e.payload)}});
  return out;
}

std::string to_golden(const std::vector<RecordedEvent>& events) {
  std::string text;
  for (const auto& e : golden_events(events)) text += e.dump(-1, ' ', false, json::error_handler_t::strict) + "\n";
  return text;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<nlohmann::json> of_type(const std::vector<RecordedEvent>& events, const std::string& type) {
  std::vector<nlohmann::json> out;
  for (const auto& e : events) {
    if (e.type == type) out.push_back(e.payload);
  }
  return out;
}

Transcript load_transcript(const std::string& runtime, const std::string& name) {
  for (const auto& dir : {kTranscriptDir / runtime, kRuntimeFixtureDir / runtime}) {
    if (!std::filesystem::exists(dir / (name + ".stdout.jsonl"))) continue;
    Transcript t;
    t.out = read_text(dir / (name + ".stdout.jsonl"));
    if (std::filesystem::exists(dir / (name + ".stderr.txt"))) t.err = read_text(dir / (name + ".stderr.txt"));
    if (std::filesystem::exists(dir / (name + ".meta.json"))) t.meta = nlohmann::json::parse(read_text(dir / (name + ".meta.json")));
    return t;
  }
  throw std::runtime_error("no " + runtime + " transcript " + name + " in " + kTranscriptDir.string() + " or " +
                           kRuntimeFixtureDir.string());
}

}  // namespace runhost::testing
