# One ctest test per GoogleTest *suite* of gantry_unit, not per case (docs/testing.md "The
# stages"): a case per process started the 200 MB instrumented binary ~900 times in make test's
# unit-san stage. Run after every link of gantry_unit (POST_BUILD, CMakeLists.txt):
#   cmake -D TEST_EXECUTABLE=... -D TEST_DIR=... -D CTEST_FILE=... -D RESULTS_DIR=...
#         -P tests/unit/ctest_suites.cmake
# It lists the cases (--gtest_list_tests) and writes CTEST_FILE, which ctest includes: per suite
# one add_test that runs `gantry_unit --gtest_filter=SUITE.*` and writes the cases' results to
# RESULTS_DIR/SUITE.json, and RESULTS_DIR/cases.txt, the number of cases of each suite.
# scripts/unit_summary.py adds them up (make unit, make unit-san): ctest's own count is suites.
# TEST_EMULATOR: what runs the binary where it is not the build host's (a cross build's
# CMAKE_CROSSCOMPILING_EMULATOR, qemu-aarch64-static: cmake/aarch64-linux-gnu.cmake); the tests
# it adds run under it too.
cmake_minimum_required(VERSION 3.21)

execute_process(COMMAND ${TEST_EMULATOR} "${TEST_EXECUTABLE}" --gtest_list_tests
  WORKING_DIRECTORY "${TEST_DIR}" TIMEOUT 60 OUTPUT_VARIABLE listing RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} --gtest_list_tests: exit ${rc}\n${listing}")
endif()

# Suite lines start in column 0 and end with '.' (a parameterised suite: "Prefix/Suite.  #
# TypeParam = ..."); case lines are indented. No suite or case name here holds ';', '[' or ']'.
string(REPLACE "\n" ";" lines "${listing}")
set(suites)
set(suite "")
foreach(line IN LISTS lines)
  if(line MATCHES "^([A-Za-z_][A-Za-z0-9_/]*)\\.( *#.*)?$")
    set(suite "${CMAKE_MATCH_1}")
    list(APPEND suites "${suite}")
    set(cases_${suite} 0)
  elseif(line MATCHES "^  [A-Za-z_]" AND NOT suite STREQUAL "")
    math(EXPR cases_${suite} "${cases_${suite}} + 1")
  endif()
endforeach()
if(NOT suites)
  message(FATAL_ERROR "${TEST_EXECUTABLE} --gtest_list_tests listed no suites:\n${listing}")
endif()

set(script "")
set(counts "")
# under an emulator the tests know it (tests/unit/support/gpu_test_support.hpp's emulator()):
# the host programs they start are the build host's, not the emulated machine's
set(environment "")
if(TEST_EMULATOR)
  list(GET TEST_EMULATOR 0 emulator_program)
  get_filename_component(emulator_name "${emulator_program}" NAME)
  set(environment " ENVIRONMENT [==[GANTRY_TEST_EMULATOR=${emulator_name}]==]")
endif()
foreach(suite IN LISTS suites)
  string(REPLACE "/" "_" file "${suite}")
  set(emulator "")
  foreach(word IN LISTS TEST_EMULATOR)
    string(APPEND emulator "[==[${word}]==] ")
  endforeach()
  string(APPEND script "add_test([==[${suite}]==] ${emulator}[==[${TEST_EXECUTABLE}]==] "
    "[==[--gtest_filter=${suite}.*]==] [==[--gtest_output=json:${RESULTS_DIR}/${file}.json]==])\n"
    "set_tests_properties([==[${suite}]==] PROPERTIES WORKING_DIRECTORY [==[${TEST_DIR}]==]"
    "${environment})\n")
  string(APPEND counts "${suite} ${cases_${suite}}\n")
endforeach()
file(WRITE "${CTEST_FILE}" "${script}")
file(MAKE_DIRECTORY "${RESULTS_DIR}")
file(WRITE "${RESULTS_DIR}/cases.txt" "${counts}")
