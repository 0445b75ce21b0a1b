iotc_add_fuzz(policy SOURCE ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_policy.c LIBS iotc_policy)
