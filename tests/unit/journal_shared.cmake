# unit.test_journal_shared: one journal file written by several serve workers.
iotc_add_unit(test_journal_shared SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_journal_shared.c
              LIBS iotc_common PkgConfig::JANSSON LABELS "journal;workers")
