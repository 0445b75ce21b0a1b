# Device certification (`iotconform certify`): the qualification suite on the reference
# device, the judge-proof table (good device + every misbehaviour), real third-party
# devices, bad device commands, and the GitHub Action's YAML against the CLI.
if(TARGET iotc_certify AND TARGET iotc_refdevice)
  set(IOTC_CERTIFY_PY ${CMAKE_SOURCE_DIR}/tests/integration)
  add_test(NAME integration.certify_qualification
           COMMAND /usr/bin/python3 ${IOTC_CERTIFY_PY}/test_certify_qualification.py
                   $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
  add_test(NAME integration.certify_proof
           COMMAND /usr/bin/python3 ${IOTC_CERTIFY_PY}/test_certify_proof.py
                   $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR} ${CMAKE_SOURCE_DIR})
  # The same judges on the reference device in MQTT 5 mode, with the MQTT 5 twins.
  add_test(NAME integration.certify_proof_mqtt5
           COMMAND /usr/bin/python3 ${IOTC_CERTIFY_PY}/test_certify_proof.py
                   $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR} ${CMAKE_SOURCE_DIR} 5)
  add_test(NAME integration.certify_thirdparty
           COMMAND /usr/bin/python3 ${IOTC_CERTIFY_PY}/test_certify_thirdparty.py
                   $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
  add_test(NAME integration.certify_bad_input
           COMMAND /usr/bin/python3 ${IOTC_CERTIFY_PY}/test_certify_bad_input.py
                   $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR})
  add_test(NAME integration.certify_ci
           COMMAND /usr/bin/python3 ${IOTC_CERTIFY_PY}/test_certify_ci.py
                   $<TARGET_FILE:iotconform> ${CMAKE_SOURCE_DIR})
  set_tests_properties(integration.certify_qualification integration.certify_proof
                       integration.certify_proof_mqtt5 integration.certify_thirdparty integration.certify_bad_input
                       integration.certify_ci
                       PROPERTIES LABELS "integration;certification" TIMEOUT 420
                       ENVIRONMENT "IOTCONFORM_REFDEVICE=$<TARGET_FILE:iotc_refdevice>")
  # The proof and third-party runs start many endpoints at once: not together.
  set_tests_properties(integration.certify_proof integration.certify_proof_mqtt5
                       integration.certify_thirdparty PROPERTIES RESOURCE_LOCK iotc_certify_heavy)
  # The longest runs start first on a fresh clone (no ctest cost data yet), so they
  # overlap the many short tests instead of trailing them.
  set_tests_properties(integration.certify_proof_mqtt5 PROPERTIES COST 4000)
  set_tests_properties(integration.certify_proof PROPERTIES COST 3000)
endif()
