add_test(NAME integration.door
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_door.py
                 $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
set_tests_properties(integration.door PROPERTIES LABELS "integration;door;sigv4;custom-auth;wss" TIMEOUT 180)
