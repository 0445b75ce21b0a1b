# unit.test_ws: WebSocket handshake (both sides) and in-memory sessions over wslay.
iotc_add_unit(test_ws SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ws.c LIBS iotc_ws iotc_http LABELS ws)
