# fuzz.authz: custom-auth username parser, authorizer response validator and
# HTTP credentials (byte 0 picks the target).
iotc_add_fuzz(authz SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_authz.c LIBS iotc_authz iotc_http)
