// What crossing the plugin ABI costs: loading the registry, a policy decision, a connector
// check, and a runtime adapter turning output lines into events (through host->emit).
//   build/default/bin/runhost_bench_plugins --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include "host/host_services.hpp"
#include "plugins/instances.hpp"
#include "plugins/registry.hpp"

namespace runhost {
namespace {

std::shared_ptr<const PluginRegistry> bundled() {
  PluginSearchPath search;
  search.directories = {RUNHOST_BENCH_PLUGIN_DIR};
  search.use_environment = false;
  search.use_bundled = false;
  return PluginRegistry::load(search);
}

const plugins::LoadedPlugin& plugin(const PluginRegistry& r, PluginKind kind, const char* id) {
  const auto* p = r.impl().find(kind, id);
  if (p == nullptr) throw std::runtime_error(std::string("missing bundled plugin ") + id);
  return *p;
}

void BM_RegistryLoad(benchmark::State& state) {
  const auto keep = bundled();  // libraries stay loaded: this measures discovery, manifests, checks
  for (auto _ : state) benchmark::DoNotOptimize(bundled());
}
BENCHMARK(BM_RegistryLoad);

void BM_PolicyEvaluate(benchmark::State& state) {
  const auto registry = bundled();
  const auto& p = plugin(*registry, PluginKind::policy, "deny-pattern");
  auto instance = *plugins::PolicyInstance::create(p, p.config_json);
  const std::string request =
      R"({"phase":"action","run_id":"r1","dispatch":{"tenantId":"t","prompt":"build me an app"},)"
      R"("action":{"kind":"command","name":"Bash","input":{"command":"npm install && npm run build"}}})";
  for (auto _ : state) benchmark::DoNotOptimize(instance->evaluate(request));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PolicyEvaluate);

void BM_ConnectorCheck(benchmark::State& state) {
  const auto registry = bundled();
  const auto& p = plugin(*registry, PluginKind::connector, "static-grant");
  auto instance = *plugins::ConnectorInstance::create(p, p.config_json);
  const std::string request = R"({"connector":"static-grant","tenantId":"t","workspaceId":"w","userId":"demo-user","grant":null})";
  for (auto _ : state) benchmark::DoNotOptimize(instance->check(request));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ConnectorCheck);

class CountingRun final : public rh_run {
 public:
  rh_status emit(const rh_event& e) noexcept override {
    bytes += e.payload_json.len;
    ++events;
    return RH_OK;
  }
  size_t bytes = 0;
  size_t events = 0;
};

void BM_RuntimeFeed(benchmark::State& state) {
  const auto registry = bundled();
  const auto& p = plugin(*registry, PluginKind::runtime, "example-echo");
  CountingRun run;
  plugins::RuntimeSessionArgs args;
  args.run_id = "bench";
  args.dispatch_json = R"({"prompt":"hello"})";
  auto session = *plugins::RuntimeSession::create(p, args, &run);
  // 64 KiB chunks of 80-byte lines, as a pipe would deliver them.
  std::string line(79, 'x');
  line += '\n';
  std::string chunk;
  while (chunk.size() + line.size() <= 64 * 1024) chunk += line;
  for (auto _ : state) {
    if (!session->feed(RH_STREAM_STDOUT, chunk)) state.SkipWithError("feed failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chunk.size()));
  state.SetItemsProcessed(static_cast<int64_t>(run.events));
}
BENCHMARK(BM_RuntimeFeed);

}  // namespace
}  // namespace runhost

BENCHMARK_MAIN();
