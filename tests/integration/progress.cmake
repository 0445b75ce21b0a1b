# What `run` and `certify` print while they work: the live line under a pseudo-terminal,
# plain progress lines when piped, --verbose and --quiet.
add_test(NAME integration.progress
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_progress.py
                 $<TARGET_FILE:iotconform> ${CMAKE_SOURCE_DIR} ${IOTC_PKI_DIR}
                 ${CMAKE_BINARY_DIR}/test-progress)
set_tests_properties(integration.progress PROPERTIES LABELS "integration;progress" TIMEOUT 300)
