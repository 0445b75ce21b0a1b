# common/x509_cache: the shared certificate parse and the verified-chain memo (test PKI).
iotc_add_unit(test_x509_cache SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_x509_cache.c LIBS iotc_common OpenSSL::SSL LABELS common;x509)
add_dependencies(test_x509_cache pki)
