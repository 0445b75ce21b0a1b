# conformance.door-tls.<row> and conformance.door-cred.<row>: the TLS, SNI, ALPN,
# cipher and security-policy families and the door credentials on the five rows
# without a client certificate, one test per row and table against fresh `iotconform
# serve` children (ephemeral ports, so ctest -j is safe).
iotc_conformance_rows(door-tls 2 300 https-sigv4-443 https-custom-443 wss-sigv4-443 wss-custom-443 mqtt-custom-443)
iotc_conformance_rows(door-cred 2 120 https-sigv4-443 https-custom-443 wss-sigv4-443 wss-custom-443 mqtt-custom-443)

# A table whose not_applicable declarations are wrong is refused before anything starts.
add_test(NAME conformance.door.na-errors-refused
         COMMAND $<TARGET_FILE:iotconform> run
                 --suite ${CMAKE_SOURCE_DIR}/tests/unit/data/cases/bad-na.json
                 --out ${CMAKE_BINARY_DIR}/conformance/door-na-errors)
set_tests_properties(conformance.door.na-errors-refused PROPERTIES
                     LABELS "conformance;door-tls" TIMEOUT 30
                     PASS_REGULAR_EXPRESSION "4 problem\\(s\\) in the case tables")
