# Run by `cmake --install`: copies the public headers of each layer to
# <prefix>/include/drift/<layer>/ and drift.h to <prefix>/include/drift/drift.h,
# rewriting   #include "tensor/ops.h"   to   #include "drift/tensor/ops.h"
# so that the installed names cannot clash with another project's.
# Inputs: DRIFT_SOURCE_DIR, DRIFT_LAYERS (list), DRIFT_INCLUDE_DEST.
string(REPLACE ";" "|" layer_alt "${DRIFT_LAYERS}")
set(headers "")
foreach(layer ${DRIFT_LAYERS})
  file(GLOB h RELATIVE ${DRIFT_SOURCE_DIR} ${DRIFT_SOURCE_DIR}/${layer}/*.h)
  list(APPEND headers ${h})
endforeach()
list(APPEND headers drift.h)
foreach(rel ${headers})
  file(READ ${DRIFT_SOURCE_DIR}/${rel} text)
  string(REGEX REPLACE "#include \"((${layer_alt})/[A-Za-z0-9_]+\\.h)\"" "#include \"drift/\\1\"" text "${text}")
  set(dest ${DRIFT_INCLUDE_DEST}/${rel})
  # Unchanged files are not rewritten (keeps the timestamps of dependants).
  if(EXISTS ${dest})
    file(READ ${dest} old)
    if(old STREQUAL text)
      message(STATUS "Up-to-date: ${dest}")
      continue()
    endif()
  endif()
  message(STATUS "Installing: ${dest}")
  file(WRITE ${dest} "${text}")
endforeach()
