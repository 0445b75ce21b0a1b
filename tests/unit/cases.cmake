# unit.test_cases: case-table loading, validation, expansion, selection, judging.
iotc_add_unit(test_cases SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cases.c
              LIBS iotc_cases LABELS runner)
