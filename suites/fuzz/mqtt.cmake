iotc_add_fuzz(mqtt_packet SOURCE ${CMAKE_SOURCE_DIR}/suites/fuzz/fuzz_mqtt.c LIBS iotc_mqtt)
