# integration.workers: serve --workers 2 itself (takeover from one worker to the other,
# lifecycle, one ordered journal, a killed worker restarted, SIGTERM).
add_test(NAME integration.workers
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_workers.py
                 $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
set_tests_properties(integration.workers PROPERTIES LABELS "integration;workers;workers2"
                     TIMEOUT 120)

# workers2.<test>: the integration tests and conformance rows that matter, again with
# every serve they start running two front-door workers (serve reads
# IOTCONFORM_SERVE_WORKERS when --workers is not given). `ctest -L workers2`.
foreach(t mqtt_rules door policies)
  add_test(NAME workers2.integration.${t}
           COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_${t}.py
                   $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
  set_tests_properties(workers2.integration.${t} PROPERTIES LABELS "workers2" TIMEOUT 240
                       ENVIRONMENT "IOTCONFORM_SERVE_WORKERS=2")
endforeach()
# fidelity: a persistent session resumed on the other worker must still get AWS's '#'
# matching (its subscriptions are in the workers' shared files).
foreach(table basics fidelity)
  add_test(NAME workers2.attacks.${table}
           COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/attacks/attacks.py
                   $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR}
                   ${CMAKE_SOURCE_DIR}/tests/attacks/${table}.json)
  set_tests_properties(workers2.attacks.${table} PROPERTIES LABELS "workers2" TIMEOUT 300
                       ENVIRONMENT "IOTCONFORM_SERVE_WORKERS=2")
endforeach()
# The whole conformance run (every table, every row) with two front-door workers; the
# conformance.* tests run it with one.
add_test(NAME workers2.conformance.full
         COMMAND $<TARGET_FILE:iotconform> run --quiet --pki ${IOTC_PKI_DIR}
                 --out ${CMAKE_BINARY_DIR}/conformance/workers2-full)
set_tests_properties(workers2.conformance.full PROPERTIES LABELS "workers2" TIMEOUT 600
                     ENVIRONMENT "IOTCONFORM_SERVE_WORKERS=2" COST 200)
