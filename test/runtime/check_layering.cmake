# Layering: runtime/ (errors, files, RNG, device helpers, communicators) is the lowest layer and
# includes nothing from the layers above it (model/, attention/, data/, app/). Fails naming each
# offending line.   cmake -DROOT=<repo> -P check_layering.cmake
file(GLOB sources ${ROOT}/runtime/*)
set(bad "")
foreach(f ${sources})
  file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<](model|attention|data|app)/")
  foreach(l ${lines})
    string(APPEND bad "\n  ${f}: ${l}")
  endforeach()
endforeach()
list(LENGTH sources n)
if(n EQUAL 0)
  message(FATAL_ERROR "no files found under ${ROOT}/runtime")
endif()
if(bad)
  message(FATAL_ERROR "runtime/ includes an upper layer:${bad}")
endif()
message(STATUS "runtime/: ${n} files, no include of model/, attention/, data/ or app/")
