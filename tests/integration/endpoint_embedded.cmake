# integration.endpoint_embedded: the endpoint opened in the test process
find_package(Threads REQUIRED)
# (iotc_endpoint_open/run/stop/close) with a real libmosquitto TLS device.
add_executable(test_endpoint_embedded ${CMAKE_CURRENT_LIST_DIR}/test_endpoint_embedded.c
                                      ${CMAKE_SOURCE_DIR}/tests/unit/cunit_main.c)
target_include_directories(test_endpoint_embedded PRIVATE ${CMAKE_SOURCE_DIR}/sim)
target_link_libraries(test_endpoint_embedded PRIVATE iotc_endpoint PkgConfig::MOSQ PkgConfig::CUNIT
                                                     PkgConfig::JANSSON Threads::Threads)
target_compile_definitions(test_endpoint_embedded PRIVATE IOTC_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
                                                          IOTC_BINARY_DIR="${CMAKE_BINARY_DIR}")
add_dependencies(test_endpoint_embedded pki iotc_plugin)
add_test(NAME integration.endpoint_embedded COMMAND test_endpoint_embedded)
set_tests_properties(integration.endpoint_embedded PROPERTIES LABELS "integration;endpoint" TIMEOUT 120)
