iotc_add_fuzz(http_request SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_http.c LIBS iotc_http)
