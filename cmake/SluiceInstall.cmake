# Install rules shared by the module CMakeLists. A module's libraries join
# the export set of the Sluice package (cmake/SluicePackage.cmake), and its
# headers are installed under include/sluice with the paths they have in the
# source tree, so that `#include "runtime/api/stream.h"` reads the same in
# the tree and against an installed Sluice.

set(SLUICE_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/sluice)
set(SLUICE_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/Sluice)

# sluice_install_libraries(target...): the libraries into lib/, exported.
function(sluice_install_libraries)
  install(TARGETS ${ARGN} EXPORT SluiceTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
endfunction()

# sluice_install_headers([EXCLUDE name...]): the headers of the calling
# directory and of its subdirectories, except the subdirectories (by name)
# that are modules of their own and install their headers themselves.
function(sluice_install_headers)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "" "" "EXCLUDE")
  file(RELATIVE_PATH module ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  set(excluded)
  foreach(name IN LISTS ARG_EXCLUDE)
    list(APPEND excluded PATTERN ${name} EXCLUDE)
  endforeach()
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/
          DESTINATION ${SLUICE_INSTALL_INCLUDEDIR}/${module}
          FILES_MATCHING PATTERN "*.h" ${excluded})
endfunction()
