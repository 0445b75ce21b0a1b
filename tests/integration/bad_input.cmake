add_test(NAME integration.bad_input
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_bad_input.py
                 $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
set_tests_properties(integration.bad_input PROPERTIES LABELS "integration;bad-input" TIMEOUT 120)
