# bench.smoke: iotc_bench --quick runs to the end and writes a bench.json with the
# expected keys and non-zero throughputs. Not a timed assertion: the figures and
# their goals are reported by `cmake --build --preset default --target bench`.
if(TARGET iotc_bench)
  add_test(NAME bench.smoke
           COMMAND ${CMAKE_COMMAND}
                   -DBENCH=$<TARGET_FILE:iotc_bench>
                   -DSERVE=$<TARGET_FILE:iotconform>
                   -DPKI=${IOTC_PKI_DIR}
                   -DJSON=${CMAKE_CURRENT_BINARY_DIR}/bench-smoke.json
                   -P ${CMAKE_SOURCE_DIR}/sim/bench/smoke_check.cmake)
  # Alone: it starts serve and mosquitto and loads both cores for a few seconds.
  set_tests_properties(bench.smoke PROPERTIES LABELS "bench" TIMEOUT 300 RUN_SERIAL TRUE)
endif()
