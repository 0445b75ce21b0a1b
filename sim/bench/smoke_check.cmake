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

# Every key the report promises: one run per worker count (--quick keeps the default
# "1,N"), then mosquitto's reference.
string(JSON nruns LENGTH "${doc}" runs)
if(nruns LESS 1)
  message(FATAL_ERROR "bench JSON: no runs")
endif()
foreach(key version quick loadavg ncpu throughput.payload_bytes throughput.goal_ratio
    handshakes.goal_per_s handshakes.goal_cpu_ms memory.goal_kb memory.devices qos1.workers
    mosquitto.throughput.msgs_per_s mosquitto.handshakes.tls13.per_s
    mosquitto.memory.total_kb_per_device)
  bench_json_get(value ${key})
endforeach()
math(EXPR last "${nruns} - 1")
foreach(i RANGE ${last})
  foreach(key workers throughput.ratio throughput.pass throughput.msgs_per_s
      throughput.delivered handshakes.tls13.per_s handshakes.tls12.per_s
      handshakes.tls13.server_cpu_ms_per_handshake handshakes.tls13.client_cpu_ms_per_handshake
      memory.front_door_kb_per_device memory.broker_kb_per_device memory.total_kb_per_device
      memory.connected memory.pass)
    bench_json_get(value runs.${i}.${key})
  endforeach()
  # Each scenario really ran, whatever its speed.
  foreach(key throughput handshakes.tls13 handshakes.tls12 memory)
    bench_json_get(ok runs.${i}.${key}.ok)
    bench_json_get(why runs.${i}.${key}.error)
    if(NOT ok)
      message(FATAL_ERROR "bench JSON: runs[${i}].${key} did not run: ${why}")
    endif()
  endforeach()
  foreach(key throughput.msgs_per_s handshakes.tls13.per_s handshakes.tls12.per_s
      memory.connected)
    bench_json_get(value runs.${i}.${key})
    if(NOT value GREATER 0)
      message(FATAL_ERROR "bench JSON: runs[${i}].${key} is ${value}, expected > 0")
    endif()
  endforeach()
endforeach()
foreach(key throughput handshakes.tls13 memory)
  bench_json_get(ok mosquitto.${key}.ok)
  bench_json_get(why mosquitto.${key}.error)
  if(NOT ok)
    message(FATAL_ERROR "bench JSON: mosquitto.${key} did not run: ${why}")
  endif()
endforeach()
message(STATUS "bench.smoke: JSON complete for ${nruns} worker counts and mosquitto; "
               "throughputs and rates non-zero")
