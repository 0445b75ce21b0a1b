# conformance.<suite>.<row>: the five rows of the 443 door without a client
# certificate (SigV4 and custom authorizers), one test per row against a fresh
# `iotconform serve` (ephemeral ports, so ctest -j is safe). Every case of a row
# is bounded by its own 3 s timeout; the slowest are the 1 s authorizer timeouts.
foreach(pair sigv4:https-sigv4-443 sigv4:wss-sigv4-443 custom-auth:https-custom-443
             custom-auth:wss-custom-443 custom-auth:mqtt-custom-443)
  string(REPLACE ":" ";" parts ${pair})
  list(GET parts 0 suite)
  list(GET parts 1 row)
  add_test(NAME conformance.${suite}.${row}
           COMMAND $<TARGET_FILE:iotconform> run --suite ${suite} --filter "${row}*" --jobs 2
                   --pki ${IOTC_PKI_DIR} --out ${CMAKE_BINARY_DIR}/conformance/${suite}-${row})
  set_tests_properties(conformance.${suite}.${row} PROPERTIES
                       LABELS "conformance;${suite};${row}" TIMEOUT 120)
endforeach()

# A door table with bad credentials settings is refused before anything starts.
add_test(NAME conformance.door.table-errors-refused
         COMMAND $<TARGET_FILE:iotconform> run
                 --suite ${CMAKE_SOURCE_DIR}/tests/unit/data/cases/bad-door.json
                 --out ${CMAKE_BINARY_DIR}/conformance/door-table-errors)
set_tests_properties(conformance.door.table-errors-refused PROPERTIES
                     LABELS "conformance;sigv4;custom-auth" TIMEOUT 30
                     PASS_REGULAR_EXPRESSION "7 problem\\(s\\) in the case tables")
