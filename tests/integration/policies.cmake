add_test(NAME integration.policies
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_policies.py
                 $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
set_tests_properties(integration.policies PROPERTIES LABELS "integration;policy" TIMEOUT 120)
