# `iotconform fleet` end to end (smoke, the nine-row door run, faults on the X.509 and door
# rows, negative twins, Ctrl-C, spec errors).
if(TARGET iotc_fleet)
  add_test(NAME integration.fleet
           COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_fleet.py
                   $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
  set_tests_properties(integration.fleet PROPERTIES LABELS "integration;fleet" TIMEOUT 300)
endif()
# fleet --shard K/N as the Kubernetes Indexed Job runs it (JOB_COMPLETION_INDEX, ...): three
# local shard processes against one serve, merged by fleet-merge, equal the whole run; a
# missing, duplicated or foreign shard is refused, a blind shard's losses are counted.
if(TARGET iotc_fleet)
  add_test(NAME integration.fleet_shards
           COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_fleet_shards.py
                   $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
  set_tests_properties(integration.fleet_shards PROPERTIES LABELS "integration;fleet;sharding"
                       TIMEOUT 300)
endif()
