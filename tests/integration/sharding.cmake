# run/certify --shard K/N merged by `iotconform report` equal the unsharded run; duplicate,
# missing and foreign shards are refused.
add_test(NAME integration.sharding
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_sharding.py
                 $<TARGET_FILE:iotconform> ${CMAKE_SOURCE_DIR} ${IOTC_PKI_DIR}
                 ${CMAKE_BINARY_DIR}/test-sharding)
set_tests_properties(integration.sharding PROPERTIES LABELS "integration;sharding;report"
                     TIMEOUT 300)
