# cmake -DROOT=<source dir> -DMANIFEST=<file> -P CheckModuleBoundaries.cmake
#
# The check behind the module_boundaries target (cmake/SluiceModules.cmake).
# MANIFEST has a line per module directory, "module|dir|allowed,dirs", and a
# last line "*|*|every,module,dir". A file of a module directory may include
# a header of another module directory only when that directory is among
# the module's allowed ones. Includes outside the modules (third-party,
# generated headers next to the file) are not checked. Exits with an error
# that lists every violation.
cmake_minimum_required(VERSION 3.25)

file(STRINGS ${MANIFEST} lines)
list(POP_BACK lines last)
string(REPLACE "|" ";" last "${last}")
list(GET last 2 module_dirs)
string(REPLACE "," ";" module_dirs "${module_dirs}")

set(violations "")
foreach(line IN LISTS lines)
  string(REPLACE "|" ";" fields "${line}")
  list(GET fields 0 module)
  list(GET fields 1 dir)
  list(GET fields 2 allowed)
  string(REPLACE "," ";" allowed "${allowed}")
  file(GLOB files ${ROOT}/${dir}/*.h ${ROOT}/${dir}/*.cc)
  foreach(file IN LISTS files)
    file(STRINGS ${file} includes REGEX "^[ \t]*#[ \t]*include[ \t]+\"[^\"]+\"")
    foreach(include IN LISTS includes)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]+\"([^\"]+)\".*" "\\1" header "${include}")
      get_filename_component(header_dir "${header}" DIRECTORY)
      if(header_dir IN_LIST module_dirs AND NOT header_dir IN_LIST allowed)
        file(RELATIVE_PATH relative ${ROOT} ${file})
        string(APPEND violations
               "  ${relative} includes \"${header}\": ${module} does not depend on the module of ${header_dir}/\n")
      endif()
    endforeach()
  endforeach()
endforeach()

if(violations)
  message(FATAL_ERROR "module boundaries broken (declare the dependency in CMake, or move the code):\n${violations}")
endif()
