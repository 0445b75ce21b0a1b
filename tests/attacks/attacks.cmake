# attacks.<table>: each tests/attacks/<table>.json against its own `serve`, every row
# with a canary device that must keep round-tripping (tests/attacks/attacks.py).
file(GLOB IOTC_ATTACK_TABLES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.json)
foreach(table IN LISTS IOTC_ATTACK_TABLES)
  get_filename_component(name ${table} NAME_WE)
  add_test(NAME attacks.${name}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/attacks.py
                   $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR} ${table})
  set_tests_properties(attacks.${name} PROPERTIES LABELS "attacks;integration" TIMEOUT 300)
endforeach()
# A broken table (no twin, unknown kind, unknown key) is refused whole, before any serve.
add_test(NAME attacks.table-errors-refused
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/attacks.py
                 $<TARGET_FILE:iotconform> ${IOTC_PKI_DIR} ${CMAKE_CURRENT_LIST_DIR}/bad/broken.json)
set_tests_properties(attacks.table-errors-refused PROPERTIES LABELS "attacks" TIMEOUT 30
                     WILL_FAIL FALSE PASS_REGULAR_EXPRESSION "3 problem\\(s\\) in the attack table")
