iotc_add_unit(test_config SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_config.c
              LIBS iotc_endpoint LABELS config)
add_dependencies(test_config pki)
