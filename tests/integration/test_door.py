#!/usr/bin/python3
"""The 443 door (no client certificate): SigV4 HTTPS publish signed by curl --aws-sigv4,
MQTT over WebSocket with a presigned URL (paho-mqtt websockets), custom authorizers on
HTTPS, WSS and MQTT (ALPN "mqtt", mosquitto_pub), token signatures, authorizer failures,
connection-duration limits and the refused combinations. Each allow has its deny twin."""
import base64, datetime, hashlib, hmac, json, os, socket, ssl, struct, subprocess, sys, threading, time, urllib.parse
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iotclib
from iotclib import Conn, Serve, check
import paho.mqtt.client as mqtt

BIN, PKI = sys.argv[1], sys.argv[2]
iotclib.PKI = PKI
CA = f"{PKI}/ca-bundle.crt"
REG = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../fixtures/registry.json")))
CRED = {c["access_key_id"]: c for c in REG["credentials"]}
AK1, AK2, AK3 = "AKIDIOTCONFORM0001", "ASIAIOTCONFORM0002", "AKIDIOTCONFORM0003"

# time_scale 0.01: custom-auth disconnectAfterInSeconds 300 -> 3 s; SigV4 WSS limit 200 s -> 2 s;
# the per-client-ID CONNECT quota's second -> 10 ms (iotclib paces the reused client IDs).
srv = Serve(BIN, PKI, {"time_scale": 0.01, "limits": {"max_duration_sigv4_s": 200}},
            prefix="iotc-door-")
P443, P8883, P8443 = srv.ports["443"], srv.ports["8883"], srv.ports["8443"]


def curl(args, topic, data="hello", extra=()):
    out = subprocess.run(["curl", "-sS", "-o", "/dev/stdout", "-w", "\n%{http_code}", "--cacert", CA,
                          "-X", "POST", "--data-binary", data, *args, *extra,
                          f"https://localhost:{P443}/topics/{topic}?qos=1"],
                         capture_output=True, text=True, timeout=20)
    body, _, code = out.stdout.rpartition("\n")
    return int(code or 0), body


def sigv4_args(ak, service="iotdata", region="us-east-1", secret=None):
    return ["--aws-sigv4", f"aws:amz:{region}:{service}", "--user", f"{ak}:{secret or CRED[ak]['secret_access_key']}"]


class Watch:
    """An X.509 subscriber on 8883 that collects messages of one topic."""
    def __init__(self, topic):
        self.got, self.cond = [], threading.Condition()
        self.c = mqtt.Client(client_id=f"watch-{topic.replace('/', '-')}")
        self.c.tls_set(ca_certs=CA, certfile=f"{PKI}/device-01.crt", keyfile=f"{PKI}/device-01.key")
        ready = threading.Event()
        self.c.on_connect = lambda c, u, f, rc: c.subscribe(topic, 1)
        self.c.on_subscribe = lambda *a: ready.set()
        self.c.on_message = self._msg
        self.c.connect("localhost", P8883, 1200)
        self.c.loop_start()
        ready.wait(5)

    def _msg(self, c, u, m):
        with self.cond:
            self.got.append(m.payload.decode()); self.cond.notify_all()

    def wait(self, payload, t=5):
        with self.cond:
            return self.cond.wait_for(lambda: payload in self.got, t)

    def stop(self):
        self.c.loop_stop(); self.c.disconnect()


def presign(host, ak, secret, token=None, service="iotdevicegateway", region="us-east-1", when=None, expires=86400):
    t = when or datetime.datetime.utcnow()
    amz, day = t.strftime("%Y%m%dT%H%M%SZ"), t.strftime("%Y%m%d")
    scope = f"{day}/{region}/{service}/aws4_request"
    q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{ak}/{scope}", "X-Amz-Date": amz,
         "X-Amz-Expires": str(expires), "X-Amz-SignedHeaders": "host"}
    cq = "&".join(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}" for k, v in sorted(q.items()))
    creq = "\n".join(["GET", "/mqtt", cq, f"host:{host}", "", "host", hashlib.sha256(b"").hexdigest()])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    path = f"/mqtt?{cq}&X-Amz-Signature={sig}"
    if token:  # AWS IoT: appended after signing, not part of the canonical query
        path += "&X-Amz-Security-Token=" + urllib.parse.quote(token, safe="")
    return path


def wss(path, headers=None, client_id="wss-dev", username=None):
    """paho over WebSocket on 443 (no ALPN, no client certificate). Returns (rc, client)."""
    res, done = {}, threading.Event()
    c = mqtt.Client(client_id=client_id, transport="websockets")
    c.ws_set_options(path=path, headers=headers)
    c.tls_set(ca_certs=CA)
    if username:
        c.username_pw_set(username)
    c.on_connect = lambda cl, u, f, rc: (res.setdefault("rc", rc), done.set())
    c.on_disconnect = lambda cl, u, rc: (res.setdefault("rc", "disconnected"), done.set())
    try:
        c.connect("localhost", P443, 1200)
    except Exception as e:  # the upgrade itself was refused
        return f"refused: {e}", None
    c.loop_start()
    done.wait(8)
    return res.get("rc", "timeout"), c


def signed_token(token):
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", f"{PKI}/authorizer-signing.key"],
                         input=token.encode(), capture_output=True, check=True).stdout
    return base64.b64encode(sig).decode()


try:
    # ---- SigV4 HTTPS publish, signed by curl (an independent SigV4 implementation)
    w = Watch("door/sigv4")
    code, body = curl(sigv4_args(AK1), "door/sigv4", "signed-by-curl")
    check("SigV4 HTTPS publish (curl --aws-sigv4, service iotdata): 200", code == 200 and '"message":"OK"' in body, (code, body))
    check("... delivered to an MQTT subscriber", w.wait("signed-by-curl"))
    code, _ = curl(sigv4_args(AK1, service="iotdevicegateway"), "door/sigv4", "gw")
    check("SigV4 HTTPS with service iotdevicegateway also accepted", code == 200, code)
    code, body = curl(sigv4_args(AK1, secret="wrong-secret"), "door/sigv4")
    check("SigV4 wrong secret: 403 signature mismatch", code == 403 and "signature" in body, (code, body))
    code, body = curl(sigv4_args(AK1, service="s3"), "door/sigv4")
    check("SigV4 wrong service: 403", code == 403 and "service" in body, (code, body))
    code, body = curl(sigv4_args(AK1, region="eu-west-1"), "door/sigv4")
    check("SigV4 wrong region: 403", code == 403 and "region" in body, (code, body))
    code, body = curl(sigv4_args("AKIDUNKNOWN0000000", secret="whatever"), "door/sigv4")
    check("SigV4 unknown access key: 403", code == 403, (code, body))
    code, body = curl(sigv4_args(AK2), "door/sigv4")
    check("SigV4 temporary credentials without the token: 403", code == 403 and "token" in body.lower(), (code, body))
    code, body = curl(sigv4_args(AK2), "door/sigv4", "with-token", ["-H", f"x-amz-security-token: {CRED[AK2]['session_token']}"])
    check("SigV4 temporary credentials with their token: 200", code == 200, (code, body))
    code, body = curl(sigv4_args(AK3), "door/sigv4")
    check("SigV4 principal whose policy has no iot:Publish: 403", code == 403 and "authorized" in body, (code, body))
    code, body = curl([], "door/sigv4")
    check("no credentials at all on the door: 403", code == 403, (code, body))
    w.stop()

    # ---- MQTT over WSS with a presigned URL (paho websockets)
    host = f"localhost:{P443}"
    rc, c = wss(presign(host, AK1, CRED[AK1]["secret_access_key"]), client_id="wss-sigv4")
    check("WSS with a presigned SigV4 URL: CONNACK 0", rc == 0, rc)
    if c:
        got = threading.Event()
        c.on_message = lambda *a: got.set()
        c.subscribe("door/wss", 1); time.sleep(0.3); c.publish("door/wss", "over-websocket", 1)
        check("WSS round trip (publish and receive over WebSocket)", got.wait(5))
        # the SigV4 WebSocket limit (200 s x 0.01 = 2 s) closes it
        t0 = time.time()
        gone = threading.Event(); c.on_disconnect = lambda *a: gone.set()
        check("SigV4 WSS closed at the connection-duration limit", gone.wait(6) and 1.0 < time.time() - t0 + 0.3, time.time() - t0)
        check("... with lifecycle reason WEBSOCKET_TTL_EXPIRATION",
              srv.events(lambda e: e.get("event") == "mqtt.disconnect" and e.get("reason") == "WEBSOCKET_TTL_EXPIRATION"))
        c.loop_stop()
    # iot:Receive end to end on a door row: AK3 (read-only.json) may subscribe to recv/+ but
    # is denied iot:Receive on recv/secret; an X.509 device publishes the denied one first.
    rc, c = wss(presign(host, AK3, CRED[AK3]["secret_access_key"]), client_id="wss-recv")
    check("WSS read-only principal: CONNACK 0", rc == 0, rc)
    if c:
        got, cond, subscribed = [], threading.Condition(), threading.Event()
        def on_msg(cl, u, m):
            with cond:
                got.append((m.topic, m.payload)); cond.notify_all()
        c.on_message = on_msg
        c.on_subscribe = lambda *a: subscribed.set()
        c.subscribe("recv/+", 1)
        check("WSS read-only principal: subscribe to recv/+ granted", subscribed.wait(2))
        pub = Conn(P8883, "device-01")
        pub.send(iotclib.connect(b"door-recv-pub", keepalive=30)); pub.read_packet()
        pub.send(iotclib.publish(b"recv/secret", b"door-secret", qos=1)); pub.read_packet()
        pub.send(iotclib.publish(b"recv/open", b"door-open", qos=1, pid=2)); pub.read_packet()
        with cond:
            cond.wait_for(lambda: ("recv/open", b"door-open") in got, 1.0)
        time.sleep(0.3)  # the denied one went first: anything it could be is here by now
        check("WSS: iot:Receive allowed (recv/open) delivered", ("recv/open", b"door-open") in got, got)
        check("WSS: iot:Receive denied (recv/secret) never delivered",
              all(t != "recv/secret" for t, _ in got), got)
        check("WSS: the denial journaled as policy.deny iot:Receive",
              srv.events(lambda e: e.get("event") == "policy.deny" and e.get("action") == "iot:Receive"
                         and "recv/secret" in json.dumps(e)))
        pub.send(b"\xe0\x00")
        c.loop_stop(); c.disconnect()
    rc, c = wss(presign(host, AK1, "wrong-secret"), client_id="wss-bad")
    check("WSS presigned URL with a wrong signature: refused", rc != 0, rc)
    old = datetime.datetime.utcnow() - datetime.timedelta(hours=2)
    rc, c = wss(presign(host, AK1, CRED[AK1]["secret_access_key"], when=old, expires=60), client_id="wss-old")
    check("WSS presigned URL replayed after expiry: refused", rc != 0, rc)
    rc, c = wss(presign(host, AK1, CRED[AK1]["secret_access_key"], service="iotdata"), client_id="wss-svc")
    check("WSS presigned with service iotdata (only iotdevicegateway on WSS): refused", rc != 0, rc)
    rc, c = wss(presign(host, AK2, CRED[AK2]["secret_access_key"], token=CRED[AK2]["session_token"]), client_id="wss-sts")
    check("WSS temporary credentials, token appended after signing: CONNACK 0", rc == 0, rc)
    if c: c.loop_stop(); c.disconnect()
    rc, c = wss(presign(host, AK2, CRED[AK2]["secret_access_key"]), client_id="wss-sts2")
    check("WSS temporary credentials without the token: refused", rc != 0, rc)

    # ---- custom authorizer on WSS (headers) and HTTPS
    rc, c = wss("/mqtt", {"x-amz-customauthorizer-name": "unsigned-authorizer", "token": "token-alpha"}, "wss-custom")
    check("WSS custom authorizer (headers): CONNACK 0", rc == 0, rc)
    check("WSS custom auth ran the authorizer (never a cached HTTP answer)",
          not srv.events(lambda e: e.get("event") == "auth" and e.get("reason") == "cached authorizer answer", 0.2))
    if c:
        t0 = time.time(); gone = threading.Event(); c.on_disconnect = lambda *a: gone.set()
        check("custom auth closed at disconnectAfterInSeconds (300 s x 0.01)", gone.wait(8), time.time() - t0)
        check("... with lifecycle reason CUSTOMAUTH_TTL_EXPIRATION",
              srv.events(lambda e: e.get("event") == "mqtt.disconnect" and e.get("reason") == "CUSTOMAUTH_TTL_EXPIRATION"))
        c.loop_stop()
    # shell-authorizer answers refresh 300 s / disconnect 3600 s: 3 s and 36 s at this time scale
    rc, c = wss("/mqtt", {"x-amz-customauthorizer-name": "shell-authorizer", "token": "token-shell"}, "wss-refresh")
    check("WSS with the shell authorizer: CONNACK 0", rc == 0, rc)
    check("refreshAfterInSeconds re-runs the authorizer on the live connection",
          srv.events(lambda e: e.get("event") == "auth.refresh", 6))
    check("... which stays connected after an allowing refresh", c is not None and c.is_connected(), rc)
    if c: c.loop_stop(); c.disconnect()
    rc, c = wss("/mqtt", {"x-amz-customauthorizer-name": "unsigned-authorizer", "token": "token-wrong"}, "wss-custom2")
    check("WSS custom authorizer with an unknown token: refused", rc != 0, rc)
    code, body = curl(["-H", "x-amz-customauthorizer-name: unsigned-authorizer", "-H", "token: token-beta"], "door/custom")
    check("HTTPS custom authorizer: 200", code == 200, (code, body))
    code, body = curl(["-H", "x-amz-customauthorizer-name: unsigned-authorizer", "-H", "token: token-beta"], "door/custom")
    check("enable_caching_for_http: the second HTTPS request uses the cached answer", code == 200 and
          srv.events(lambda e: e.get("event") == "auth" and e.get("reason") == "cached authorizer answer"), code)
    code, body = curl(["-H", "x-amz-customauthorizer-name: shell-authorizer", "-H", "token: token-shell"], "door/custom")
    code, body = curl(["-H", "x-amz-customauthorizer-name: shell-authorizer", "-H", "token: token-shell"], "door/custom")
    cached = srv.events(lambda e: e.get("event") == "auth" and e.get("reason") == "cached authorizer answer"
                        and e.get("principal") == "shelluser", 0.2)
    check("twin: an authorizer without enable_caching_for_http runs for every HTTPS request", code == 200 and not cached, code)
    for name, what in [("deny-authorizer", "denies"), ("crash-authorizer", "crashes"),
                       ("slow-authorizer", "times out"), ("badjson-authorizer", "returns invalid JSON"),
                       ("inactive-authorizer", "is INACTIVE"), ("no-such-authorizer", "does not exist")]:
        code, body = curl(["-H", f"x-amz-customauthorizer-name: {name}", "-H", "token: token-alpha"], "door/custom")
        check(f"HTTPS custom authorizer that {what}: 403", code == 403, (code, body))
    # signed tokens (the default authorizer requires a signature)
    sig = signed_token("token-alpha")
    code, body = curl(["-H", "token: token-alpha", "-H", f"x-amz-customauthorizer-signature: {sig}"], "door/custom")
    check("default authorizer with a valid token signature: 200", code == 200, (code, body))
    bad = signed_token("token-beta")
    code, body = curl(["-H", "token: token-alpha", "-H", f"x-amz-customauthorizer-signature: {bad}"], "door/custom")
    check("bad token signature: 403 without running the authorizer", code == 403, (code, body))
    code, body = curl(["-H", "token: token-alpha"], "door/custom")
    check("missing token signature on a signing authorizer: 403", code == 403, (code, body))

    # ---- MQTT with ALPN "mqtt" and custom auth in the username (mosquitto_pub)
    def mpub(user, alpn="mqtt", extra=()):
        return subprocess.run(["mosquitto_pub", "-h", "localhost", "-p", str(P443), "--cafile", CA, "--tls-alpn", alpn,
                               "-u", user, "-t", "door/mqtt-custom", "-m", "m", "-q", "1", "-i", "mq-custom", *extra],
                              capture_output=True, text=True, timeout=20)
    r = mpub("dev?x-amz-customauthorizer-name=unsigned-authorizer&token=token-alpha")
    check("MQTT (ALPN mqtt) custom auth via username: publish succeeds", r.returncode == 0, r.stderr)
    r = mpub("dev?x-amz-customauthorizer-name=deny-authorizer&token=token-alpha")
    check("MQTT custom auth denied: connection refused", r.returncode != 0, r.stderr)
    sig = urllib.parse.quote(signed_token("token-alpha"), safe="")
    r = mpub(f"dev?x-amz-customauthorizer-signature={sig}&token=token-alpha")
    check("MQTT custom auth, default authorizer, signed token: publish succeeds", r.returncode == 0, r.stderr)
    r = mpub("dev?x-amz-customauthorizer-name=unsigned-authorizer&token=token-alpha", alpn="x-amzn-mqtt-ca")
    check("custom auth on 443 with ALPN x-amzn-mqtt-ca (no certificate): refused", r.returncode != 0, r.stderr)

    # a 3.1.1 packet while the authorizer runs ("nothing before CONNACK") closes without
    # a CONNACK (a CONNACK 0, i.e. accepted, came first before the fix); twin: CONNECT
    # alone gets CONNACK 0
    def raw_custom(extra):
        ctx = ssl.create_default_context(cafile=CA)
        ctx.set_alpn_protocols(["mqtt"])
        c = Conn.__new__(Conn)
        c.port = P443
        c.s = ctx.wrap_socket(socket.create_connection(("localhost", P443)), server_hostname="localhost")
        c.s.settimeout(5); c.buf = b""
        user = b"dev?x-amz-customauthorizer-name=unsigned-authorizer&token=token-alpha"
        body = iotclib.s16(b"MQTT") + bytes([4, 0x82]) + struct.pack(">H", 60) + \
            iotclib.s16(b"raw-custom") + iotclib.s16(user)
        c.send(iotclib.pkt(0x10, body) + extra)
        return c.read_packet()
    p = raw_custom(b"")
    check("custom auth, MQTT 3.1.1 CONNECT: CONNACK 0", p is not None and p[0] == 2 and p[2][1] == 0, p)
    p = raw_custom(b"\xc0\x00")
    check("custom auth, MQTT 3.1.1 packet while the authorizer runs: closed, no CONNACK", p is None, p)
    r = subprocess.run(["curl", "-sS", "--cacert", CA, "-H", "x-amz-customauthorizer-name: unsigned-authorizer",
                        "-H", "token: token-alpha", "-X", "POST", "-d", "x", f"https://localhost:{P8443}/topics/t?qos=0"],
                       capture_output=True, text=True, timeout=20)
    check("custom auth on 8443 (no certificate): refused in the TLS handshake", r.returncode != 0, r.stderr)
    code, body = curl(["-H", "x-amz-customauthorizer-name: shell-authorizer", "-H", "token: token-shell"], "door/custom")
    check("plain-shell authorizer allows its token: 200", code == 200, (code, body))
    code, body = curl(["-H", "x-amz-customauthorizer-name: shell-authorizer", "-H", "token: token-alpha"], "door/custom")
    check("plain-shell authorizer refuses another token: 403", code == 403, (code, body))
finally:
    rc = srv.stop()
check("serve exited cleanly", rc == 0, rc)

# ---- an authorizer reached by HTTP URL: a local HTTP server answers the event
import http.server, tempfile
seen = []


class Authorizer(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        event = json.loads(self.rfile.read(int(self.headers["content-length"])))
        seen.append(event)
        ok = event.get("token") == "token-url"
        body = json.dumps({"isAuthenticated": True, "principalId": "urluser",
                           "policyDocuments": [json.dumps({"Version": "2012-10-17", "Statement": [
                               {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]})],
                           "disconnectAfterInSeconds": 3600, "refreshAfterInSeconds": 300}
                          if ok else {"isAuthenticated": False}).encode()
        self.send_response(200); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)

    def log_message(self, *a):
        pass


httpd = http.server.HTTPServer(("127.0.0.1", 0), Authorizer)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
tmp = tempfile.mkdtemp(prefix="iotc-door-url-")


def point_at_server(reg):
    for a in reg["authorizers"]:
        if a["name"] == "url-authorizer":
            a["url"] = f"http://127.0.0.1:{httpd.server_port}/authorize"


srv = Serve(BIN, PKI, prefix="iotc-door2-", registry=iotclib.registry_copy(tmp, point_at_server))
P443 = srv.ports["443"]
try:
    code, body = curl(["-H", "x-amz-customauthorizer-name: url-authorizer", "-H", "token: token-url"], "door/url")
    check("HTTP URL authorizer allows its token: 200", code == 200, (code, body))
    check("... it received the AWS authorizer event (token, protocols, protocolData.http)",
          seen and seen[0].get("token") == "token-url" and "http" in seen[0].get("protocols", [])
          and "headers" in seen[0].get("protocolData", {}).get("http", {}), seen[:1])
    code, body = curl(["-H", "x-amz-customauthorizer-name: url-authorizer", "-H", "token: token-other"], "door/url")
    check("HTTP URL authorizer refuses another token: 403", code == 403, (code, body))
    httpd.shutdown(); httpd.server_close()
    code, body = curl(["-H", "x-amz-customauthorizer-name: url-authorizer", "-H", "token: token-x"], "door/url")
    check("HTTP URL authorizer unreachable: 403 with the reason", code == 403 and "failed" in body, (code, body))
finally:
    rc = srv.stop()
check("second serve exited cleanly", rc == 0, rc)
iotclib.finish()
