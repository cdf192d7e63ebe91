# Install rules and the exported CMake package (included from CMakeLists.txt).
#
#   cmake --install build --prefix P      installs
#     P/include/drift/<layer>/*.h          the headers, with an umbrella <drift/drift.h>
#     P/lib/libdrift_<layer>.a             one static library per layer
#     P/lib/cmake/drift/                   find_package(drift): drift::drift and drift::<layer>
#     P/lib/pkgconfig/drift.pc             pkg-config --cflags --libs drift
#     P/bin/drift                          the command-line tool
#
# In the source tree headers include each other as "tensor/ops.h"; installed,
# such names would clash with other projects, so the headers are copied with
# every include of a drift header rewritten to "drift/tensor/ops.h"
# (cmake/install_headers.cmake, run at install time).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(DRIFT_LAYERS tensor dist autograd nn diffusion data)   # the public layers (headers installed)
set(DRIFT_INSTALL_TARGETS drift_tensor drift_backends drift_dist drift_autograd drift_all)
foreach(lib drift_cuda drift_nn drift_diffusion drift_data)
  if(TARGET ${lib})
    list(APPEND DRIFT_INSTALL_TARGETS ${lib})
  endif()
endforeach()
# Exported names: drift::tensor, drift::nn, ..., drift::drift (everything, backends included).
foreach(t ${DRIFT_INSTALL_TARGETS})
  string(REGEX REPLACE "^drift_" "" short ${t})
  set_target_properties(${t} PROPERTIES EXPORT_NAME ${short})
endforeach()
set_target_properties(drift_all PROPERTIES EXPORT_NAME drift)
set_target_properties(drift_backends PROPERTIES EXPORT_NAME backends)
add_library(drift::drift ALIAS drift_all)   # the same name inside this tree

install(TARGETS ${DRIFT_INSTALL_TARGETS} EXPORT driftTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET drift)
  install(TARGETS drift RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(EXPORT driftTargets NAMESPACE drift:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/drift)

set(DRIFT_CONFIG_HAVE_CUDA ${DRIFT_HAVE_CUDA})
set(DRIFT_CONFIG_HAVE_MPI ${DRIFT_HAVE_MPI})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/drift-config.cmake.in
  ${PROJECT_BINARY_DIR}/drift-config.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/drift)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/drift-config-version.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/drift-config.cmake ${PROJECT_BINARY_DIR}/drift-config-version.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/drift)

# Headers: copied (and their includes rewritten) at install time.
install(CODE "
  set(DRIFT_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(DRIFT_LAYERS \"${DRIFT_LAYERS}\")
  set(DRIFT_INCLUDE_DEST \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_INCLUDEDIR}/drift\")
  include(\"${PROJECT_SOURCE_DIR}/cmake/install_headers.cmake\")")

# pkg-config: the same libraries, in link order, with what they need.
set(DRIFT_PC_LIBS "")
foreach(lib drift_data drift_diffusion drift_nn drift_autograd drift_dist)
  if(TARGET ${lib})
    string(APPEND DRIFT_PC_LIBS " -l${lib}")
  endif()
endforeach()
if(DRIFT_HAVE_CUDA)
  string(APPEND DRIFT_PC_LIBS " -Wl,--whole-archive -ldrift_cuda -Wl,--no-whole-archive")
endif()
string(APPEND DRIFT_PC_LIBS " -ldrift_tensor")
# Static libraries: what they link against goes into Libs itself.
set(DRIFT_PC_LIBS_EXTRA "-lpng -ljpeg -lcurl -lcrypto ${OpenMP_CXX_FLAGS}")
foreach(l ${BLAS_LIBRARIES})
  string(APPEND DRIFT_PC_LIBS_EXTRA " ${l}")
endforeach()
foreach(l ${MPI_C_LIBRARIES})
  string(APPEND DRIFT_PC_LIBS_EXTRA " ${l}")
endforeach()
if(DRIFT_HAVE_CUDA)
  string(APPEND DRIFT_PC_LIBS_EXTRA " -L${CUDAToolkit_LIBRARY_DIR} -lcublas -lcurand -lcudart")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/drift.pc.in ${PROJECT_BINARY_DIR}/drift.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/drift.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
