# `iotconform broker` + two `serve --broker tls://...` front doors on loopback: messages
# across the doors (QoS 0/1), retained, lifecycle, duplicate client ID takeover across
# doors; a forged stamp, a plain client and a door with the wrong secret are refused.
add_test(NAME integration.broker_tcp
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_broker_tcp.py
                 $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
set_tests_properties(integration.broker_tcp PROPERTIES LABELS "integration;broker"
                     TIMEOUT 120)
