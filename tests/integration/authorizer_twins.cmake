add_test(NAME integration.authorizer_twins
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_authorizer_twins.py)
set_tests_properties(integration.authorizer_twins PROPERTIES LABELS "integration;custom-auth" TIMEOUT 120)
