#!/usr/bin/python3
"""Front doors on several machines, one broker (on loopback here): `iotconform broker`
(mosquitto + the stamp plugin, TLS on TCP, secret from a file) and two `serve --broker
tls://localhost:PORT` front doors. Devices on different front doors exchange QoS 0 and 1
messages; a retained message published through one door reaches a subscriber on the
other; a lifecycle watcher on door B sees a device connect on door A; a duplicate client
ID on door B takes the session over and door A closes the old device connection and
reports DUPLICATE_CLIENTID (a broker restart, the twin, reports SERVER_ERROR); a fleet
sharded over both doors (fleet --shard, fleet-merge) loses nothing; the broker restarts
and devices and lifecycle events come back through both doors. Negative
twins: a CONNECT stamped with a wrong secret is refused on the TCP link, a plain (non-TLS)
client gets nothing, and a front door given the wrong secret cannot connect devices."""
import json, os, socket, ssl, struct, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iotclib
from iotclib import Conn, Serve, check, connack_code, connect, finish, pkt, publish, s16, subscribe

BIN, PKI = sys.argv[1], sys.argv[2]
iotclib.PKI = PKI
TMP = tempfile.mkdtemp(prefix="iotc-broker-tcp-")


def secret_file(name):
    path = os.path.join(TMP, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, os.urandom(32))
    os.close(fd)
    return path


def read_until(c, want_type, timeout=5):
    """The next packet of want_type (others skipped), None on close or timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        p = c.read_packet(max(0.1, deadline - time.time()))
        if p is None:
            return None
        if p[0] == want_type:
            return p
    return None


def pub_topic_payload(p):
    body = p[2]
    n = struct.unpack(">H", body[:2])[0]
    topic = body[2:2 + n]
    off = 2 + n + (2 if (p[1] >> 1) & 3 else 0)
    return topic, body[off:]


def live(port, cid, cert="device-01"):
    c = Conn(port, cert)
    c.send(connect(cid))
    p = c.read_packet()
    check(f"{cid.decode()}: CONNACK 0 through its front door", connack_code(p) == 0, p)
    return c


secret = secret_file("secret")
broker = subprocess.Popen([BIN, "broker", "--secret-file", secret, "--port", "0",
                           "--pki", PKI, "--run-dir", os.path.join(TMP, "broker")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
line = broker.stdout.readline()
check("broker: READY line with its port", line.startswith("IOTCONFORM_BROKER_READY "), line)
BPORT = json.loads(line.split(" ", 1)[1])["port"]
url = f"tls://localhost:{BPORT}"  # the name in the broker's certificate
doors = []
try:
    a = Serve(BIN, PKI, prefix="iotc-door-a-", extra_args=["--broker", url, "--broker-secret", secret])
    doors.append(a)
    b = Serve(BIN, PKI, prefix="iotc-door-b-", extra_args=["--broker", url, "--broker-secret", secret])
    doors.append(b)
    check("two front doors on different ports", a.ports["8883"] != b.ports["8883"], (a.ports, b.ports))
    check("no mosquitto of their own (no broker.start in their journals)",
          not a.events(lambda e: e.get("event") == "broker.start", 0.2)
          and not b.events(lambda e: e.get("event") == "broker.start", 0.2), None)

    # ---- lifecycle watcher on B, devices on A and B ----
    watcher = live(b.ports["8883"], b"bt-watch")
    watcher.send(subscribe([b"$aws/events/presence/+/bt-a"], pid=3))
    check("watcher subscribed (door B)", read_until(watcher, 9) is not None, None)
    sub_b = live(b.ports["8883"], b"bt-b", cert="device-02")
    sub_b.send(subscribe([b"bt/x"], pid=1, qos=1))
    check("B subscribed to bt/x", read_until(sub_b, 9) is not None, None)
    dev_a = live(a.ports["8883"], b"bt-a")
    p = read_until(watcher, 3)
    t = pub_topic_payload(p)[0] if p else None
    check("lifecycle: a connect on door A is seen by a watcher on door B",
          t == b"$aws/events/presence/connected/bt-a", t)

    # ---- QoS 0 and QoS 1 across the doors, both ways ----
    dev_a.send(publish(b"bt/x", b"q0-from-a", qos=0))
    p = read_until(sub_b, 3)
    check("QoS 0 from door A delivered on door B", p and pub_topic_payload(p)[1] == b"q0-from-a", p)
    dev_a.send(publish(b"bt/x", b"q1-from-a", qos=1, pid=9))
    ack = read_until(dev_a, 4)
    check("QoS 1 from door A acknowledged (PUBACK 9)", ack and ack[2][:2] == b"\x00\x09", ack)
    p = read_until(sub_b, 3)
    check("QoS 1 from door A delivered on door B at QoS 1",
          p and pub_topic_payload(p)[1] == b"q1-from-a" and (p[1] >> 1) & 3 == 1, p)
    dev_a.send(subscribe([b"bt/y"], pid=2))
    check("A subscribed to bt/y", read_until(dev_a, 9) is not None, None)
    sub_b.send(publish(b"bt/y", b"q1-from-b", qos=1, pid=4))
    p = read_until(dev_a, 3)
    check("QoS 1 from door B delivered on door A", p and pub_topic_payload(p)[1] == b"q1-from-b", p)

    # ---- retained: published through A, a later subscriber on B gets it ----
    dev_a.send(pkt(0x33, s16(b"bt/retained") + struct.pack(">H", 11) + b"kept"))
    check("retained publish acknowledged", read_until(dev_a, 4) is not None, None)
    late = live(b.ports["8883"], b"bt-late", cert="device-03")
    late.send(subscribe([b"bt/retained"], pid=5))
    p = read_until(late, 3)
    check("retained message kept by the shared broker, delivered on door B",
          p and pub_topic_payload(p)[1] == b"kept" and p[1] & 1, p)

    # ---- duplicate client ID across doors: B takes over, A closes the old connection ----
    dup_b = live(b.ports["8883"], b"bt-a")
    check("takeover: door A closes the old device connection", dev_a.closed(5), None)
    gone = a.events(lambda e: e.get("client_id") == "bt-a" and e.get("event") == "mqtt.disconnect", 3)
    check("takeover: door A journals DUPLICATE_CLIENTID (door B's connected event told it)",
          gone and gone[-1].get("reason") == "DUPLICATE_CLIENTID", gone)
    ev, deadline = None, time.time() + 4
    while ev is None and time.time() < deadline:
        p = read_until(watcher, 3, timeout=max(0.1, deadline - time.time()))
        if p and pub_topic_payload(p)[0] == b"$aws/events/presence/disconnected/bt-a":
            ev = json.loads(pub_topic_payload(p)[1])
    check("takeover across doors: lifecycle disconnected says DUPLICATE_CLIENTID, as AWS",
          ev and ev.get("disconnectReason") == "DUPLICATE_CLIENTID"
          and ev.get("clientInitiatedDisconnect") is False, ev)
    dup_b.send(publish(b"bt/x", b"after-takeover", qos=1, pid=6))
    p = read_until(sub_b, 3)
    check("the new connection on door B works", p and pub_topic_payload(p)[1] == b"after-takeover", p)

    # each door's system connection (lifecycle events) has its own client ID on the shared
    # broker: none was closed (one ID for all would make the doors take it from each other)
    closed = [e for d in (a, b) for e in d.events(lambda e: e.get("event") == "lifecycle.error", 1.5)]
    check("the doors' system connections coexist on the shared broker", not closed, closed[:2])

    # ---- a sharded fleet over both doors: shard 1 on door A, shard 2 on door B ----
    spec = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../fixtures/fleets/shards.json")
    run, procs, files = "bt-" + os.urandom(4).hex(), [], []
    for k, door in ((1, a), (2, b)):
        tp = os.path.join(TMP, f"target-{k}.json")
        json.dump({"host": "127.0.0.1", "sni": "localhost", "ca": f"{PKI}/ca-bundle.crt", "pki": PKI,
                   "ports": {x: door.ports[x] for x in ("8883", "8443", "443")}}, open(tp, "w"))
        files.append(os.path.join(TMP, f"fleet-{k}.json"))
        procs.append(subprocess.Popen([BIN, "fleet", "--quiet", "--shard", f"{k}/2", "--run", run, "--target", tp,
                                       "--json", files[-1], spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for pr in procs:
        out, err = pr.communicate(timeout=120)
        print(out[-600:], err[-400:])
    m = subprocess.run([BIN, "fleet-merge", "--json", os.path.join(TMP, "fleet-merged.json"), *files],
                       capture_output=True, text=True, timeout=30)
    print(m.stdout, m.stderr)
    merged = json.load(open(os.path.join(TMP, "fleet-merged.json"))) if m.returncode in (0, 1) else {}
    msg = merged.get("messages", {})
    check("a fleet sharded over the two doors: every message delivered, many across doors",
          m.returncode == 0 and msg.get("sent") == 110 and msg.get("delivered") == 110 and msg.get("lost") == 0
          and msg.get("cross_shard_delivered", 0) > 50, (m.returncode, msg))

    # ---- the shared broker restarts (kill -9; its supervisor starts it again on the same
    # port): devices come back through both doors, lifecycle events flow again ----
    os.kill(json.loads(line.split(" ", 1)[1])["pid"], 9)
    again = broker.stdout.readline()
    check("broker: restarted by its supervisor (a second READY, same port)",
          again.startswith("IOTCONFORM_BROKER_READY ") and json.loads(again.split(" ", 1)[1])["port"] == BPORT,
          again)
    check("the doors' devices lost their sessions with the broker", sub_b.closed(5) and dup_b.closed(5), None)
    lost = b.events(lambda e: e.get("event") == "mqtt.disconnect" and e.get("client_id") in ("bt-b", "bt-a"), 3)
    check("twin: a broker restart is not a takeover (door B: SERVER_ERROR for both devices)",
          {e.get("client_id"): e.get("reason") for e in lost} == {"bt-b": "SERVER_ERROR", "bt-a": "SERVER_ERROR"},
          lost)
    w2 = live(b.ports["8883"], b"bt-watch2")
    w2.send(subscribe([b"$aws/events/presence/+/bt-again"], pid=3))
    check("watcher subscribed again (door B)", read_until(w2, 9) is not None, None)
    deadline, t = time.time() + 5, None
    while time.time() < deadline and t is None:  # door A's lifecycle link reconnects within 1 s
        d = live(a.ports["8883"], b"bt-again")
        p = read_until(w2, 3, timeout=1.2)
        t = pub_topic_payload(p)[0] if p else None
        d.s.close()
    check("lifecycle events cross the doors again after the broker restart",
          t == b"$aws/events/presence/connected/bt-again", t)
    a_closed = a.events(lambda e: e.get("event") == "lifecycle.error", 0.2)
    check("... and door A journaled that its system connection was closed by the restart",
          any(e.get("reason") == "system connection closed" for e in a_closed), a_closed)

    # ---- negative twins on the TCP link ----
    # a plain TCP client (no TLS): mosquitto's listener is TLS only
    s = socket.create_connection(("127.0.0.1", BPORT), timeout=3)
    s.sendall(connect(b"plain"))
    try:
        got = s.recv(100)
    except (ConnectionResetError, socket.timeout, OSError):
        got = b""
    check("a plain non-TLS client gets no CONNACK", not got.startswith(b"\x20"), got)
    s.close()
    # TLS but a stamp made with the wrong secret (a forged front door)
    def stamped(cid, principal, password):
        body = s16(b"MQTT") + bytes([4, 0xC2]) + struct.pack(">H", 60) + s16(cid) + s16(principal) + s16(password)
        return pkt(0x10, body)
    ctx = ssl.create_default_context(cafile=f"{PKI}/ca-bundle.crt")
    t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", BPORT), timeout=3), server_hostname="localhost")
    import hmac, hashlib
    forged = b"v1:" + hmac.new(os.urandom(32), b"forged\nforged", hashlib.sha256).hexdigest().encode()
    t.sendall(stamped(b"forged", b"forged", forged))
    try:
        got = t.recv(100)
    except (ConnectionResetError, ssl.SSLError, OSError):
        got = b""
    check("a forged stamp (wrong secret) is refused: CONNACK not 0", not (got[:2] == b"\x20\x02" and got[3:4] == b"\x00"), got)
    t.close()
    # positive twin: the right secret passes the same path
    key = open(secret, "rb").read()
    good = b"v1:" + hmac.new(key, b"stamped\nstamped", hashlib.sha256).hexdigest().encode()
    t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", BPORT), timeout=3), server_hostname="localhost")
    t.sendall(stamped(b"stamped", b"stamped", good))
    got = t.recv(100)
    check("... while the right secret is accepted (CONNACK 0)", got[:2] == b"\x20\x02" and got[3:4] == b"\x00", got)
    t.close()
    # serve's --broker options are checked before anything starts
    for args, want in ((["--broker", "mqtt://localhost:1"], "expected tls://HOST:PORT"),
                       (["--broker", url], "--broker-secret"),
                       (["--broker", "tls://no-such-host.invalid:8884", "--broker-secret", secret], "no-such-host")):
        p = subprocess.run([BIN, "serve", "--pki", PKI, "--ports", "0", *args], capture_output=True,
                           text=True, timeout=30)
        check(f"serve {' '.join(args[:2])}...: refused at start ({want})", p.returncode != 0 and want in p.stderr,
              (p.returncode, p.stderr[-300:]))
    # a front door with the wrong secret: its devices are refused
    wrong = Serve(BIN, PKI, prefix="iotc-door-w-", extra_args=["--broker", url, "--broker-secret", secret_file("wrong")])
    doors.append(wrong)
    c = Conn(wrong.ports["8883"])
    c.send(connect(b"bt-wrong"))
    p = c.read_packet()
    check("a front door with the wrong secret cannot connect a device", connack_code(p) != 0, p)
finally:
    for d in doors:
        d.stop()
    rc = iotclib.stop_process(broker, "broker")  # prints its stderr when the exit is not 0
    check("broker stops cleanly on SIGTERM", rc == 0, rc)
finish()
