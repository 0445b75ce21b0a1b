"""Attack kinds for issue 10's fidelity fixes found with AWS's own SDKs: the WebSocket
subprotocols AWS accepts (raw handshakes on 443 with a custom authorizer), the `#`
wildcard not matching its parent level, and the AWS error shape of HTTPS refusals."""
import base64, json, os, socket, ssl, subprocess, time, urllib.parse


def _wss_socket(ctx):
    c = ssl.create_default_context(cafile=f"{ctx.pki}/ca-bundle.crt")
    return c.wrap_socket(socket.create_connection(("localhost", ctx.port(443)), timeout=5),
                         server_hostname="localhost")


def _ws_frame(payload):
    """One masked binary frame (a client must mask, RFC 6455 5.3)."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x82]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _ws_read_frame(s, buf):
    """(payload, rest) of the next server frame, or (None, buf) when closed."""
    while True:
        if len(buf) >= 2:
            n, off = buf[1] & 0x7F, 2
            if n == 126 and len(buf) >= 4:
                n, off = int.from_bytes(buf[2:4], "big"), 4
            if n < 126 or off == 4:
                if len(buf) >= off + n:
                    return buf[off:off + n], buf[off + n:]
        chunk = s.recv(4096)
        if not chunk:
            return None, buf
        buf += chunk


@attack("wss_subprotocol")
def wss_subprotocol(ctx, p):
    """A WebSocket upgrade on 443 (custom authorizer headers) offering `protocols` (a list
    of Sec-WebSocket-Protocol header values; empty: the header is left out). Observes the
    HTTP status, the subprotocol the answer names, and, after a 101, the CONNACK code of an
    MQTT CONNECT sent over it."""
    s = _wss_socket(ctx)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET /mqtt HTTP/1.1", "Host: localhost", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
             "x-amz-customauthorizer-name: unsigned-authorizer", "token: token-beta"]
    lines += [f"Sec-WebSocket-Protocol: {v}" for v in p.get("protocols", [])]
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    head, _, rest = got.partition(b"\r\n\r\n")
    hl = head.decode(errors="replace").split("\r\n")
    status = int(hl[0].split(" ", 2)[1]) if hl and hl[0].startswith("HTTP/") else 0
    hdrs = [l.split(":", 1) for l in hl[1:] if ":" in l]
    protos = [v.strip() for k, v in hdrs if k.strip().lower() == "sec-websocket-protocol"]
    out = {"status": status, "protocol": protos[0] if len(protos) == 1 else (protos or None)}
    if status == 101:
        s.sendall(_ws_frame(iotclib.connect(p.get("client_id", "fidelity-wss").encode(), keepalive=30)))
        pkt, _ = _ws_read_frame(s, rest)
        out["connack"] = pkt[3] if pkt and len(pkt) >= 4 and pkt[0] == 0x20 else None
    s.close()
    return out


@attack("https_error_shape")
def https_error_shape(ctx, p):
    """`repeat` times (default 1) the request below; `status` is the one status every run
    saw, or the list of them when they differ (a reset shows as 0)."""
    runs = [_https_error_shape_once(ctx, p) for _ in range(p.get("repeat", 1))]
    out = runs[-1]
    statuses = [r["status"] for r in runs]
    out["status"] = statuses[0] if len(set(statuses)) == 1 else statuses
    return out


def _https_error_shape_once(ctx, p):
    """An HTTPS publish on 8443 (curl, device certificate `cert`) to `topic` with a payload of
    `payload_bytes` (or `payload`), `query` appended. Observes the status, the AWS headers
    SDKs read (x-amzn-ErrorType, x-amzn-RequestId), the body's keys and message, and whether
    the request id is the body's traceId. `expect_continue` lets curl send
    `Expect: 100-continue` (what SDKs do for large bodies): the endpoint answers from the
    headers before the body is sent. Without it a refused 300 KB body races the close."""
    import tempfile
    ca = f"{ctx.pki}/ca-bundle.crt"
    cert = p.get("cert", "device-02")
    path = "/topics/" + urllib.parse.quote(p["topic"], safe="") + p.get("query", "?qos=1")
    fd, body_file = tempfile.mkstemp(dir=ctx.tmp)
    with os.fdopen(fd, "wb") as f:
        f.write(b"x" * p["payload_bytes"] if "payload_bytes" in p else p.get("payload", "fidelity").encode())
    try:
        r = subprocess.run(["curl", "-sS", "-D", "-", "--cacert", ca, "--cert", f"{ctx.pki}/{cert}.crt",
                            "--key", f"{ctx.pki}/{cert}.key",
                            "-H", "Expect: 100-continue" if p.get("expect_continue") else "Expect:", "-X", "POST",
                            "--data-binary", "@" + body_file, f"https://localhost:{ctx.port(8443)}{path}"],
                           capture_output=True, timeout=20)
    finally:
        os.unlink(body_file)
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split(" ", 2)[1]) if lines and lines[0].startswith("HTTP/") else 0
    hdrs = {}
    for l in lines[1:]:
        if ":" in l:
            k, v = l.split(":", 1)
            hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    rid = hdrs.get("x-amzn-requestid", [None])
    et = hdrs.get("x-amzn-errortype", [None])
    return {"status": status,
            "error_type": et[0] if len(et) == 1 else et,
            "request_id": "one" if len(rid) == 1 and rid[0] and len(rid[0]) == 36 else rid,
            "request_id_is_trace_id": bool(doc) and isinstance(doc, dict) and doc.get("traceId") == rid[0],
            "body_keys": sorted(doc) if isinstance(doc, dict) else None,
            "message": doc.get("message") if isinstance(doc, dict) else None}


def _count_deliveries(c, topic, window=1.2):
    """PUBLISHes on `topic` reaching c within window (QoS 1 ones acknowledged)."""
    n, deadline = 0, time.monotonic() + window
    while time.monotonic() < deadline:
        q = c.read_packet(max(0.05, deadline - time.monotonic()))
        if q is None:
            break
        if q[0] == 3:
            tl = int.from_bytes(q[2][:2], "big")
            if (q[1] >> 1) & 3:
                c.send(bytes([0x40, 2]) + q[2][2 + tl:4 + tl])
            if q[2][2:2 + tl] == topic.encode():
                n += 1
    return n


def _sub_conn(ctx, cid, v, clean, filters):
    c = ctx.mqtt()
    c.send(iotclib.connect(cid, v=v, keepalive=30, clean=clean) if v == 4 else
           _connect_v5_expiry(cid, clean))
    ack = c.read_packet()
    assert iotclib.connack_code(ack) == 0, f"subscriber CONNACK {ack}"
    if filters:
        c.send(iotclib.subscribe([f.encode() for f in filters], pid=1, qos=1, v=v))
        codes = iotclib.suback_codes(c.read_packet(), v)
        assert codes and all(x < 0x80 for x in codes), f"SUBACK {codes}"
    return c


def _connect_v5_expiry(cid, clean):
    """MQTT 5 CONNECT; a persistent one (clean False) asks for a 300 s session expiry."""
    import struct
    props = b"" if clean else bytes([0x11]) + struct.pack(">I", 300)
    body = iotclib.s16(b"MQTT") + bytes([5, 0x02 if clean else 0]) + struct.pack(">H", 30)
    body += iotclib.varint(len(props)) + props + iotclib.s16(cid)
    return iotclib.pkt(0x10, body)


def _tamper_shared_files(ctx):
    """serve --workers keeps persistent sessions' subscription sets as files in
    RUN_DIR/workers.authz (handle_subscribe.c): overwrite every one with random bytes, as a
    broken disk or a stray writer would. Returns how many there were."""
    d = os.path.join(ctx.serve.tmp, "run", "workers.authz")
    names = os.listdir(d) if os.path.isdir(d) else []
    for n in names:
        with open(os.path.join(d, n), "wb") as f:
            f.write(os.urandom(200))
    return len(names)


@attack("hash_parent_level")
def hash_parent_level(ctx, p):
    """A subscriber (MQTT `version`) to `filters` on device-01; another connection publishes
    once to `topic` at QoS `qos`; observes how many copies the subscriber gets. With
    `resume`, the subscriber subscribes on a persistent session, disconnects, and receives
    on a resumed session without subscribing again; then `redelivered` counts what a third
    connection of the session still gets (a withheld QoS 1 copy must not pile up). With
    `tamper_shared` (serve --workers), the workers' shared files are overwritten with
    random bytes between the two connections; `tampered` says whether there were any."""
    v, topic = p.get("version", 4), p["topic"]
    cid = p.get("client_id", "fid-hash-sub").encode()
    resume = p.get("resume", False)
    out = {}
    if resume:
        c = _sub_conn(ctx, cid, v, False, p["filters"])
        c.send(bytes([0xE0, 0]))
        c.s.close()
        time.sleep(0.2)
        if p.get("tamper_shared"):
            out["tampered"] = _tamper_shared_files(ctx) > 0
        c = _sub_conn(ctx, cid, v, False, [])
    else:
        c = _sub_conn(ctx, cid, v, True, p["filters"])
    pub = ctx.mqtt()
    pub.send(iotclib.connect(cid + b"-pub", keepalive=30))
    assert iotclib.connack_code(pub.read_packet()) == 0, "publisher refused"
    pub.send(iotclib.publish(topic.encode(), b"fidelity-hash", qos=p.get("qos", 1), pid=7))
    if p.get("qos", 1):
        pub.read_packet()
    out["received"] = _count_deliveries(c, topic)
    c.send(bytes([0xE0, 0]))
    c.s.close()
    if resume:
        time.sleep(0.2)
        c = _sub_conn(ctx, cid, v, False, [])
        out["redelivered"] = _count_deliveries(c, topic, 0.8)
        c.send(bytes([0xE0, 0]))
        c.s.close()
        # leave no persistent session behind for the next row
        c = _sub_conn(ctx, cid, v, True, [])
        c.send(bytes([0xE0, 0]))
        c.s.close()
    pub.send(bytes([0xE0, 0]))
    pub.s.close()
    return out
