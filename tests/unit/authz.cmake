# unit.test_authz: custom-auth credentials, token signatures, authorizer event
# and response, and the sample authorizer programs (fixtures/authorizers) on a
# real libevent loop.
iotc_add_unit(test_authz SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_authz.c
              LIBS iotc_authz iotc_http PkgConfig::LIBEVENT PkgConfig::JANSSON LABELS authz)
