# conformance.mqtt-behaviour.<row>: suites/mqtt-behaviour.json (session-driver scripts:
# QoS 2, limits, keep-alive, takeover, retained, sessions, wills, lifecycle events,
# duration limits) on one row each, against fresh `iotconform serve` children
# (ephemeral ports, so ctest -j is safe; the default, fast-timers and short-durations
# profiles start as the row's cases need them).
iotc_conformance_rows(mqtt-behaviour 2 300 mqtt-x509-8883 mqtt-x509-443 mqtt-custom-443 wss-sigv4-443 wss-custom-443 https-x509-8443 https-x509-443 https-sigv4-443 https-custom-443)
