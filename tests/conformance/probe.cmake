# conformance.probe.long-topic: the probe's HTTPS publish carries a topic whose
# percent-encoding passes 600 bytes whole (a fixed buffer used to cut it short); a
# test-only table, one row, a fresh `iotconform serve` on ephemeral ports.
add_test(NAME conformance.probe.long-topic
         COMMAND $<TARGET_FILE:iotconform> run
                 --suite ${CMAKE_SOURCE_DIR}/tests/unit/data/cases/long-topic.json
                 --pki ${IOTC_PKI_DIR} --out ${CMAKE_BINARY_DIR}/conformance/probe-long-topic)
set_tests_properties(conformance.probe.long-topic PROPERTIES
                     LABELS "conformance;https;https-x509-8443" TIMEOUT 60)
