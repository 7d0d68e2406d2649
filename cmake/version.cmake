# Writes common/version.h into the build tree on every build, but only when its text changes,
# so --version names the revision that was built (not the one that was configured) without
# forcing a rebuild. Inputs: SRC (source dir), OUT (header path), VERSION, FALLBACK.
execute_process(COMMAND git -C ${SRC} describe --always --dirty
                OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT rev)
  set(rev "${FALLBACK}")
endif()
if(NOT rev)
  set(rev unknown)
endif()
set(text "#pragma once\nnamespace sidecar {\ninline constexpr const char* kVersion = \"${VERSION}\";\ninline constexpr const char* kGitRevision = \"${rev}\";\n} // namespace sidecar\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE ${OUT} "${text}")
endif()
