"""Attack kinds for policy conditions and will messages (issue 10, item 1 and the
policy language): a CONNECT carrying a will, dropped without DISCONNECT so the will
fires, watched by an observer; and the registry edits giving the rows' certificates
conditional policies and thing attributes."""
import json, os, struct, tempfile, time, uuid

ALLOW_REST = {"Effect": "Allow", "Action": ["iot:Publish", "iot:Subscribe", "iot:Receive",
                                             "iot:RetainPublish"], "Resource": "*"}


def _policy(stmts):
    return {"Version": "2012-10-17", "Statement": stmts}


def _attach(reg, policies, certs):
    """Writes policies ({name: document}) to a scratch dir, registers them and sets the
    policies of the given certificates ({cert file stem: [names]})."""
    d = tempfile.mkdtemp(prefix="iotc-attack-pol-")
    for name, doc in policies.items():
        path = os.path.join(d, name + ".json")
        json.dump(doc, open(path, "w"))
        reg["policies"].append({"name": name, "file": path})
    for c in reg["certificates"]:
        stem = c["file"][:-4]
        if stem in certs:
            c["policies"] = certs[stem]


@registry_edit("conditions")
def conditions_registry(reg):
    """device-02 (thing-02): RetainPublish only under its own thing's topics.
    device-03 / device-04: everything, but only for a thing whose attribute fleet is blue
    (thing-03 is blue, thing-04 red). device-05: iot:Connect only with
    ForAllValues:StringEquals iot:ConnectAttributes [PersistentConnect] (no LastWill).
    device-noca: the same with [LastWill, PersistentConnect]. device-06 keeps its explicit
    Deny of iot:Publish on secret/*."""
    connect_with = lambda attrs: _policy([
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*",
         "Condition": {"ForAllValues:StringEquals": {"iot:ConnectAttributes": attrs}}}, ALLOW_REST])
    _attach(reg, {
        "retain-own-thing": _policy([
            {"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish", "iot:Subscribe",
                                           "iot:Receive"], "Resource": "*"},
            {"Effect": "Allow", "Action": "iot:RetainPublish",
             "Resource": "arn:aws:iot:*:*:topic/things/${iot:Connection.Thing.ThingName}/*"}]),
        "fleet-blue": _policy([
            {"Effect": "Allow", "Action": "iot:*", "Resource": "*",
             "Condition": {"StringEquals": {"iot:Connection.Thing.Attributes[fleet]": "blue"}}}]),
        "connect-persistent-only": connect_with(["PersistentConnect"]),
        "connect-lastwill": connect_with(["LastWill", "PersistentConnect"]),
    }, {"device-02": ["retain-own-thing"], "device-03": ["fleet-blue"], "device-04": ["fleet-blue"],
        "device-05": ["connect-persistent-only"], "device-noca": ["connect-lastwill"]})
    things = []
    for t in reg["things"]:
        name = t if isinstance(t, str) else t["name"]
        if name in ("thing-03", "thing-04"):
            t = {"name": name, "attributes": {"fleet": "blue" if name == "thing-03" else "red"}}
        things.append(t)
    reg["things"] = things


@registry_edit("conditions-exclusive")
def conditions_exclusive_registry(reg):
    """The "conditions" registry with device-03 attached to thing-03 exclusively
    (AttachThingPrincipal EXCLUSIVE_THING): thing-03 whatever the client ID."""
    conditions_registry(reg)
    for c in reg["certificates"]:
        if c["file"] == "device-03.crt":
            c["thing_exclusive"] = True


@registry_edit("source-ip")
def source_ip_registry(reg):
    """device-03: everything from 127.0.0.0/8 (or ::1); device-04: everything, but only from
    192.0.2.0/24 (TEST-NET-1), so its connections from loopback are refused."""
    ip = lambda nets: _policy([{"Effect": "Allow", "Action": "iot:*", "Resource": "*",
                                "Condition": {"IpAddress": {"aws:SourceIp": nets}}}])
    _attach(reg, {"from-loopback": ip(["127.0.0.0/8", "::1/128"]),
                  "from-test-net": ip("192.0.2.0/24")},
            {"device-03": ["from-loopback"], "device-04": ["from-test-net"]})


def _s16(b):
    return struct.pack(">H", len(b)) + b


def _will_connect(cid, topic, payload, v=4, qos=0, retain=False, clean=True, expiry=None):
    flags = (0x02 if clean else 0) | (0x04 if topic is not None else 0)
    if topic is not None:
        flags |= (qos << 3) | (0x20 if retain else 0)
    body = _s16(b"MQTT") + bytes([v, flags]) + struct.pack(">H", 30)
    if v == 5:
        props = b"" if expiry is None else b"\x11" + struct.pack(">I", expiry)
        body += iotclib.varint(len(props)) + props
    body += _s16(cid)
    if topic is not None:
        if v == 5:
            body += b"\x00"
        body += _s16(topic) + _s16(payload)
    return iotclib.pkt(0x10, body)


def _wait_publish(conn, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        q = conn.read_packet(max(0.05, deadline - time.monotonic()))
        if q is None:
            return None
        if q[0] == 3:
            tl = int.from_bytes(q[2][:2], "big")
            return q[2][2:2 + tl].decode(errors="replace")
    return None


@attack("mqtt_will")
def mqtt_will(ctx, p):
    """An observer (device-01) subscribes to `watch` (default: the will topic); a device
    (`cert`, `client_id`, MQTT `version`) connects with a will on `topic` (`retain`,
    `qos`, `clean`, MQTT 5 `expiry`) and drops the TCP connection without DISCONNECT.
    Observes the device's CONNACK (None: closed without one), whether the observer got
    the will, and for `retain` whether a fresh exact subscriber gets it retained."""
    v = p.get("version", 4)
    topic = p["topic"]
    watch = p.get("watch", topic).encode()
    obs = ctx.mqtt()
    # helpers get fresh client IDs: only the device under test reconnects at AWS's pace
    obs.send(iotclib.connect(f"will-observer-{uuid.uuid4().hex[:8]}".encode(), keepalive=30))
    out = {"observer_connack": iotclib.connack_code(obs.read_packet())}
    obs.send(iotclib.subscribe([watch], pid=1, qos=1))
    out["observer_suback"] = iotclib.suback_codes(obs.read_packet())
    dev = ctx.mqtt(cert=p.get("cert", "device-01"))
    dev.send(_will_connect(p.get("client_id", "will-device").encode(), topic.encode(),
                           p.get("payload", "will").encode(), v=v, qos=p.get("qos", 0),
                           retain=p.get("retain", False), clean=p.get("clean", True),
                           expiry=p.get("expiry")))
    ack = dev.read_packet(3)
    out["connack"] = iotclib.connack_code(ack)
    if out["connack"] is None:
        out["closed"] = dev.closed(2)
    dev.s.close()  # a drop, not a DISCONNECT: the will must fire (if it was accepted)
    got = _wait_publish(obs, p.get("deliver_timeout", 2.0))
    out["delivered"] = got == topic
    if p.get("retain"):
        late = ctx.mqtt()
        late.send(iotclib.connect(f"will-late-subscriber-{uuid.uuid4().hex[:8]}".encode(), keepalive=30))
        late.read_packet()
        late.send(iotclib.subscribe([topic.encode()], pid=1, qos=1))
        late.read_packet()
        out["retained_stored"] = _wait_publish(late, 1.5) == topic
        late.s.close()
    obs.s.close()
    if p.get("journal_deny"):
        hits = ctx.events(lambda e: e.get("event") == "policy.deny" and
                          e.get("resource") == topic, timeout=1.0)
        out["journal_policy_deny"] = bool(hits)
    return out


@attack("mqtt_connect_as")
def mqtt_connect_as(ctx, p):
    """A plain CONNECT (no will) with `cert` and `client_id`, then a QoS 1 round trip on
    `topic` if accepted; observes the CONNACK and the round trip."""
    v = p.get("version", 4)
    dev = ctx.mqtt(cert=p["cert"])
    dev.send(iotclib.connect(p.get("client_id", "cond-device").encode(), v=v, keepalive=30))
    out = {"connack": iotclib.connack_code(dev.read_packet(3))}
    if out["connack"] == 0:
        t = p.get("topic", "cond/rt").encode()
        dev.send(iotclib.subscribe([t], pid=1, qos=1, v=v))
        dev.read_packet()
        dev.send(iotclib.publish(t, b"x", qos=1, pid=2, v=v))
        out["round_trip"] = _wait_publish(dev, 2.0) == t.decode()
    else:
        out["closed"] = dev.closed(2)
    dev.s.close()
    return out
