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
  elseif(line MATCHES "^  ([A-Za-z_][A-Za-z0-9_/]*)" AND NOT suite STREQUAL "")
    math(EXPR cases_${suite} "${cases_${suite}} + 1")
    list(APPEND names_${suite} "${CMAKE_MATCH_1}")
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
# Under an emulator, the cases that cannot pass there (tests/unit/emulator_skips.txt: each one by
# the cause, "cause: NAME | why" then its cases, "Suite.Case" or "Suite.*") are left out of their
# suite's filter and listed in RESULTS_DIR/emulator-skips.txt, "NAME<TAB>Suite.Case" a line, which
# scripts/unit_summary.py counts as skipped by cause. Nothing is left out of a native run.
set(skip_lines "")
if(TEST_EMULATOR AND EXISTS "${CMAKE_CURRENT_LIST_DIR}/emulator_skips.txt")
  file(STRINGS "${CMAKE_CURRENT_LIST_DIR}/emulator_skips.txt" skip_file)
  set(cause "")
  foreach(entry IN LISTS skip_file)
    string(STRIP "${entry}" entry)
    if(entry STREQUAL "" OR entry MATCHES "^#")
      continue()
    elseif(entry MATCHES "^cause: *([A-Za-z0-9_-]+)")
      set(cause "${CMAKE_MATCH_1}")
    elseif(entry MATCHES "^([A-Za-z_][A-Za-z0-9_/]*)\\.(.+)$" AND NOT cause STREQUAL "")
      set(skip_suite "${CMAKE_MATCH_1}")
      set(skip_case "${CMAKE_MATCH_2}")
      if(NOT DEFINED cases_${skip_suite})
        message(FATAL_ERROR "emulator_skips.txt: no suite ${skip_suite} (${entry})")
      endif()
      if(skip_case STREQUAL "*")
        set(matched ${names_${skip_suite}})
      elseif(skip_case IN_LIST names_${skip_suite})
        set(matched "${skip_case}")
      else()
        message(FATAL_ERROR "emulator_skips.txt: no case ${entry}")
      endif()
      foreach(c IN LISTS matched)
        if(NOT c IN_LIST skipped_${skip_suite})
          list(APPEND skipped_${skip_suite} "${c}")
          string(APPEND skip_lines "${cause}\t${skip_suite}.${c}\n")
        endif()
      endforeach()
    else()
      message(FATAL_ERROR "emulator_skips.txt: cannot read \"${entry}\"")
    endif()
  endforeach()
endif()
foreach(suite IN LISTS suites)
  list(LENGTH skipped_${suite} n_skipped)
  math(EXPR cases_${suite} "${cases_${suite}} - ${n_skipped}")
  if(cases_${suite} EQUAL 0 AND n_skipped GREATER 0)
    continue() # every case left out: no process to start
  endif()
  set(negative "")
  foreach(c IN LISTS skipped_${suite})
    if(negative STREQUAL "")
      set(negative "-${suite}.${c}")
    else()
      string(APPEND negative ":${suite}.${c}")
    endif()
  endforeach()
  string(REPLACE "/" "_" file "${suite}")
  set(emulator "")
  foreach(word IN LISTS TEST_EMULATOR)
    string(APPEND emulator "[==[${word}]==] ")
  endforeach()
  string(APPEND script "add_test([==[${suite}]==] ${emulator}[==[${TEST_EXECUTABLE}]==] "
    "[==[--gtest_filter=${suite}.*${negative}]==] [==[--gtest_output=json:${RESULTS_DIR}/${file}.json]==])\n"
    "set_tests_properties([==[${suite}]==] PROPERTIES WORKING_DIRECTORY [==[${TEST_DIR}]==]"
    "${environment})\n")
  string(APPEND counts "${suite} ${cases_${suite}}\n")
endforeach()
file(WRITE "${CTEST_FILE}" "${script}")
file(MAKE_DIRECTORY "${RESULTS_DIR}")
file(WRITE "${RESULTS_DIR}/cases.txt" "${counts}")
file(REMOVE "${RESULTS_DIR}/emulator-skips.txt")
if(NOT skip_lines STREQUAL "")
  file(WRITE "${RESULTS_DIR}/emulator-skips.txt" "${skip_lines}")
endif()
