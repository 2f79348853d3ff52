# runhost_add_plugin(<name> SOURCES <files...> MANIFEST <file>
#                    [OUTPUT_DIRECTORY <dir>] [NO_VERSION_SCRIPT] [ALLOW_UNDEFINED] [NO_INSTALL])
#
# Builds <name>.so, a runhost plugin library, against abi/ only, the way a vendor would: hidden
# visibility, one exported symbol (a version script), -z defs. Copies MANIFEST beside it as
# <name>.runhost.json. Output goes to RUNHOST_PLUGIN_OUTPUT_DIR unless OUTPUT_DIRECTORY says
# otherwise. The switches exist for fixture plugins that must break those rules on purpose.
# Plugins installed with runhost (no NO_INSTALL) are listed in the global property
# RUNHOST_BUNDLED_PLUGINS.
set(RUNHOST_PLUGIN_VERSION_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/plugin.map)

function(runhost_add_plugin name)
  cmake_parse_arguments(P "NO_VERSION_SCRIPT;ALLOW_UNDEFINED;NO_INSTALL" "MANIFEST;OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT P_SOURCES)
    message(FATAL_ERROR "runhost_add_plugin(${name}): SOURCES is required")
  endif()
  if(NOT P_OUTPUT_DIRECTORY)
    set(P_OUTPUT_DIRECTORY ${RUNHOST_PLUGIN_OUTPUT_DIR})
  endif()
  add_library(${name} MODULE ${P_SOURCES})
  target_link_libraries(${name} PRIVATE runhost::abi)
  set_target_properties(${name} PROPERTIES
    PREFIX "" OUTPUT_NAME ${name}
    LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIRECTORY}
    C_VISIBILITY_PRESET hidden CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  runhost_warnings(${name})
  if(NOT P_NO_VERSION_SCRIPT)
    target_link_options(${name} PRIVATE -Wl,--version-script=${RUNHOST_PLUGIN_VERSION_SCRIPT})
    set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS ${RUNHOST_PLUGIN_VERSION_SCRIPT})
  endif()
  if(NOT P_ALLOW_UNDEFINED)
    target_link_options(${name} PRIVATE -Wl,-z,defs)
  endif()
  if(P_MANIFEST)
    configure_file(${P_MANIFEST} ${P_OUTPUT_DIRECTORY}/${name}.runhost.json COPYONLY)
  endif()
  if(NOT P_NO_INSTALL)
    # Bundled: tests and benchmarks depend on the whole set through this property.
    set_property(GLOBAL APPEND PROPERTY RUNHOST_BUNDLED_PLUGINS ${name})
    install(TARGETS ${name} LIBRARY DESTINATION ${RUNHOST_PLUGIN_INSTALL_DIR})
    if(P_MANIFEST)
      install(FILES ${P_OUTPUT_DIRECTORY}/${name}.runhost.json DESTINATION ${RUNHOST_PLUGIN_INSTALL_DIR})
    endif()
  endif()
endfunction()
