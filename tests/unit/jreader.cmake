iotc_add_unit(test_jreader SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_jreader.c
              LIBS iotc_harness LABELS "harness")
