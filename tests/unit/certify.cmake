# unit.test_certify: templates, catalogue/adapter loading, judges, the device process group.
# unit.test_backoff: the reconnect-backoff classifier, its examples and measured accuracy.
if(TARGET iotc_certify)
  iotc_add_unit(test_certify SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_certify.c
                LIBS iotc_certify m LABELS "certify;certification")
  iotc_add_unit(test_backoff SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_backoff.c
                LIBS iotc_certify m LABELS "certify;certification")
endif()
