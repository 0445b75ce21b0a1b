# unit.test_broker: the supervisor with the real mosquitto and the real iotc_plugin.
iotc_add_unit(test_broker
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_broker.c
  LIBS iotc_broker iotc_common PkgConfig::LIBEVENT PkgConfig::MOSQ PkgConfig::JANSSON
  LABELS broker)
add_dependencies(test_broker iotc_plugin)
target_compile_definitions(test_broker PRIVATE
  IOTC_PLUGIN_PATH="$<TARGET_FILE:iotc_plugin>"
  MOSQUITTO_BIN="${MOSQUITTO_BIN}")
