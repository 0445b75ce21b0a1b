"""Throttling kinds (issue 10 "Throttling"): bursts of publishes, CONNECTs of one client
ID close together, and HTTPS publishes above the quota. Each observes counts, so a row
states how many passed and how many the quota refused."""
import json, socket, ssl, time, urllib.parse, uuid


def _connect(ctx, cid, v, cert="device-01", pace=True):
    c = ctx.mqtt(cert=cert, pace=pace)
    c.send(iotclib.connect(cid.encode(), v=v, keepalive=30))
    p = c.read_packet(3)
    if p is None:
        return c, "none"
    return c, iotclib.connack_code(p) if p[0] == 2 else f"packet {p[0]}"


def _observer(ctx, topic):
    obs = ctx.mqtt()
    obs.send(iotclib.connect(f"throttle-observer-{uuid.uuid4().hex[:8]}".encode(), keepalive=30))
    obs.read_packet()
    obs.send(iotclib.subscribe([topic.encode()], pid=1, qos=0))
    obs.read_packet()
    return obs


def _count_deliveries(obs, window):
    n, deadline = 0, time.monotonic() + window
    while time.monotonic() < deadline:
        q = obs.read_packet(max(0.05, deadline - time.monotonic()))
        if q is None:
            break
        if q[0] == 3:
            n += 1
    return n


@attack("publish_burst")
def publish_burst(ctx, p):
    """`n` QoS `qos` publishes of `payload_bytes` each, sent back to back by one connection
    (MQTT `version`); observe how many were acknowledged, refused with PUBACK 0x97, left
    unanswered, delivered to an observer, whether the connection stayed up, and whether
    `acked` is within [`acked_min`, `acked_max`] (a refill during the burst may add one);
    waits `settle_s` first."""
    v, n, qos = p.get("version", 4), p["n"], p.get("qos", 1)
    time.sleep(p.get("settle_s", 0))  # let an account bucket an earlier row drained refill
    topic = p.get("topic", "throttle/burst")
    obs = _observer(ctx, topic)
    cid = p.get("client_id", "throttle-burst")
    watcher = None
    if p.get("watch_lifecycle"):  # the disconnected event AWS publishes, as a device sees it
        watcher = ctx.mqtt(cert="device-02")
        watcher.send(iotclib.connect(f"watch-{cid}".encode(), keepalive=30))
        watcher.read_packet(3)
        watcher.send(iotclib.subscribe([f"$aws/events/presence/disconnected/{cid}".encode()], pid=1, qos=0))
        watcher.read_packet(3)
    c, code = _connect(ctx, cid, v)
    out = {"connack": code}
    if code != 0:
        return out
    payload = b"x" * p.get("payload_bytes", 16)
    c.send(b"".join(iotclib.publish(topic.encode(), payload, qos=qos, v=v, pid=i + 1) for i in range(n)))
    acked = refused = 0
    closed, disconnect = False, None
    deadline = time.monotonic() + p.get("window_s", 1.5)
    while qos and acked + refused < n and time.monotonic() < deadline:
        q = c.read_packet(max(0.05, deadline - time.monotonic()))
        if q is None:
            closed = not _alive(c)
            break
        if q[0] == 4:
            if len(q[2]) >= 3 and q[2][2] == 0x97:
                refused += 1
            elif len(q[2]) < 3 or q[2][2] < 0x80:
                acked += 1
        elif q[0] == 14:
            closed, disconnect = True, q[2][0] if q[2] else 0
            break
    delivered = _count_deliveries(obs, 0.5)
    out.update({"acked": acked, "quota_exceeded": refused, "unanswered": n - acked - refused if qos else None,
                "delivered": delivered, "still_connected": not closed and _alive(c),
                "disconnect_reason": disconnect})
    if watcher:
        q = watcher.read_packet(1.0 if not out["still_connected"] else 0.3)
        reason = None
        if q and q[0] == 3:
            tl = int.from_bytes(q[2][:2], "big")
            try:
                reason = json.loads(q[2][2 + tl:]).get("disconnectReason")
            except ValueError:
                reason = "unparsable"
        out["lifecycle_reason"] = reason
    lo, hi = p.get("acked_min"), p.get("acked_max")
    if lo is not None:
        out["acked_in_range"] = lo <= (acked if qos else delivered) <= hi
    journal = ctx.events(lambda e: e.get("event") == "mqtt.throttled" and e.get("client_id") == cid,
                         timeout=0.3 if hi is None or hi >= n else 2)
    out["throttled_journaled"] = len(journal)
    if journal:
        out["limit"] = journal[-1].get("limit")
    return out


def _alive(c):
    """A PINGREQ answered means the connection is still up."""
    try:
        c.send(b"\xc0\x00")
    except OSError:
        return False
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        q = c.read_packet(0.5)
        if q is None:
            return False
        if q[0] == 13:
            return True
    return False


@attack("connect_twice")
def connect_twice(ctx, p):
    """Two CONNECTs with one client ID `gap_s` apart (the first disconnects cleanly in
    between); observe both CONNACKs ("none": closed without one) and the journal."""
    v, cid = p.get("version", 4), p.get("client_id", "throttle-twice")
    a, code_a = _connect(ctx, cid, v)
    if code_a == 0:
        a.send(b"\xe0\x00")
    t0 = time.monotonic()
    time.sleep(p["gap_s"])
    b, code_b = _connect(ctx, cid, v, pace=False)  # gap_s is the row's, not the device's pacing
    out = {"first": code_a, "second": code_b, "gap_ms": round((time.monotonic() - t0) * 1000)}
    ev = ctx.events(lambda e: e.get("event") == "mqtt.throttled" and e.get("client_id") == cid,
                    timeout=0.3 if code_b == 0 else 2)
    out["throttled_journaled"] = len(ev)
    if ev:
        out["limit"] = ev[-1].get("limit")
    return out


@attack("https_burst")
def https_burst(ctx, p):
    """`n` HTTPS publishes (8443, device certificate) on one keep-alive connection; observe
    the status of each (counts by status) and the error body of a 429."""
    c = ssl.create_default_context(cafile=f"{ctx.pki}/ca-bundle.crt")
    c.load_cert_chain(f"{ctx.pki}/device-02.crt", f"{ctx.pki}/device-02.key")
    s = c.wrap_socket(socket.create_connection(("localhost", ctx.port(8443)), timeout=5),
                      server_hostname="localhost")
    path = "/topics/" + urllib.parse.quote(p.get("topic", "throttle/https"), safe="") + "?qos=1"
    counts, body429, buf = {}, None, b""
    for i in range(p["n"]):
        body = b"hello"
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                  + body)
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        if b"\r\n\r\n" not in buf:
            counts["closed"] = counts.get("closed", 0) + 1
            break
        head, buf = buf.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        clen = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, val = line.partition(b":")
            if k.strip().lower() == b"content-length":
                clen = int(val)
        while len(buf) < clen:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        rbody, buf = buf[:clen], buf[clen:]
        counts[str(status)] = counts.get(str(status), 0) + 1
        if status == 429 and body429 is None:
            body429 = rbody.decode(errors="replace")
    s.close()
    return {"statuses": counts, "body_429_has_message": bool(body429 and "message" in body429)}


@attack("connect_many")
def connect_many(ctx, p):
    """`n` MQTT connects, each with its own client ID, opened at once (MQTT `version`);
    observe how many got CONNACK 0 and how many were refused (CONNACK 0x97 on MQTT 5,
    closed without one on 3.1.1), after waiting `settle_s`."""
    v, n, tag = p.get("version", 5), p["n"], uuid.uuid4().hex[:6]
    time.sleep(p.get("settle_s", 0))  # let the account's bucket refill after the canary's connect
    conns = [ctx.mqtt() for _ in range(n)]
    for i, c in enumerate(conns):
        c.send(iotclib.connect(f"thr-many-{tag}-{i}".encode(), v=v, keepalive=30))
    codes = {}
    for c in conns:
        q = c.read_packet(3)
        code = "none" if q is None else iotclib.connack_code(q)
        codes[str(code)] = codes.get(str(code), 0) + 1
    for c in conns:
        c.s.close()
    time.sleep(p.get("settle_s", 0))  # and refill before the next row's canary connects
    return {"connacks": codes}


def _connect_props(cid, v, props=b""):
    """CONNECT (clean start, keep-alive 30) with an MQTT 5 property block `props`."""
    body = iotclib.s16(b"MQTT") + bytes([v, 0x02]) + b"\x00\x1e"
    if v == 5:
        body += iotclib.varint(len(props)) + props
    return iotclib.pkt(0x10, body + iotclib.s16(cid.encode()))


@attack("inflight_burst")
def inflight_burst(ctx, p):
    """`n` QoS 1 publishes written at once by one connection (MQTT `version`): the front
    door reads them in one turn, before any PUBACK can come back, so all `n` are in flight
    together. Observe the CONNACK's Receive Maximum, how many were acknowledged (reason <
    0x80), the DISCONNECT reason if one came, how many reached an observer, and whether
    the journal says the in-flight quota held the input."""
    v, n, cid = p.get("version", 5), p["n"], p.get("client_id", "inflight-burst")
    topic = p.get("topic", "throttle/inflight/" + cid)
    obs = _observer(ctx, topic)
    c = ctx.mqtt()
    local_port = c.s.getsockname()[1]
    c.send(_connect_props(cid, v))
    ca = c.read_packet(3)
    out = {"connack": iotclib.connack_code(ca)}
    if out["connack"] != 0:
        return out
    if v == 5:
        out["receive_maximum"] = iotclib.v5_props(ca[2], 2).get(0x21, 65535)
    c.send(b"".join(iotclib.publish(topic.encode(), b"m%d" % i, qos=1, v=v, pid=i + 1)
                    for i in range(n)))
    acked, disconnect, closed = set(), None, False
    deadline = time.monotonic() + p.get("window_s", 3)
    while len(acked) < n and time.monotonic() < deadline:
        q = c.read_packet(max(0.05, deadline - time.monotonic()))
        if q is None:
            closed = True
            break
        if q[0] == 4 and (len(q[2]) < 3 or q[2][2] < 0x80):
            acked.add(q[2][0] << 8 | q[2][1])
        elif q[0] == 14:
            disconnect = q[2][0] if q[2] else 0
    out.update({"acked": len(acked), "disconnect_reason": disconnect,
                "delivered": _count_deliveries(obs, 0.5),
                "still_connected": not closed and disconnect is None and _alive(c)})
    ev = ctx.events(lambda e: e.get("event") == "mqtt.throttled" and e.get("client_id") == cid
                    and e.get("limit") == "inflight_qos1_max", timeout=0.3)
    out["inflight_journaled"] = len(ev) > 0
    ref = ctx.events(lambda e: e.get("event") == "mqtt.refused" and e.get("rule") == "receive-maximum"
                     and e.get("peer_port") == local_port, timeout=0.3 if disconnect is None else 2)
    out["receive_max_refused"] = len(ref) > 0
    return out


@attack("inflight_deliver")
def inflight_deliver(ctx, p):
    """A subscriber (MQTT `version`; MQTT 5 states Receive Maximum `receive_max` when
    given) that does not acknowledge; `n` QoS 1 messages are published to it. Observe how
    many it holds unacknowledged (`held`), then acknowledge them one round at a time and
    observe how many distinct messages arrive in all (`total`: none may be lost)."""
    v, n, cid = p.get("version", 4), p["n"], p.get("client_id", "inflight-sub")
    topic = "throttle/deliver/" + cid
    props = b""
    if v == 5 and p.get("receive_max"):
        props = b"\x21" + p["receive_max"].to_bytes(2, "big")
    sub = ctx.mqtt()
    sub.send(_connect_props(cid, v, props))
    out = {"connack": iotclib.connack_code(sub.read_packet(3))}
    if out["connack"] != 0:
        return out
    sub.send(iotclib.subscribe([topic.encode()], v=v, pid=1, qos=1))
    sub.read_packet(3)
    pub = ctx.mqtt()
    pub.send(iotclib.connect(f"{cid}-pub".encode(), keepalive=30))
    pub.read_packet(3)
    pub.send(b"".join(iotclib.publish(topic.encode(), b"d%d" % i, qos=1, pid=i + 1) for i in range(n)))

    def drain(window):
        got = []
        deadline = time.monotonic() + window
        while time.monotonic() < deadline:
            q = sub.read_packet(max(0.05, deadline - time.monotonic()))
            if q is None:
                break
            if q[0] == 3:
                tl = int.from_bytes(q[2][:2], "big")
                got.append((q[2][2 + tl:4 + tl], q[2][4 + tl:] if v == 4 else q[2]))
        return got

    first = drain(p.get("window_s", 1.0))
    out["held"] = len(first)
    payloads, rounds, pending = set(), 0, first
    while pending and rounds < n:
        rounds += 1
        for pid, body in pending:
            payloads.add(body[-8:])
            sub.send(iotclib.pkt(0x40, pid))
        pending = drain(0.5)
    out["total"] = len(payloads)
    return out
