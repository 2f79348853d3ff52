# The bundled runtime adapters' shared kit (adapter_kit.h): C11 compiled into each adapter as a
# static library, built against abi/ only. Internal: never installed, never part of the ABI; the
# plugin's version script keeps its symbols private to each adapter.
#
#   include(${CMAKE_CURRENT_SOURCE_DIR}/../common/AdapterKit.cmake)
#   runhost_add_runtime_adapter(codex SOURCES codex.c MANIFEST ${CMAKE_CURRENT_SOURCE_DIR}/manifest.json)
if(NOT TARGET runhost_adapter_kit)
  add_library(runhost_adapter_kit STATIC
    ${CMAKE_CURRENT_LIST_DIR}/kit_inputs.c
    ${CMAKE_CURRENT_LIST_DIR}/kit_json.c
    ${CMAKE_CURRENT_LIST_DIR}/kit_emit.c
    ${CMAKE_CURRENT_LIST_DIR}/kit_tools.c
    ${CMAKE_CURRENT_LIST_DIR}/kit_launch.c
    ${CMAKE_CURRENT_LIST_DIR}/kit_run.c
    ${CMAKE_CURRENT_LIST_DIR}/kit_plugin.c)
  target_link_libraries(runhost_adapter_kit PUBLIC runhost::abi)
  target_include_directories(runhost_adapter_kit PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  set_target_properties(runhost_adapter_kit PROPERTIES
    POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden)
  runhost_warnings(runhost_adapter_kit)
endif()

# runhost_add_runtime_adapter(<name> <runhost_add_plugin arguments>): a plugin with the kit in it.
function(runhost_add_runtime_adapter name)
  runhost_add_plugin(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE runhost_adapter_kit)
endfunction()
