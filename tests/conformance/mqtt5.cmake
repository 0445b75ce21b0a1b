# conformance.mqtt5.<row>: suites/mqtt5.json (MQTT 5 on the five MQTT rows: CONNACK
# properties, session and message expiry, topic aliases, user properties, request/response,
# reason codes, server DISCONNECT reasons, shared subscriptions on 3.1.1 and 5; on the two
# X.509 HTTPS rows, HTTPS publish properties to MQTT 5) on one row each, against fresh
# `iotconform serve` children on ephemeral ports (ctest -j safe). The cases mostly wait on
# the network, so four run at once.
foreach(row mqtt-x509-8883 mqtt-x509-443 mqtt-custom-443 wss-sigv4-443 wss-custom-443
            https-x509-8443 https-x509-443)
  add_test(NAME conformance.mqtt5.${row}
           COMMAND $<TARGET_FILE:iotconform> run --suite mqtt5 --filter "${row}*"
                   --jobs 4 --pki ${IOTC_PKI_DIR}
                   --out ${CMAKE_BINARY_DIR}/conformance/mqtt5-${row})
  set_tests_properties(conformance.mqtt5.${row} PROPERTIES
                       LABELS "conformance;mqtt5;${row}" TIMEOUT 300)
endforeach()
