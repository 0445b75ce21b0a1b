iotc_add_unit(test_policy SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_policy.c LIBS iotc_policy
              LABELS policy)
