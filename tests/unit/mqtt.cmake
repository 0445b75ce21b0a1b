iotc_add_unit(test_mqtt SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_mqtt.c LIBS iotc_mqtt LABELS mqtt)
