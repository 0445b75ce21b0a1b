#!/usr/bin/env bash
# Real third-party clients against `iotconform serve`: mosquitto_pub/sub (8883, and 443 with
# ALPN x-amzn-mqtt-ca), curl with a client certificate (8443), openssl s_client (SNI rules).
set -u
BIN="$1"; PKI="$2"
source "$(dirname "$0")/lib.sh"
iotc_start_serve "$BIN" "$PKI"

CA="$PKI/ca-bundle.crt"
dev() { echo "--cert $PKI/$1.crt --key $PKI/$1.key"; }

# One subscriber per check, started first; its output file is checked after the publish.
sub_start() { # file port alpn topic cert
  local out="$1" port="$2" alpn="$3" topic="$4" cert="$5"
  local alpnargs=(); [ -n "$alpn" ] && alpnargs=(--tls-alpn "$alpn")
  mosquitto_sub -h localhost -p "$port" --cafile "$CA" $(dev "$cert") "${alpnargs[@]}" \
    -t "$topic" -q 1 -C 1 -W 15 -i "sub-$RANDOM" >"$out" 2>&1 &
  SUB_PID=$!
  # wait until the subscription is journaled (SUBACK sent), not a fixed delay
  for _ in $(seq 100); do grep -q "\"filter\":\"$topic\"" "$JOURNAL" 2>/dev/null && grep -q '"SUBACK"' "$JOURNAL" && return 0; sleep 0.05; done
  return 1
}

# 1. MQTT 8883 round trip at QoS 1 with mosquitto_sub / mosquitto_pub
sub_start "$IOTC_TMP/s1" "$P8883" "" "it/8883" device-01
check "mosquitto_pub QoS1 on 8883" mosquitto_pub -h localhost -p "$P8883" --cafile "$CA" $(dev device-02) -t it/8883 -m hello-8883 -q 1 -i pub-1
wait "$SUB_PID"; check "mosquitto_sub on 8883 received the message" grep -qx hello-8883 "$IOTC_TMP/s1"

# 2. MQTT on 443 with ALPN x-amzn-mqtt-ca
sub_start "$IOTC_TMP/s2" "$P443" x-amzn-mqtt-ca "it/443" device-03
check "mosquitto_pub on 443 with ALPN x-amzn-mqtt-ca" mosquitto_pub -h localhost -p "$P443" --tls-alpn x-amzn-mqtt-ca --cafile "$CA" $(dev device-04) -t it/443 -m hello-443 -q 1 -i pub-2
wait "$SUB_PID"; check "subscriber on 443 received the message" grep -qx hello-443 "$IOTC_TMP/s2"

# 3. HTTPS publish with curl on 8443, received by an MQTT subscriber
sub_start "$IOTC_TMP/s3" "$P8883" "" "it/https" device-01
code=$(curl -sS -o "$IOTC_TMP/curl.body" -w '%{http_code}' --cacert "$CA" --cert "$PKI/device-02.crt" --key "$PKI/device-02.key" \
  -X POST --data-binary hello-https "https://localhost:$P8443/topics/it%2Fhttps?qos=1")
check "curl POST /topics on 8443 answers 200" test "$code" = 200
check "HTTPS success body has message OK and a traceId" grep -q '"message":"OK","traceId":"[0-9a-f-]\{36\}"' "$IOTC_TMP/curl.body"
wait "$SUB_PID"; check "MQTT subscriber received the HTTPS publish" grep -qx hello-https "$IOTC_TMP/s3"
code=$(curl -sS -o "$IOTC_TMP/curl.body" -w '%{http_code}' --cacert "$CA" --cert "$PKI/device-02.crt" --key "$PKI/device-02.key" \
  -X POST --data-binary x "https://localhost:$P8443/topics/t?qos=2")
check "HTTPS qos=2 answers 400" test "$code" = 400
check "HTTPS 400 has a JSON message" grep -q '"message":"qos must be 0 or 1"' "$IOTC_TMP/curl.body"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" --cert "$PKI/device-02.crt" --key "$PKI/device-02.key" \
  "https://localhost:$P8443/topics/t")
check "HTTPS GET (subscribe attempt) is refused with 405" test "$code" = 405
check_fails "curl without a client certificate on 8443 is refused" curl -sS --cacert "$CA" -X POST -d x "https://localhost:$P8443/topics/t"
check_fails "curl with an INACTIVE certificate is refused" curl -sS --cacert "$CA" --cert "$PKI/device-inactive.crt" --key "$PKI/device-inactive.key" -X POST -d x "https://localhost:$P8443/topics/t"

# 4. SNI with openssl s_client
echo | openssl s_client -connect "127.0.0.1:$P8883" -noservername -CAfile "$CA" -cert "$PKI/device-01.crt" -key "$PKI/device-01.key" >"$IOTC_TMP/nosni" 2>&1
check "openssl s_client without SNI is refused with unrecognized_name" grep -q "unrecognized name" "$IOTC_TMP/nosni"
echo | openssl s_client -connect "127.0.0.1:$P8883" -servername wrong.example -CAfile "$CA" -cert "$PKI/device-01.crt" -key "$PKI/device-01.key" >"$IOTC_TMP/badsni" 2>&1
check "openssl s_client with a wrong SNI is refused" grep -q "unrecognized name" "$IOTC_TMP/badsni"
echo | openssl s_client -connect "[::1]:$P8883" -servername localhost -CAfile "$CA" -cert "$PKI/device-01.crt" -key "$PKI/device-01.key" -verify_return_error >"$IOTC_TMP/goodsni" 2>&1
check "openssl s_client over IPv6 with SNI localhost completes the handshake" grep -q "Verify return code: 0 (ok)" "$IOTC_TMP/goodsni"
echo | openssl s_client -connect "127.0.0.1:$P8883" -servername localhost -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' >"$IOTC_TMP/tls11" 2>&1
check "TLS 1.1 is refused with alert protocol_version" grep -q "alert protocol version" "$IOTC_TMP/tls11"
check_fails "TLS 1.1 negotiated nothing" grep -q "Cipher is ECDHE" "$IOTC_TMP/tls11"

# 5. X.509 without ALPN on 443 is not MQTT
check_fails "mosquitto_pub on 443 without ALPN is refused" mosquitto_pub -h localhost -p "$P443" --cafile "$CA" $(dev device-01) -t t -m x -q 1
check_fails "mosquitto_pub on 443 with an unknown ALPN is refused" mosquitto_pub -h localhost -p "$P443" --tls-alpn nonsense --cafile "$CA" $(dev device-01) -t t -m x -q 1

# 6. No session tickets (AWS IoT does not support them), on TLS 1.2 and 1.3
for v in -tls1_2 -tls1_3; do
  echo | openssl s_client -connect "127.0.0.1:$P8883" -servername localhost $v -CAfile "$CA" \
    -cert "$PKI/device-01.crt" -key "$PKI/device-01.key" -sess_out "$IOTC_TMP/sess$v" >"$IOTC_TMP/tix$v" 2>&1
  check "handshake $v completes" grep -q "Verify return code: 0 (ok)" "$IOTC_TMP/tix$v"
  check_fails "no session ticket issued $v" grep -q "TLS session ticket:" "$IOTC_TMP/tix$v"
done

# 7. A broken configuration stops serve before anything starts, naming file and key path
printf '{"endpoint_names":["localhost"],"limits":{"max_topic_bytes":-1}}' >"$IOTC_TMP/broken.json"
"$BIN" serve --pki "$PKI" --ports 0 --profile "$IOTC_TMP/broken.json" >"$IOTC_TMP/broken.out" 2>&1
rc=$?
check "broken profile: serve exits non-zero" test "$rc" -ne 0
check "broken profile: error names the file and key path" grep -q "broken.json: \$.limits: max_topic_bytes" "$IOTC_TMP/broken.out"
check_fails "broken profile: nothing started (no READY line)" grep -q IOTCONFORM_READY "$IOTC_TMP/broken.out"
"$BIN" serve --pki "$IOTC_TMP/no-such-pki" --ports 0 >"$IOTC_TMP/nopki.out" 2>&1
check "missing PKI: clear error" grep -q "cannot open certificate" "$IOTC_TMP/nopki.out"

check "journal recorded the SNI refusal" journal_has '"reason":"SNI missing'
check "journal recorded an X.509 allow with the certificate id" journal_has '"result":"allow","principal":"'
iotc_finish
