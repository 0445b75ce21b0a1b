# integration.pki: properties, idempotence and regeneration of the test PKI.
string(REPLACE ";" "," IOTC_PKI_TEST_NAMES "${IOTC_ENDPOINT_NAMES}")
add_test(NAME integration.pki
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/test_pki.sh ${IOTC_PKI_DIR}
                 ${CMAKE_SOURCE_DIR}/certs/mkpki.sh)
set_tests_properties(integration.pki PROPERTIES
  LABELS "integration;pki"
  TIMEOUT 300
  COST 5000 # the longest CPU-bound test (key generation): start it first
  ENVIRONMENT "OPENSSL=${OPENSSL_BIN};IOTC_ENDPOINT_NAMES=${IOTC_PKI_TEST_NAMES}")
