# SigV4 verifier: public vectors (from the shared tree next to the repository; the
# test fails when they are missing), refusals, and a curl --aws-sigv4 cross-check.
iotc_add_unit(test_sigv4 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sigv4.c LIBS iotc_sigv4 LABELS sigv4)
target_compile_definitions(test_sigv4 PRIVATE
                           IOTC_SIGV4_VECTORS="${CMAKE_SOURCE_DIR}/../shared/vectors/sigv4")
