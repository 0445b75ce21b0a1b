iotc_add_unit(test_report SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_report.c LIBS iotc_report
              LABELS report)
