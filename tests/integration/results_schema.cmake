# A real small run's results.json against reports/results.schema.json, and proof
# that the schema and the reader both reject broken documents.
add_test(NAME integration.results_schema
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_results_schema.py
                 $<TARGET_FILE:iotconform> ${CMAKE_SOURCE_DIR}/reports/results.schema.json
                 ${CMAKE_BINARY_DIR}/test-results-schema)
set_tests_properties(integration.results_schema PROPERTIES LABELS "integration;report;schema"
                     TIMEOUT 300)
