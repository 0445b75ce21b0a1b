add_test(NAME integration.https_mqtt5
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_https_mqtt5.py
                 $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
set_tests_properties(integration.https_mqtt5 PROPERTIES LABELS "integration;https" TIMEOUT 60)
