# fuzz.ws_frames: WebSocket session input (frames from a peer) and response heads.
iotc_add_fuzz(ws_frames SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_ws.c LIBS iotc_ws)
