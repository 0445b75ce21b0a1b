iotc_add_unit(test_paths SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_paths.c
              LIBS iotc_config LABELS config)
