add_test(NAME integration.scenarios
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_scenarios.py
                 $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
set_tests_properties(integration.scenarios PROPERTIES LABELS "integration;scenario" TIMEOUT 120)
