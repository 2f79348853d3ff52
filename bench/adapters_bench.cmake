# runhost_bench_adapters: runtime adapters' mapping throughput (native lines -> unified events),
# in-process, with a pipe(2) reference. See the header of adapters_bench.cpp.
add_executable(runhost_bench_adapters ${CMAKE_CURRENT_LIST_DIR}/adapters_bench.cpp)
target_link_libraries(runhost_bench_adapters PRIVATE runhost_core_internal Threads::Threads)
target_compile_definitions(runhost_bench_adapters PRIVATE
  RUNHOST_BENCH_PLUGIN_DIR="${RUNHOST_PLUGIN_OUTPUT_DIR}" RUNHOST_BENCH_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
runhost_warnings(runhost_bench_adapters)
get_property(adapters_bench_bundled GLOBAL PROPERTY RUNHOST_BUNDLED_PLUGINS)
add_dependencies(runhost_bench_adapters ${adapters_bench_bundled})
