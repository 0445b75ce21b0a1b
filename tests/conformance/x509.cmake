# conformance.x509.<row>: the X.509 suite against a fresh `iotconform serve` per
# test (ephemeral ports, so ctest -j is safe), one test per matrix row.
iotc_conformance_rows(x509 1 600 mqtt-x509-8883 mqtt-x509-443 https-x509-8443 https-x509-443)
# conformance.x509-policy.<row>: suites/x509-policy.json (iot:Connect/Publish/Subscribe/
# Receive and the policy variables on X.509 certificates) on one row each.
iotc_conformance_rows(x509-policy 2 120 mqtt-x509-8883 mqtt-x509-443 https-x509-8443 https-x509-443)

# The runner must refuse a broken table before starting anything (exit 2).
add_test(NAME conformance.x509.table-errors-refused
         COMMAND $<TARGET_FILE:iotconform> run
                 --suite ${CMAKE_SOURCE_DIR}/tests/unit/data/cases/unknown-keys.json
                 --out ${CMAKE_BINARY_DIR}/conformance/x509-table-errors)
set_tests_properties(conformance.x509.table-errors-refused PROPERTIES
                     LABELS "conformance;x509" TIMEOUT 30
                     PASS_REGULAR_EXPRESSION "4 problem\\(s\\) in the case tables")
