# AWS's own IoT device SDKs certified on the qualification suite
# (fixtures/adapters/aws-sdk-*.json; npm packages installed by ci/install-deps.sh):
# verdicts must match tests/integration/data/sdk-verdicts.json, which the README shows.
# The SDKs keep their real timeouts, so cases marked "slow" there (the jitter case at a
# 20-30 s CONNACK timeout: 5.5 min for the MQTT5 client, 8 min for v1) run only in
# integration.certify_sdk_slow, with -DIOTC_SDK_SLOW_TESTS=ON.
option(IOTC_SDK_SLOW_TESTS "Also certify the AWS SDKs on their minutes-long backoff cases" OFF)
if(TARGET iotc_certify)
  set(IOTC_SDK_TEST ${CMAKE_SOURCE_DIR}/tests/integration/test_certify_sdk.py)
  set(IOTC_SDK_TESTS integration.certify_sdk_readme)
  add_test(NAME integration.certify_sdk_readme
           COMMAND /usr/bin/python3 ${IOTC_SDK_TEST} $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR}
                   ${CMAKE_SOURCE_DIR} readme)
  foreach(sdk v2-mqtt311 v2-mqtt5 v1)
    add_test(NAME integration.certify_sdk.${sdk}
             COMMAND /usr/bin/python3 ${IOTC_SDK_TEST} $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR}
                     ${CMAKE_SOURCE_DIR} run aws-sdk-${sdk})
    list(APPEND IOTC_SDK_TESTS integration.certify_sdk.${sdk})
    # Four endpoints and four Node.js devices at once: not beside the other heavy runs.
    set_tests_properties(integration.certify_sdk.${sdk} PROPERTIES RESOURCE_LOCK iotc_certify_heavy)
  endforeach()
  if(IOTC_SDK_SLOW_TESTS)
    add_test(NAME integration.certify_sdk_slow
             COMMAND /usr/bin/python3 ${IOTC_SDK_TEST} $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR}
                     ${CMAKE_SOURCE_DIR} slow aws-sdk-v2-mqtt311 aws-sdk-v2-mqtt5 aws-sdk-v1)
    set_tests_properties(integration.certify_sdk_slow PROPERTIES TIMEOUT 900)
    list(APPEND IOTC_SDK_TESTS integration.certify_sdk_slow)
  endif()
  set_tests_properties(${IOTC_SDK_TESTS} PROPERTIES
                       LABELS "integration;certification;certification-sdk")
  set_tests_properties(integration.certify_sdk.v2-mqtt311 integration.certify_sdk.v2-mqtt5
                       integration.certify_sdk.v1 PROPERTIES TIMEOUT 300)
endif()
