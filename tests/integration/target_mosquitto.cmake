# integration.target_mosquitto: `iotconform run --target` against a plain mosquitto
# with a TLS listener; asserts which cases pass, fail (what tells an imitation from
# AWS IoT) and are skipped (need the emulator). Exit 77 = mosquitto not installed.
add_test(NAME integration.target_mosquitto
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_target_mosquitto.py
                 $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
set_tests_properties(integration.target_mosquitto PROPERTIES
                     LABELS "integration;target" TIMEOUT 300 SKIP_RETURN_CODE 77)
