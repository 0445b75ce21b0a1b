# `coverage` target (IOTC_COVERAGE=ON builds only): lcov over the gcov counters the
# unit, fuzz-replay, integration and conformance tests left in the build tree, minus
# system headers and the test programs themselves (tests/), rendered by genhtml.
#   cmake --preset coverage && cmake --build --preset coverage
#   ctest --preset coverage && cmake --build --preset coverage --target coverage
# -> build-coverage/coverage/index.html; `coverage-reset` zeroes the counters so a
# second measurement does not add to the first.
find_program(LCOV_BIN lcov)
find_program(GENHTML_BIN genhtml)
if(NOT LCOV_BIN OR NOT GENHTML_BIN)
  message(WARNING "IOTC_COVERAGE is ON but lcov/genhtml were not found: no coverage target "
                  "(ci/install-deps.sh installs lcov)")
  return()
endif()

set(IOTC_COV_DIR ${CMAKE_BINARY_DIR}/coverage)
set(IOTC_COV_RAW ${CMAKE_BINARY_DIR}/coverage.raw.info)
set(IOTC_COV_INFO ${CMAKE_BINARY_DIR}/coverage.info)
add_custom_target(coverage
  COMMAND ${LCOV_BIN} --quiet --capture --directory ${CMAKE_BINARY_DIR}
          --base-directory ${CMAKE_SOURCE_DIR} --output-file ${IOTC_COV_RAW}
  COMMAND ${LCOV_BIN} --quiet --remove ${IOTC_COV_RAW} "/usr/*" "${CMAKE_SOURCE_DIR}/tests/*"
          "${CMAKE_BINARY_DIR}/*" --output-file ${IOTC_COV_INFO}
  COMMAND ${GENHTML_BIN} --quiet --title "iotconform" --legend --demangle-cpp
          --output-directory ${IOTC_COV_DIR} ${IOTC_COV_INFO}
  COMMAND ${LCOV_BIN} --summary ${IOTC_COV_INFO}
  COMMAND ${CMAKE_COMMAND} -E echo "coverage report: ${IOTC_COV_DIR}/index.html"
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
  COMMENT "Collecting line coverage (run ctest first)"
  VERBATIM)
add_custom_target(coverage-reset
  COMMAND ${LCOV_BIN} --quiet --zerocounters --directory ${CMAKE_BINARY_DIR}
  COMMENT "Zeroing gcov counters"
  VERBATIM)
