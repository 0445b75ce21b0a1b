# unit.test_blink: the front door's unix-socket link to its broker (endpoint/broker_link_unix.c).
iotc_add_unit(test_blink SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_blink.c
              LIBS iotc_endpoint PkgConfig::LIBEVENT LABELS "endpoint")
