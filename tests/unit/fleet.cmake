if(TARGET iotc_fleet)
  iotc_add_unit(test_fleet SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_fleet.c LIBS iotc_fleet iotc_authz
                LABELS fleet)
endif()
