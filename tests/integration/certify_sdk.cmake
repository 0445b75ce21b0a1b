# AWS's own IoT device SDKs certified on the whole qualification suite
# (fixtures/adapters/aws-sdk-*.json; npm packages installed by ci/install-deps.sh):
# verdicts must match tests/integration/data/sdk-verdicts.json, which the README shows.
# The SDKs keep their real timeouts (the jitter case waits out a 20-30 s CONNACK timeout
# six times), so one test certifies the three SDKs at once (a ctest -j slot each would
# mostly wait) and starts before every other test (COST), beside the rest of the suite.
if(TARGET iotc_certify)
  set(IOTC_SDK_TEST ${CMAKE_SOURCE_DIR}/tests/integration/test_certify_sdk.py)
  add_test(NAME integration.certify_sdk_readme
           COMMAND /usr/bin/python3 ${IOTC_SDK_TEST} $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR}
                   ${CMAKE_SOURCE_DIR} readme)
  add_test(NAME integration.certify_sdk
           COMMAND /usr/bin/python3 ${IOTC_SDK_TEST} $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR}
                   ${CMAKE_SOURCE_DIR} run aws-sdk-v2-mqtt311 aws-sdk-v2-mqtt5 aws-sdk-v1)
  set_tests_properties(integration.certify_sdk integration.certify_sdk_readme PROPERTIES
                       LABELS "integration;certification;certification-sdk")
  set_tests_properties(integration.certify_sdk PROPERTIES TIMEOUT 600 COST 100000)
endif()
