# One library target per module, and a build step that holds modules to the
# dependencies their targets declare (docs/architecture.md, "Module map").
#
#   sluice_module(TARGET DIRS dir... [SOURCES file...] [DEPENDS target...])
#
# adds the library TARGET (static, or INTERFACE without sources) for the
# files directly in each of DIRS, linking DEPENDS publicly: what a module's
# headers include, its users include too. Sluice modules among DEPENDS are
# the modules it may include; other entries are third-party libraries.
#
# sluice_check_module_boundaries(), once every module exists, adds the target
# module_boundaries to the default build. It reads every header and source of
# every module and fails, naming the file and the include, when a file
# includes a header of a module that its target does not depend on, directly
# or through its dependencies. CMake accepts static libraries that link each
# other in a cycle, so configuring also fails for a module that reaches
# itself through its dependencies.

function(sluice_module target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "DIRS;SOURCES;DEPENDS")
  if(ARG_SOURCES)
    add_library(${target} STATIC ${ARG_SOURCES})
    target_link_libraries(${target} PUBLIC ${ARG_DEPENDS})
  else()
    add_library(${target} INTERFACE)
    target_link_libraries(${target} INTERFACE ${ARG_DEPENDS})
  endif()
  string(REGEX REPLACE "^sluice_" "" export_name ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name})
  set_property(GLOBAL APPEND PROPERTY SLUICE_MODULES ${target})
  set_property(GLOBAL PROPERTY SLUICE_MODULE_DIRS_${target} ${ARG_DIRS})
  set_property(GLOBAL PROPERTY SLUICE_MODULE_DEPENDS_${target} ${ARG_DEPENDS})
endfunction()

# The modules `target` may include: itself and every module it reaches.
function(_sluice_module_closure target out)
  set(seen)
  set(pending ${target})
  get_property(modules GLOBAL PROPERTY SLUICE_MODULES)
  while(pending)
    list(POP_FRONT pending current)
    if(current IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${current})
    get_property(deps GLOBAL PROPERTY SLUICE_MODULE_DEPENDS_${current})
    foreach(dep IN LISTS deps)
      if(dep IN_LIST modules)
        list(APPEND pending ${dep})
      endif()
    endforeach()
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

# The folders of `modules`, joined with commas.
function(_sluice_module_dirs modules out)
  set(all_dirs)
  foreach(module IN LISTS modules)
    get_property(dirs GLOBAL PROPERTY SLUICE_MODULE_DIRS_${module})
    list(APPEND all_dirs ${dirs})
  endforeach()
  list(JOIN all_dirs "," joined)
  set(${out} ${joined} PARENT_SCOPE)
endfunction()

function(sluice_check_module_boundaries)
  get_property(modules GLOBAL PROPERTY SLUICE_MODULES)
  set(manifest "")
  set(checked_files)
  foreach(module IN LISTS modules)
    get_property(dirs GLOBAL PROPERTY SLUICE_MODULE_DIRS_${module})
    get_property(deps GLOBAL PROPERTY SLUICE_MODULE_DEPENDS_${module})
    # A module that reaches itself through a dependency closes a cycle.
    foreach(dep IN LISTS deps)
      if(dep IN_LIST modules)
        _sluice_module_closure(${dep} reached)
        if(module IN_LIST reached)
          message(FATAL_ERROR "module ${module} depends on ${dep}, which depends on ${module}")
        endif()
      endif()
    endforeach()
    _sluice_module_closure(${module} allowed)
    _sluice_module_dirs("${allowed}" allowed_text)
    foreach(dir IN LISTS dirs)
      string(APPEND manifest "${module}|${dir}|${allowed_text}\n")
      file(GLOB files CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${dir}/*.h ${PROJECT_SOURCE_DIR}/${dir}/*.cc)
      list(APPEND checked_files ${files})
    endforeach()
  endforeach()
  _sluice_module_dirs("${modules}" all_dirs_text)
  string(APPEND manifest "*|*|${all_dirs_text}\n")
  set(manifest_file ${PROJECT_BINARY_DIR}/module_boundaries.txt)
  file(WRITE ${manifest_file} "${manifest}")
  set(stamp ${PROJECT_BINARY_DIR}/module_boundaries.stamp)
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -DROOT=${PROJECT_SOURCE_DIR} -DMANIFEST=${manifest_file}
            -P ${PROJECT_SOURCE_DIR}/cmake/CheckModuleBoundaries.cmake
    COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
    DEPENDS ${checked_files} ${manifest_file} ${PROJECT_SOURCE_DIR}/cmake/CheckModuleBoundaries.cmake
    COMMENT "Checking module boundaries"
    VERBATIM)
  add_custom_target(module_boundaries ALL DEPENDS ${stamp})
  # Every module waits for the check, so a broken boundary fails the build
  # before anything compiles.
  foreach(module IN LISTS modules)
    add_dependencies(${module} module_boundaries)
  endforeach()
endfunction()
