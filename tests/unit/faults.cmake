if(TARGET iotc_faults)
  iotc_add_unit(test_faults SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_faults.c LIBS iotc_faults
                LABELS "fleet;faults")
endif()
