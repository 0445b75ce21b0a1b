iotc_add_unit(test_policy SOURCES ${CMAKE_SOURCE_DIR}/suites/unit/test_policy.c LIBS iotc_policy
              LABELS policy)
