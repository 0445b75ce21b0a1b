"""Attack kinds for issue 10's policy holes 2-6: HTTPS to reserved topics (curl and a raw
ALPN client), empty client IDs, '$' topics, retained messages and wildcards, and the
MQTT 5 features a CONNACK advertises (topic aliases with paho-mqtt, raw bytes for the
byte-exact refusals)."""
import socket, ssl, struct, subprocess, threading, time, urllib.parse


def _observer(ctx, watch, cid=b"holes-observer", v=4):
    obs = ctx.mqtt()
    # a fresh client ID per row: only the device under test reconnects at AWS's pace
    obs.send(iotclib.connect(cid + b"-" + str(time.monotonic_ns()).encode(), v=v, keepalive=30))
    assert iotclib.connack_code(obs.read_packet()) == 0, "observer refused"
    obs.send(iotclib.subscribe([watch.encode()], pid=1, qos=1, v=v))
    codes = iotclib.suback_codes(obs.read_packet(), v)
    assert codes and codes[0] < 0x80, f"observer SUBACK {codes}"
    return obs


def _delivered(obs, timeout=1.5, want=None):
    """Whether a PUBLISH reaches obs within timeout (want: its payload must contain it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        q = obs.read_packet(max(0.05, deadline - time.monotonic()))
        if q is None:
            return False
        if q[0] == 3:
            if (q[1] >> 1) & 3:  # ack QoS 1 so nothing is redelivered later
                tl = int.from_bytes(q[2][:2], "big")
                obs.send(bytes([0x40, 2]) + q[2][2 + tl:4 + tl])
            if want is None or want.encode() in q[2]:
                return True
    return False


@attack("https_publish")
def https_publish(ctx, p):
    """An HTTPS publish to `topic` on `door`: "8443" (curl, device certificate), "443-alpn"
    (ALPN x-amzn-http-ca with a device certificate, raw HTTP/1.1) or "443-custom" (curl,
    custom authorizer headers); an observer subscribed to `topic` says if it was delivered."""
    topic, payload = p["topic"], p.get("payload", "holes-https")
    obs = _observer(ctx, p.get("watch", topic))
    path = "/topics/" + urllib.parse.quote(topic, safe="") + "?qos=1"
    door = p["door"]
    ca, crt, key = (f"{ctx.pki}/ca-bundle.crt", f"{ctx.pki}/{p.get('cert', 'device-02')}.crt",
                    f"{ctx.pki}/{p.get('cert', 'device-02')}.key")
    if door == "443-alpn":
        c = ssl.create_default_context(cafile=ca)
        c.load_cert_chain(crt, key)
        c.set_alpn_protocols(["x-amzn-http-ca"])
        s = c.wrap_socket(socket.create_connection(("localhost", ctx.port(443)), timeout=5),
                          server_hostname="localhost")
        body = payload.encode()
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n"
                  f"Connection: close\r\n\r\n".encode() + body)
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        s.close()
        status = int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/") else 0
    else:
        port = ctx.port(8443 if door == "8443" else 443)
        auth = (["--cert", crt, "--key", key] if door == "8443" else
                ["-H", "x-amz-customauthorizer-name: unsigned-authorizer", "-H", "token: token-beta"])
        r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, *auth,
                            "-X", "POST", "--data-binary", payload, f"https://localhost:{port}{path}"],
                           capture_output=True, text=True, timeout=20)
        status = int(r.stdout or 0)
    return {"status": status, "delivered": _delivered(obs, want=payload)}


@attack("empty_client_id")
def empty_client_id(ctx, p):
    """CONNECT with an empty client ID (`version`, `clean`) with certificate `cert`; observe
    the CONNACK code ("none" when closed without one) and the assigned ID's shape."""
    v, clean = p.get("version", 4), p.get("clean", True)
    c = ctx.mqtt(cert=p.get("cert", "device-01"))
    cid = p.get("client_id", "").encode()
    if v == 5:
        props = b"\x11" + struct.pack(">I", 0 if clean else 3600)
        body = (iotclib.s16(b"MQTT") + bytes([5, 0x02 if clean else 0]) + struct.pack(">H", 30) +
                iotclib.varint(len(props)) + props + iotclib.s16(cid))
        c.send(iotclib.pkt(0x10, body))
    else:
        c.send(iotclib.connect(cid, v=4, keepalive=30, clean=clean))
    pk = c.read_packet(3)
    out = {"connack": iotclib.connack_code(pk) if pk else "none"}
    if pk and v == 5 and pk[0] == 2:
        aid = iotclib.v5_props(pk[2], 2).get(0x12)
        out["assigned_id"] = "uuid" if aid and len(aid) == len("iotconform-") + 36 else repr(aid)
    if out["connack"] == 0:
        c.send(b"\xe0\x00")
    return out


@attack("mqtt_subscribe")
def mqtt_subscribe(ctx, p):
    """SUBSCRIBE `filter` (`version`, optional `sub_id` property); observe the SUBACK codes
    or how the connection ended ("closed" / "disconnect 0x..")."""
    v = p.get("version", 4)
    c = ctx.mqtt()
    cid = p.get("client_id", f"holes-sub-{time.monotonic_ns()}")  # the filter is the subject
    c.send(iotclib.connect(cid.encode(), v=v, keepalive=30))
    assert iotclib.connack_code(c.read_packet()) == 0
    props = b""
    if "sub_id" in p:
        props = b"\x0b" + iotclib.varint(p["sub_id"])
    body = struct.pack(">H", 1) + (iotclib.varint(len(props)) + props if v == 5 else b"")
    body += iotclib.s16(p["filter"].encode()) + b"\x01"
    c.send(iotclib.pkt(0x82, body))
    q = c.read_packet(3)
    if q is None:
        return {"answer": "closed"}
    if q[0] == 14:
        return {"answer": f"disconnect 0x{q[2][0]:02x}" if q[2] else "disconnect"}
    if q[0] == 9:
        codes = iotclib.suback_codes(q, v)
        return {"answer": "suback", "granted": bool(codes) and codes[0] < 0x80}
    return {"answer": f"packet {q[0]}"}


@attack("retained_wildcard")
def retained_wildcard(ctx, p):
    """A retained message on `topic`; a subscriber then subscribes to each filter of
    `filters` in turn (one SUBSCRIBE each) and records which of them brought the retained
    message. With `resume`, the last SUBSCRIBE is sent on a persistent session whose
    connection drops at once, and the retained message is looked for after the resume."""
    topic, tag = p["topic"], f"retained-{time.monotonic_ns()}"
    pub = ctx.mqtt(cert="device-02")
    pub.send(iotclib.connect(f"holes-retainer-{time.monotonic_ns()}".encode(), keepalive=30))
    pub.read_packet()
    m = iotclib.publish(topic.encode(), tag.encode(), qos=1, pid=5)
    pub.send(bytes([m[0] | 1]) + m[1:])
    pub.read_packet()
    cid = f"holes-ret-{time.monotonic_ns() % 10**9}".encode()
    sub = ctx.mqtt()
    sub.send(iotclib.connect(cid, keepalive=30, clean=not p.get("resume")))
    sub.read_packet()
    got = []
    filters = p["filters"]
    for i, f in enumerate(filters):
        pkt = iotclib.subscribe([f.encode()], pid=10 + i, qos=1)
        if p.get("resume") and i == len(filters) - 1:
            sub.s.sendall(pkt)  # and drop at once: the broker's answer finds no device
            sub.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sub.s.close()
            time.sleep(0.5)
            sub = ctx.mqtt()
            sub.send(iotclib.connect(cid, keepalive=30, clean=False))
            ca = sub.read_packet()
            got.append(_delivered(sub, 1.5, tag))
            sub.send(iotclib.connect(cid, keepalive=30, clean=True)[:0] + b"\xe0\x00")
            break
        sub.send(pkt)
        sub.read_packet()  # SUBACK
        got.append(_delivered(sub, 1.0, tag))
    # clear the retained message so later rows start clean
    m = iotclib.publish(topic.encode(), b"", qos=1, pid=6)
    pub.send(bytes([m[0] | 1]) + m[1:])
    pub.read_packet()
    if p.get("resume"):  # end the persistent session
        z = ctx.mqtt()
        z.send(iotclib.connect(cid, keepalive=30, clean=True))
        z.read_packet()
        z.send(b"\xe0\x00")
    return {"retained_delivered": got}


@attack("topic_alias")
def topic_alias(ctx, p):
    """paho-mqtt (MQTT 5) publishes `topic` with Topic Alias `alias` set, then `then_alias`
    alone (empty topic), or raw bytes for alias values paho will not send (`raw_alias`).
    Observe the CONNACK's Topic Alias Maximum, what was delivered to an observer of
    `watch`, and how the publisher's connection ended."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.properties import Properties
    from paho.mqtt.packettypes import PacketTypes
    watch = p.get("watch", p["topic"])
    obs = _observer(ctx, watch, cid=b"holes-alias-observer")
    out = {}
    if "raw_alias" in p:
        c = ctx.mqtt()
        c.send(iotclib.pkt(0x10, iotclib.s16(b"MQTT") + bytes([5, 2]) + struct.pack(">H", 30) + b"\x00" +
                           iotclib.s16(f"holes-alias-raw-{time.monotonic_ns()}".encode())))
        ca = c.read_packet()
        out["topic_alias_maximum"] = iotclib.v5_props(ca[2], 2).get(0x22, 0)
        props = b"\x23" + struct.pack(">H", p["raw_alias"])
        body = iotclib.s16(p["topic"].encode()) + struct.pack(">H", 3) + iotclib.varint(len(props)) + props + b"raw"
        c.send(iotclib.pkt(0x32, body))
        q = c.read_packet(3)
        out["answer"] = ("closed" if q is None else f"disconnect 0x{q[2][0]:02x}" if q[0] == 14 else
                         "puback" if q[0] == 4 and (len(q[2]) < 3 or q[2][2] < 0x80) else f"packet {q[0]}")
        out["delivered"] = _delivered(obs, 1.0)
        return out
    cl = mqtt.Client(client_id=f"holes-alias-paho-{time.monotonic_ns()}", protocol=mqtt.MQTTv5)
    cert = p.get("cert", "device-02")
    cl.tls_set(ca_certs=f"{ctx.pki}/ca-bundle.crt", certfile=f"{ctx.pki}/{cert}.crt",
               keyfile=f"{ctx.pki}/{cert}.key")
    ev = {"connack": threading.Event(), "gone": threading.Event()}
    def on_connect(c, u, f, rc, props=None):
        out["connack"] = rc.value if hasattr(rc, "value") else rc
        out["topic_alias_maximum"] = getattr(props, "TopicAliasMaximum", 0) if props else 0
        ev["connack"].set()
    def on_disconnect(c, u, rc, props=None):
        out["disconnect"] = rc.value if hasattr(rc, "value") else rc
        ev["gone"].set()
    cl.on_connect, cl.on_disconnect = on_connect, on_disconnect
    cl.connect("localhost", ctx.port(8883), 30)
    cl.loop_start()
    ev["connack"].wait(5)
    delivered = []
    for step, (t, payload) in enumerate([(p["topic"], "first"), ("", "second")]):
        pr = Properties(PacketTypes.PUBLISH)
        pr.TopicAlias = p["alias"] if step == 0 else p.get("then_alias", p["alias"])
        info = cl.publish(t, f"{payload}-{step}", qos=1, properties=pr)
        try:
            info.wait_for_publish(3)
        except Exception:
            pass
        delivered.append(_delivered(obs, 1.0, f"{payload}-{step}"))
        if ev["gone"].is_set():
            break
    out["delivered"] = delivered
    out["connected_after"] = not ev["gone"].is_set()
    if not out["connected_after"]:  # paho does not surface the DISCONNECT reason: the journal does
        hits = ctx.events(lambda e: e.get("event") == "mqtt.refused" and e.get("rule") == "topic-alias", 2)
        out["refused_reason"] = hits[-1].get("mqtt5_reason") if hits else None
    cl.disconnect()
    cl.loop_stop()
    return out
