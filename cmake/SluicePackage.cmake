# The CMake package of an installed Sluice, in lib/cmake/Sluice:
#   SluiceConfig.cmake         finds the dependencies, loads the targets
#   SluiceConfigVersion.cmake  0.x releases are compatible with each other
#   SluiceTargets.cmake        the exported libraries, in namespace Sluice::
# Included by the top-level CMakeLists after every module has added its
# libraries to the export set.
include(CMakePackageConfigHelpers)

install(EXPORT SluiceTargets
        NAMESPACE Sluice::
        FILE SluiceTargets.cmake
        DESTINATION ${SLUICE_INSTALL_CMAKEDIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/SluiceConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/SluiceConfig.cmake
                              INSTALL_DESTINATION ${SLUICE_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/SluiceConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/SluiceConfig.cmake
              ${PROJECT_BINARY_DIR}/SluiceConfigVersion.cmake
        DESTINATION ${SLUICE_INSTALL_CMAKEDIR})
