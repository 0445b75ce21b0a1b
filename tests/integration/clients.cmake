add_test(NAME integration.clients
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/test_clients.sh
                 $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
set_tests_properties(integration.clients PROPERTIES LABELS "integration;clients" TIMEOUT 180)
