iotc_add_fuzz(sigv4 SOURCE ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_sigv4.c LIBS iotc_sigv4)
