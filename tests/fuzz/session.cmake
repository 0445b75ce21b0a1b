# The front door's MQTT state machine on in-memory devices and broker (endpoint_fuzz.h).
iotc_add_fuzz(session SOURCE ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_session.c LIBS iotc_endpoint)
foreach(t session_replay session_fuzzer)
  if(TARGET ${t})
    target_compile_definitions(${t} PRIVATE
      IOTC_FUZZ_PROFILE="${CMAKE_SOURCE_DIR}/fixtures/profiles/default.json")
  endif()
endforeach()
