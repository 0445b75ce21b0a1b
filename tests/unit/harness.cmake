iotc_add_unit(test_harness SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_harness.c
              LIBS iotc_harness LABELS "harness")
