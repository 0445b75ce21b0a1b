# Runs `iotc_bench --quick` and checks that it completed and that its JSON has the
# expected keys and non-zero throughputs. Usage:
#   cmake -DBENCH=... -DSERVE=... -DPKI=... -DJSON=... -P smoke_check.cmake
foreach(var BENCH SERVE PKI JSON)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "smoke_check: -D${var}=... is required")
  endif()
endforeach()

file(REMOVE ${JSON})
execute_process(COMMAND ${BENCH} --quick --serve ${SERVE} --pki ${PKI} --json ${JSON}
                RESULT_VARIABLE rc TIMEOUT 280)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "iotc_bench --quick exited with '${rc}'")
endif()
if(NOT EXISTS ${JSON})
  message(FATAL_ERROR "iotc_bench --quick wrote no ${JSON}")
endif()
file(READ ${JSON} doc)

# Keys are written with dots; string(JSON) wants one argument per level.
function(bench_json_get out key)
  string(REPLACE "." ";" path "${key}")
  string(JSON value ERROR_VARIABLE err GET "${doc}" ${path})
  if(err)
    message(FATAL_ERROR "bench JSON: missing '${key}': ${err}")
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

# Every key the report promises.
foreach(key
    version quick loadavg
    throughput.ratio throughput.pass throughput.payload_bytes
    throughput.front_door.msgs_per_s throughput.front_door.delivered
    throughput.mosquitto.msgs_per_s throughput.mosquitto.delivered
    handshakes.tls13.per_s handshakes.tls12.per_s handshakes.mosquitto_tls13.per_s
    memory.front_door_kb_per_device memory.broker_kb_per_device
    memory.total_kb_per_device memory.connected memory.pass)
  bench_json_get(value ${key})
endforeach()

# Each scenario really ran, whatever its speed.
foreach(key throughput.front_door throughput.mosquitto handshakes.tls13 handshakes.tls12 memory)
  bench_json_get(ok ${key}.ok)
  bench_json_get(why ${key}.error)
  if(NOT ok)
    message(FATAL_ERROR "bench JSON: ${key} did not run: ${why}")
  endif()
endforeach()
foreach(key throughput.front_door.msgs_per_s throughput.mosquitto.msgs_per_s
            handshakes.tls13.per_s handshakes.tls12.per_s memory.connected)
  bench_json_get(value ${key})
  if(NOT value GREATER 0)
    message(FATAL_ERROR "bench JSON: ${key} is ${value}, expected > 0")
  endif()
endforeach()
message(STATUS "bench.smoke: JSON complete, throughputs and rates non-zero")
