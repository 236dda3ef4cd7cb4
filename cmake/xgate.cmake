# Helpers shared by every folder's CMakeLists.txt.

# xgate_test(NAME SOURCES... LIBS lib...): a googletest binary registered with ctest.
function(xgate_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES} ${T_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST PROPERTIES LABELS "unit;${T_LABELS}")
endfunction()

# Adds every immediate subfolder of the current folder that has a CMakeLists.txt, in name
# order, so each module owns its own build file.
function(xgate_add_subfolders)
  file(GLOB children RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT children)
  foreach(child ${children})
    if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${child}
       AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()

# xgate_bpf_skeleton(<name> <skeleton name>): <name>.bpf.c in the calling folder, compiled with
# clang -target bpf into a libbpf skeleton header that embeds the object
# (gen/<folder>/<name>.skel.h), and an INTERFACE library xgate_<name>_skel whose consumers
# include "<folder>/<name>.skel.h".
function(xgate_bpf_skeleton name skel_name)
  find_program(XGATE_CLANG NAMES clang clang-14 REQUIRED)
  find_program(XGATE_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
  file(RELATIVE_PATH folder ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  set(gen ${CMAKE_BINARY_DIR}/gen/${folder})
  set(obj ${gen}/${name}.bpf.o)
  set(skel ${gen}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${gen}
    COMMAND ${XGATE_CLANG} -O2 -g -target bpf -Wall -Werror
            -I/usr/include/x86_64-linux-gnu -I${CMAKE_SOURCE_DIR}
            -MD -MF ${obj}.d
            -c ${CMAKE_CURRENT_SOURCE_DIR}/${name}.bpf.c -o ${obj}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${name}.bpf.c
    DEPFILE ${obj}.d
    COMMENT "clang -target bpf ${name}.bpf.c"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${XGATE_BPFTOOL} gen skeleton ${obj} name ${skel_name} > ${skel}
    DEPENDS ${obj}
    COMMENT "bpftool gen skeleton ${name}.bpf.o"
    VERBATIM)
  add_custom_target(xgate_${name}_gen DEPENDS ${skel})
  add_library(xgate_${name}_skel INTERFACE)
  add_dependencies(xgate_${name}_skel xgate_${name}_gen)
  target_include_directories(xgate_${name}_skel INTERFACE ${CMAKE_BINARY_DIR}/gen)
  target_link_libraries(xgate_${name}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
