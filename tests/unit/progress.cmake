iotc_add_unit(test_progress SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_progress.c
              LIBS iotc_harness LABELS "harness;progress;sharding")
