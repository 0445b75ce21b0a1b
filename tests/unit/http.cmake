iotc_add_unit(test_http SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_http.c LIBS iotc_http LABELS http)
