iotc_add_fuzz(mqtt_packet SOURCE ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_mqtt.c LIBS iotc_mqtt)
