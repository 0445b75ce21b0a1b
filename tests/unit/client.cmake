iotc_add_unit(test_client SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_client.c LIBS iotc_client LABELS client)
