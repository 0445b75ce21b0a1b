# unit.test_certify: backoff classifier, templates, catalogue/adapter loading, judges,
# the device process group.
if(TARGET iotc_certify)
  iotc_add_unit(test_certify SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_certify.c
                LIBS iotc_certify m LABELS "certify;certification")
endif()
