add_test(NAME integration.mqtt_rules
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_mqtt_rules.py
                 $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
set_tests_properties(integration.mqtt_rules PROPERTIES LABELS "integration;mqtt-rules" TIMEOUT 120)
