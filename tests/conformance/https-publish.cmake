# conformance.https-publish.<row>: suites/https-publish.json (what AWS's HTTPS publish
# expresses of the MQTT families: QoS, retained, the 128 KB payload limit, MQTT 5
# request/response and message expiry) on each of the four HTTPS rows, against fresh
# `iotconform serve` children on ephemeral ports (ctest -j safe).
iotc_conformance_rows(https-publish 2 120 https-x509-8443 https-x509-443 https-sigv4-443 https-custom-443)
