# runhost_warnings(<target>): the warning set every target of ours builds with.
function(runhost_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor -Wold-style-cast>
    $<$<BOOL:${RUNHOST_WERROR}>:-Werror>)
endfunction()
