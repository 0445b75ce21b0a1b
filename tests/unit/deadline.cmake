# unit.test_deadline: the front door's deadline heap (endpoint/deadline.c): keep-alive,
# CONNECT and duration timers of idle connections.
iotc_add_unit(test_deadline SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_deadline.c
              LIBS iotc_endpoint PkgConfig::LIBEVENT LABELS "endpoint")
