#!/usr/bin/python3
"""The front door's own TLS stream (sim/endpoint/conn_io.c) against real clients: flow
control with nothing lost, bytes that arrive together with the client's EOF, a TLS
KeyUpdate mid-session, the ways a client can end a connection, and the lingering close
of a refused HTTPS request. A paho-mqtt canary round-trips through every row."""
import fcntl, hashlib, json, os, select, socket, ssl, struct, subprocess, sys, termios
import threading, time
import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iotclib
from iotclib import Conn, Serve, check, connect, pkt, publish, subscribe

BIN, PKI = sys.argv[1], sys.argv[2]
iotclib.PKI = PKI
CA = f"{PKI}/ca-bundle.crt"
T0 = time.monotonic()

# Row 1 needs the broker to push a stalled subscriber's messages at the front door as fast
# as a publisher sends them: no publish quotas, and no in-flight quota (with AWS's 100 the
# broker would keep all but 100 messages itself and the front door's flow control would
# never be reached). One front-door process, so its memory is one /proc entry.
LIMITS = {"publish_per_s": 0, "throughput_bytes_per_s": 0, "account_publish_per_s": 0,
          "inflight_qos1_max": 0}
srv = Serve(BIN, PKI, {"limits": LIMITS}, prefix="iotc-stream-", extra_args=["--workers", "1"])


def row(title):
    print(f"# {title} (at {time.monotonic() - T0:.1f} s)")


def events(pred, timeout=3.0):
    return srv.events(pred, timeout)


def conn_events(name, port, timeout=3.0):
    return events(lambda e: e.get("event") == name and e.get("peer_port") == port, timeout)


def disconnects(cid, timeout=3.0):
    return events(lambda e: e.get("event") == "mqtt.disconnect" and e.get("client_id") == cid,
                  timeout)


def tls_socket(port, cert, rcvbuf=None):
    ctx = ssl.create_default_context(cafile=CA)
    ctx.load_cert_chain(f"{PKI}/{cert}.crt", f"{PKI}/{cert}.key")
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:  # before connect(): the window scale is chosen by the SYN
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    raw.connect(("127.0.0.1", port))
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.settimeout(5)
    return s


def mqtt_conn(cid, cert="device-02", rcvbuf=None):
    """A raw MQTT 3.1.1 device with its CONNACK read: (Conn, local port)."""
    c = Conn.__new__(Conn)
    c.s, c.buf, c.port = tls_socket(P8883, cert, rcvbuf), b"", P8883
    c.send(connect(cid))
    p = c.read_packet()
    check(f"{cid.decode()}: CONNACK accepted", p and p[0] == 2 and p[2][1] == 0, p)
    return c, c.s.getsockname()[1]


def parse_publish(p):
    """(topic, packet id or None, payload) of a PUBLISH from read_packet."""
    body, qos = p[2], (p[1] >> 1) & 3
    tl = struct.unpack(">H", body[:2])[0]
    topic, i = body[2:2 + tl], 2 + tl
    pid = None
    if qos:
        pid = struct.unpack(">H", body[i:i + 2])[0]
        i += 2
    return topic, pid, body[i:]


def puback(pid):
    return pkt(0x40, struct.pack(">H", pid))


def sanitized():
    """True when serve runs with AddressSanitizer (the asan preset)."""
    try:
        return "libasan" in open(f"/proc/{srv.proc.pid}/maps").read()
    except OSError:
        return False


def front_door_kb():
    """(VmRSS, VmHWM) in KB summed over serve and its front-door children (not mosquitto)."""
    pids = [srv.proc.pid]
    try:
        kids = open(f"/proc/{srv.proc.pid}/task/{srv.proc.pid}/children").read().split()
    except OSError:
        kids = []
    for k in kids:
        try:
            if open(f"/proc/{k}/comm").read().strip() == "iotconform":
                pids.append(int(k))
        except OSError:
            pass
    rss = hwm = 0
    for p in pids:
        for line in open(f"/proc/{p}/status"):
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm += int(line.split()[1])
    return rss, hwm


try:
    P8883, P8443 = srv.ports["8883"], srv.ports["8443"]

    # The canary: a paho device subscribed to its own topic, round-tripping QoS 1 between
    # rows (and during row 1's stall). It must never lose its connection.
    canary = iotclib.Canary(P8883, CA, f"{PKI}/device-01.crt", f"{PKI}/device-01.key",
                            "stream-canary", "stream/canary")
    canary_round_trip = canary.round_trip
    canary_round_trip("start")

    # ---- 1. Backpressure with nothing lost ------------------------------------------------
    row("1. backpressure with nothing lost")
    # A QoS 1 subscriber with a small receive buffer stops reading; 4,000 messages of 2 KB
    # (8 MB) go to it, past the session's 1 MB high water (mqtt_session.h): the front door
    # must stop reading the broker instead of buffering them, then deliver every one in
    # order once the subscriber reads again.
    N, SIZE, TOPIC = 4000, 2048, b"stream/bulk"

    def payload(seq):
        head = b"%06d|" % seq
        return (head + hashlib.sha256(head).digest() * (SIZE // 32 + 1))[:SIZE]

    sub, _ = mqtt_conn(b"stream-bulk-sub", "device-02", rcvbuf=16384)
    sub.send(subscribe([TOPIC], qos=1, pid=1))
    p = sub.read_packet()
    check("bulk subscriber: SUBACK granted QoS 1", p and p[0] == 9 and p[2][2:] == b"\x01", p)
    rss0, hwm0 = front_door_kb()
    pub, _ = mqtt_conn(b"stream-bulk-pub", "device-03")
    acked, t_pub, bad_ack = set(), time.monotonic(), None
    for start in range(0, N, 100):  # 100 at a time, then their PUBACKs: one thread per socket
        pub.send(b"".join(publish(TOPIC, payload(i), qos=1, pid=i + 1)
                          for i in range(start, min(N, start + 100))))
        while len(acked) < min(N, start + 100):
            p = pub.read_packet(10)
            if not p or p[0] != 4:
                bad_ack = p
                break
            acked.add(struct.unpack(">H", p[2][:2])[0])
        if bad_ack:
            break
    t_pub = time.monotonic() - t_pub
    check(f"bulk publisher: all {N} QoS 1 PUBLISHes acknowledged while the subscriber stalls "
          f"({t_pub:.1f} s)", len(acked) == N and not bad_ack, (len(acked), bad_ack))
    time.sleep(0.3)  # let whatever the front door will send reach the subscriber's socket
    queued = bytearray(4)
    fcntl.ioctl(sub.s.fileno(), termios.FIONREAD, queued)
    queued = struct.unpack("i", queued)[0]
    check(f"bulk subscriber: the stall is real ({queued // 1024} KB of {N * SIZE // 1024} KB "
          f"reached its socket)", queued < N * SIZE // 4, queued)
    for i in range(3):
        canary_round_trip(f"during-stall-{i}")
    rss1, hwm1 = front_door_kb()
    # Read it all now, acknowledging as it comes.
    seqs, bad, dups, t_read = [], [], 0, time.monotonic()
    acks = b""
    while len(seqs) < N:
        p = sub.read_packet(10)
        if not p:
            break
        if p[0] != 3:
            continue
        topic, pid, body = parse_publish(p)
        if p[1] & 8:
            dups += 1
        seq = int(body[:6]) if body[:6].isdigit() else -1
        if topic != TOPIC or body != payload(seq):
            bad.append((topic, seq, len(body)))
        seqs.append(seq)
        acks += puback(pid)
        if len(acks) >= 400 or len(seqs) == N:
            sub.send(acks)
            acks = b""
    t_read = time.monotonic() - t_read
    rss2, hwm2 = front_door_kb()
    check(f"bulk subscriber: all {N} messages arrived after the stall ({t_read:.1f} s)",
          len(seqs) == N, len(seqs))
    check("bulk subscriber: in order, each once", seqs == list(range(N)),
          [s for i, s in enumerate(seqs) if s != i][:5])
    check("bulk subscriber: payloads intact, none marked DUP", not bad and dups == 0,
          (bad[:3], dups))
    p = sub.read_packet(0.5)
    check("bulk subscriber: nothing more after the last", p is None, p)
    # The bound: the output queue pauses the broker link above 1 MB, so at most ~1 MB of
    # queued output plus the chunks read from the broker before the pause (measured: +1.3
    # MB); 3 MB is that with room for the allocator. With the high water raised to 1 GB
    # (flow control off) the same run grew 4.9 MB, the rest of the 8 MB sitting in the
    # kernel's socket buffers.
    grown = max(hwm1, hwm2) - hwm0
    if sanitized():
        # AddressSanitizer keeps freed blocks in quarantine (up to 256 MB), so peak memory
        # says nothing about what the endpoint holds; the default build checks the bound.
        print(f"skip - front door peak memory under AddressSanitizer (grew {grown} KB)")
    else:
        check(f"front door peak memory grew {grown} KB (RSS {rss0} -> {rss1} -> {rss2} KB), "
              f"bound 3072 KB for {N * SIZE // 1024} KB sent", grown < 3072,
              (rss0, hwm0, rss1, hwm1, rss2, hwm2))
    pub.s.close()
    sub.s.close()
    canary_round_trip("after-bulk")

    # ---- 2. Bytes before EOF are not lost -------------------------------------------------
    row("2. bytes before EOF are not lost")
    # The simulator refuses packets sent before the CONNACK ("wait-connack"), so the CONNACK
    # is awaited first; then one TLS write carries PUBLISH + DISCONNECT and the socket is
    # closed at once (FIN right behind the record). Twin: the PUBLISH alone, then the close.
    watch, _ = mqtt_conn(b"stream-eof-watch", "device-04")
    watch.send(subscribe([b"stream/eof", b"$aws/events/presence/disconnected/+"], qos=0, pid=2))
    p = watch.read_packet()
    check("eof watcher: SUBACK", p and p[0] == 9 and p[2][2:] == b"\x00\x00", p)

    def watch_for(cid, body, timeout=5):
        """Reads the watcher until both the PUBLISH `body` and cid's disconnected event came."""
        seen, life = False, None
        end = time.monotonic() + timeout
        while (not seen or life is None) and time.monotonic() < end:
            p = watch.read_packet(max(0.05, end - time.monotonic()))
            if not p:
                break
            if p[0] != 3:
                continue
            topic, _, data = parse_publish(p)
            if topic == b"stream/eof" and data == body:
                seen = True
            elif topic == b"$aws/events/presence/disconnected/" + cid:
                life = json.loads(data)
        return seen, life

    for kind, tail, want_reason, want_ci, want_close in (
            ("DISCONNECT", b"\xe0\x00", "CLIENT_INITIATED_DISCONNECT", True,
             "CLIENT_INITIATED_DISCONNECT"),
            ("no DISCONNECT", b"", "CONNECTION_LOST", False, "connection closed by client")):
        cid = b"stream-eof-" + (b"a" if tail else b"b")
        body = b"last words " + cid
        c, port = mqtt_conn(cid, "device-02")
        # Corked, the record waits for the close and the FIN rides on its segment: the
        # front door finds the bytes and the EOF in one read.
        c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        c.s.sendall(publish(b"stream/eof", body) + tail)  # one write, one TLS record
        c.s.close()  # no close_notify
        seen, life = watch_for(cid, body)
        check(f"EOF after PUBLISH + {kind}: the PUBLISH reached the subscriber", seen)
        d = disconnects(cid.decode())
        check(f"EOF after PUBLISH + {kind}: mqtt.disconnect once, {want_reason}",
              len(d) == 1 and d[0].get("reason") == want_reason
              and d[0].get("client_initiated") is want_ci, d)
        check(f"EOF after PUBLISH + {kind}: lifecycle disconnectReason {want_reason}",
              life is not None and life.get("disconnectReason") == want_reason
              and life.get("clientInitiatedDisconnect") is want_ci, life)
        ev = conn_events("conn.close", port)
        check(f"EOF after PUBLISH + {kind}: conn.close once by client, '{want_close}'",
              len(ev) == 1 and ev[0].get("by") == "client" and ev[0].get("reason") == want_close,
              ev)
    canary_round_trip("after-eof")

    # ---- 3. TLS KeyUpdate mid-session, and garbage instead of a record ---------------------
    row("3. TLS KeyUpdate mid-session; garbage twin")
    msgfile = f"{srv.tmp}/s_client.msg"
    sc = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{P8883}", "-servername", "localhost",
         "-CAfile", CA, "-cert", f"{PKI}/device-01.crt", "-key", f"{PKI}/device-01.key",
         "-tls1_3", "-quiet", "-no_ign_eof", "-msg", "-msgfile", msgfile],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sc_out, sc_err = bytearray(), bytearray()

    def sc_wait(pred, timeout=5):
        """Reads s_client's stdout (the MQTT bytes) and stderr until pred() holds."""
        end = time.monotonic() + timeout
        while not pred() and time.monotonic() < end:
            r, _, _ = select.select([sc.stdout, sc.stderr], [], [], 0.05)
            for f in r:
                d = os.read(f.fileno(), 65536)
                (sc_out if f is sc.stdout else sc_err).extend(d)
                if not d:
                    return pred()
        return pred()

    def sc_send(b):
        sc.stdin.write(b)
        sc.stdin.flush()

    def key_updates():
        try:
            lines = open(msgfile).read().splitlines()
        except OSError:
            return 0, 0
        sent = sum(1 for l in lines if l.startswith(">>> ") and l.endswith("KeyUpdate"))
        recv = sum(1 for l in lines if l.startswith("<<< ") and l.endswith("KeyUpdate"))
        return sent, recv

    sc_send(connect(b"stream-keyupdate"))
    check("s_client: CONNACK", sc_wait(lambda: sc_out.startswith(b"\x20\x02\x00\x00")), sc_out)
    # The echo comes back at QoS 0: nothing for the test to write between the responses it
    # waits for and the next command letter (two writes read as one would end s_client).
    sc_send(subscribe([b"stream/keyupdate"], qos=0, pid=3))
    check("s_client: SUBACK", sc_wait(lambda: b"\x90\x03\x00\x03\x00" in sc_out), sc_out)
    del sc_out[:]
    # Each command letter alone on its own read of stdin: s_client looks at the first byte.
    for letter, want in ((b"k", (1, 0)), (b"K", (2, 1))):
        n_ku = sc_err.count(b"KEYUPDATE")
        sc_send(letter + b"\n")
        sc_wait(lambda: sc_err.count(b"KEYUPDATE") > n_ku)
        tag = b"after-" + (b"requested" if letter == b"K" else b"not-requested")
        sc_send(b"\xc0\x00" + publish(b"stream/keyupdate", tag, qos=1, pid=9))
        ok = sc_wait(lambda: b"\xd0\x00" in sc_out and b"\x40\x02\x00\x09" in sc_out
                     and tag in sc_out)
        check(f"KeyUpdate ({'update_requested' if letter == b'K' else 'update_not_requested'}): "
              f"PINGRESP, PUBACK and the echoed PUBLISH on the same connection", ok,
              (bytes(sc_out), bytes(sc_err[-300:])))
        del sc_out[:]
        ku = key_updates()
        for _ in range(20):
            if ku == want:
                break
            time.sleep(0.05)
            ku = key_updates()
        check(f"KeyUpdate '{letter.decode()}': KeyUpdate messages sent/received {ku}, "
              f"want {want}", ku == want, ku)
    sc_send(b"\xe0\x00")
    sc.stdin.close()
    try:
        sc.wait(5)
    except subprocess.TimeoutExpired:
        sc.kill()
        sc.wait()
    d = disconnects("stream-keyupdate")
    check("s_client: its DISCONNECT journaled once, CLIENT_INITIATED_DISCONNECT",
          len(d) == 1 and d[0].get("reason") == "CLIENT_INITIATED_DISCONNECT", d)
    canary_round_trip("after-keyupdate")

    # Twin: bytes that are no valid record of this session, written under the TLS layer.
    for kind, garbage in (("forged record", b"\x17\x03\x03\x00\x20" + os.urandom(32)),
                          ("not TLS", b"GARBAGE\r\n" * 8)):
        cid = b"stream-garbage-" + kind.split()[0].encode()
        c, port = mqtt_conn(cid, "device-03")
        raw = socket.socket(fileno=os.dup(c.s.fileno()))
        raw.sendall(garbage)
        raw.close()
        closed = c.read_packet(5) is None
        check(f"garbage ({kind}) mid-session: the connection is closed", closed)
        c.s.close()
        ev = conn_events("conn.close", port)
        reason = ev[0].get("reason", "") if ev else ""
        check(f"garbage ({kind}) mid-session: conn.close once with a TLS reason ('{reason}')",
              len(ev) == 1 and reason.startswith("connection error: ") and "null" not in reason
              and len(reason) > len("connection error: "), ev)
        d = disconnects(cid.decode())
        check(f"garbage ({kind}) mid-session: mqtt.disconnect once", len(d) == 1, d)
    canary_round_trip("after-garbage")

    # ---- 4. Close kinds after the handshake ----------------------------------------------
    row("4. close kinds after the handshake")
    # A reset, a TLS close_notify and a plain FIN all end the stream from the client's side
    # (conn_io.c io__is_eof; FIN is EOF with SSL_OP_IGNORE_UNEXPECTED_EOF, tls_policy.c).
    for kind in ("RST", "close_notify", "FIN"):
        cid = b"stream-close-" + kind.encode()
        c, port = mqtt_conn(cid, "device-04")
        if kind == "RST":
            c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.s.close()
        elif kind == "close_notify":
            try:
                c.s.settimeout(3)
                c.s.unwrap().close()  # sends close_notify, then waits for the server's EOF
            except (OSError, ssl.SSLError):
                c.s.close()
        else:
            c.s.close()
        ev = conn_events("conn.close", port)
        check(f"{kind}: conn.close once, by client, 'connection closed by client'",
              len(ev) == 1 and ev[0].get("by") == "client"
              and ev[0].get("reason") == "connection closed by client", ev)
        d = disconnects(cid.decode())
        check(f"{kind}: mqtt.disconnect once, CONNECTION_LOST",
              len(d) == 1 and d[0].get("reason") == "CONNECTION_LOST", d)
        canary_round_trip(f"after-{kind}")

    # ---- 5. HTTPS lingering close ----------------------------------------------------------
    row("5. HTTPS lingering close")
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", CA,
                        "--cert", f"{PKI}/device-01.crt", "--key", f"{PKI}/device-01.key",
                        "-X", "POST", "--data-binary", "https-200",
                        f"https://localhost:{P8443}/topics/stream/canary?qos=1"],
                       capture_output=True, text=True, timeout=20)
    check("HTTPS publish (curl): 200", r.stdout == "200", (r.stdout, r.stderr))
    check("HTTPS publish reached the canary", canary.received("https-200"))

    # A Content-Length over the 128 KB payload limit is refused once the head is read
    # (http reader), while the client is still sending its body: the client must still
    # read the whole 413 answer, and keep sending without being reset.
    s = tls_socket(P8443, "device-02")
    port = s.getsockname()[1]
    s.sendall(b"POST /topics/stream/http?qos=1 HTTP/1.1\r\nHost: localhost\r\n"
              b"Content-Length: 1000000\r\n\r\n" + b"x" * 65536)
    ev = conn_events("http.response", port, 5)
    check("oversized HTTPS body: answered 413 before the body is done",
          ev and ev[0].get("status") == 413, ev)
    sent, send_err = 65536, None
    try:
        for _ in range(32):
            s.sendall(b"y" * 16384)
            sent += 16384
    except OSError as e:
        send_err = e
    check(f"oversized HTTPS body: the client went on sending ({sent // 1024} KB) without a "
          f"reset", send_err is None, send_err)
    resp, read_err = b"", None
    s.settimeout(5)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
    except OSError as e:
        read_err = e
    head, _, body = resp.partition(b"\r\n\r\n")
    clen = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
            if l.lower().startswith(b"content-length:")]
    check("oversized HTTPS body: the whole 413 answer read, then a clean EOF",
          resp.startswith(b"HTTP/1.1 413") and clen and len(body) == clen[0]
          and b'"message"' in body and read_err is None, (resp[:300], read_err))
    s.close()
    ev = conn_events("conn.close", port)
    check("oversized HTTPS body: conn.close once, by endpoint, 'HTTP request refused'",
          len(ev) == 1 and ev[0].get("by") == "endpoint"
          and ev[0].get("reason") == "HTTP request refused", ev)
    canary_round_trip("after-https")

    check("canary never lost its connection", not canary.drops and srv.proc.poll() is None,
          canary.drops)
    canary.stop()
finally:
    if "sc" in globals() and sc.poll() is None:
        sc.kill()
        sc.wait()
    rc = srv.stop()
check("serve exited cleanly on SIGTERM", rc == 0, rc)
print(f"took {time.monotonic() - T0:.1f} s")
iotclib.finish()
