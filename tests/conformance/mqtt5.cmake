# conformance.mqtt5.<row>: suites/mqtt5.json (MQTT 5 on the five MQTT rows: CONNACK
# properties, session and message expiry, topic aliases, user properties, request/response,
# reason codes, server DISCONNECT reasons, shared subscriptions on 3.1.1 and 5; on the
# four HTTPS rows, HTTPS publish properties to MQTT 5) on one row each, against fresh
# `iotconform serve` children on ephemeral ports (ctest -j safe). The cases mostly wait on
# the network, so four run at once.
iotc_conformance_rows(mqtt5 4 300 mqtt-x509-8883 mqtt-x509-443 mqtt-custom-443 wss-sigv4-443 wss-custom-443 https-x509-8443 https-x509-443 https-sigv4-443 https-custom-443)
