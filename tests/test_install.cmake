# ctest install.package: installs this build into a temporary prefix, then
# builds a project outside the tree against it, twice:
#   1. CMake: find_package(drift REQUIRED) + target_link_libraries(app drift::drift)
#   2. pkg-config: c++ app.cpp $(pkg-config --cflags --libs drift)
# and checks that both programs print sum(ones(2, 3)) = 6. Also checks that
# every installed header names drift headers as "drift/...".
# Inputs (-D): BUILD_DIR, APP_DIR, WORK_DIR, CXX, LAUNCHER (may be empty).
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(run_out "${out}" PARENT_SCOPE)
endfunction()

run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

foreach(f drift.h tensor/ops.h nn/unet.h diffusion/samplers.h data/loader.h)
  if(NOT EXISTS ${prefix}/include/drift/${f})
    message(FATAL_ERROR "missing installed header include/drift/${f}")
  endif()
endforeach()
file(GLOB_RECURSE headers ${prefix}/include/drift/*.h)
foreach(h ${headers})
  file(STRINGS ${h} bad REGEX "#include \"(tensor|dist|autograd|nn|diffusion|data)/")
  if(bad)
    message(FATAL_ERROR "${h} still includes a header by its in-tree name: ${bad}")
  endif()
endforeach()

# 1. CMake package.
set(launcher "")
if(LAUNCHER)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
run("configuring the outside project" ${CMAKE_COMMAND} -S ${APP_DIR} -B ${WORK_DIR}/app -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX} ${launcher})
run("building the outside project" ${CMAKE_COMMAND} --build ${WORK_DIR}/app)
run("running the outside project" ${WORK_DIR}/app/app)
string(STRIP "${run_out}" got)
if(NOT got STREQUAL "6")
  message(FATAL_ERROR "find_package app: expected 6, got '${got}'")
endif()

# 2. pkg-config.
find_program(PKG_CONFIG pkg-config)
if(PKG_CONFIG)
  set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
  run("pkg-config" ${PKG_CONFIG} --cflags --libs drift)
  string(STRIP "${run_out}" flags)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run("compiling with pkg-config flags" ${LAUNCHER} ${CXX} -O1 ${APP_DIR}/app.cpp -o ${WORK_DIR}/app_pc ${flags})
  run("running the pkg-config build" ${WORK_DIR}/app_pc)
  string(STRIP "${run_out}" got)
  if(NOT got STREQUAL "6")
    message(FATAL_ERROR "pkg-config app: expected 6, got '${got}'")
  endif()
endif()
message(STATUS "install.package: both outside builds printed 6")
