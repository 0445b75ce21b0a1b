# conformance.throttle.<row>: suites/throttle.json (publish quotas: on the four HTTPS rows the
# account quota and the per-connection quota over one kept-alive connection, 429
# ThrottlingException; on the five MQTT rows 150 vs 90 QoS 1 publishes at AWS's default
# 100/s, PUBACK 0x97) on one row each, against fresh `iotconform serve` children on
# ephemeral ports (ctest -j safe). Two at once: the bursts are timing-sensitive.
iotc_conformance_rows(throttle 2 120 mqtt-x509-8883 mqtt-x509-443 mqtt-custom-443 wss-sigv4-443 wss-custom-443 https-x509-8443 https-x509-443 https-sigv4-443 https-custom-443)
