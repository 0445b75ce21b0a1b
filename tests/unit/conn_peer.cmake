# unit.test_conn_peer: the front door's peer strings, made on demand from the address
# (endpoint/conn_peer.c): the journal's peer and family, aws:SourceIp, lifecycle ipAddress.
iotc_add_unit(test_conn_peer SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_conn_peer.c
              LIBS iotc_endpoint LABELS "endpoint")
