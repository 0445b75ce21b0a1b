# integration.stream: the front door's own TLS stream (sim/endpoint/conn_io.c) with real
# clients: backpressure with nothing lost, bytes arriving with the client's EOF, a TLS
# KeyUpdate (openssl s_client), close kinds, the lingering close of a refused HTTPS request.
add_test(NAME integration.stream
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_stream.py
                 $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
set_tests_properties(integration.stream PROPERTIES LABELS "integration;endpoint" TIMEOUT 120)
