"""Shared helpers for the integration tests: raw MQTT packets over real TLS (every byte
under the test's control), a `serve` child on ephemeral ports, and pass/fail counting."""
import json, os, socket, ssl, struct, subprocess, sys, tempfile, threading, time

passed = failed = 0


def check(what, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   - {what}")
    else:
        failed += 1
        print(f"FAIL - {what} {detail!r}")


def finish():
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def stop_process(proc, name):
    """SIGTERM, SIGKILL after 10 s; the exit status. An abnormal exit prints the process's
    stderr, so a crash explains itself."""
    proc.terminate()
    try:
        rc = proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = -9
    if rc != 0:
        print(f"{name} stderr (tail):\n" + proc.stderr.read()[-4000:])
    return rc


class Serve:
    """`iotconform serve --ports 0` with an optional profile override; .ports, .journal."""

    def __init__(self, bin_path, pki, profile_overrides=None, prefix="iotc-it-", registry=None,
                 extra_args=(), env=None, preexec_fn=None):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        here = os.path.dirname(os.path.abspath(__file__))
        profile = json.load(open(os.path.join(here, "../../fixtures/profiles/default.json")))
        profile.update(profile_overrides or {})
        ppath = f"{self.tmp}/profile.json"
        json.dump(profile, open(ppath, "w"))
        self.journal = f"{self.tmp}/journal.jsonl"
        extra = (["--registry", registry] if registry else []) + list(extra_args)
        self.proc = subprocess.Popen([bin_path, "serve", "--pki", pki, "--ports", "0", "--profile", ppath,
                                      "--journal", self.journal, "--run-dir", f"{self.tmp}/run", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env, preexec_fn=preexec_fn)
        line = self.proc.stdout.readline()
        if not line.startswith("IOTCONFORM_READY "):
            raise RuntimeError(line + self.proc.stderr.read())
        self.ports = json.loads(line.split(" ", 1)[1])["ports"]
        rate = profile.get("limits", {}).get("connect_per_s_per_client_id", 1)
        for port in self.ports.values():
            PACE_S[port] = profile.get("time_scale", 1.0) / rate if rate else 0.0

    def events(self, pred, timeout=3.0):
        deadline = time.time() + timeout
        while True:
            with open(self.journal) as f:
                hits = [e for e in map(json.loads, f) if pred(e)]
            if hits or time.time() > deadline:
                return hits
            time.sleep(0.02)

    def stop(self):
        return stop_process(self.proc, "serve")


def varint(n):
    out = b""
    while True:
        b = n % 128; n //= 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out

def s16(b): return struct.pack(">H", len(b)) + b
def pkt(first, body): return bytes([first]) + varint(len(body)) + body

def connect(cid, v=4, keepalive=60, clean=True):
    flags = 0x02 if clean else 0
    body = s16(b"MQTT") + bytes([v, flags]) + struct.pack(">H", keepalive)
    if v == 5:
        body += b"\x00"
    return pkt(0x10, body + s16(cid))

def publish(topic, payload, qos=0, v=4, pid=1):
    body = s16(topic) + (struct.pack(">H", pid) if qos else b"") + (b"\x00" if v == 5 else b"") + payload
    return pkt(0x30 | (qos << 1), body)

def subscribe(filters, v=4, pid=1, qos=1):
    body = struct.pack(">H", pid) + (b"\x00" if v == 5 else b"")
    for f in filters:
        body += s16(f) + bytes([qos])
    return pkt(0x82, body)

# AWS IoT Core takes one CONNECT per second per client ID, and so does `serve` by default
# (README "throttling"); the AWS SDKs never reconnect sooner than 1 s (aws-c-mqtt
# AWS_MQTT5_DEFAULT_MIN_RECONNECT_DELAY_MS). A Conn behaves like such a device: a CONNECT
# whose client ID was connected on the same port less than one quota interval ago waits
# until that interval has passed since the earlier CONNECT was answered (its CONNACK, or
# the close). PACE_S: port -> interval (s), from each Serve's profile (time_scale /
# rate; 0 = no quota); other ports: 1 s. Conn(pace=False) is for tests of the quota.
PACE_S = {}
_answered = {}  # (port, client id) -> time.monotonic() of the last CONNECT's answer


def _connect_client_id(b):
    """The client ID of a CONNECT packet (MQTT 3.1.1 or 5), or None if b is not one."""
    try:
        if not b or b[0] != 0x10:
            return None
        i = 1
        while b[i] & 0x80:
            i += 1
        i += 1
        i += 2 + struct.unpack(">H", b[i:i+2])[0]  # protocol name
        v = b[i]
        i += 4  # version, flags, keep-alive
        if v == 5:
            n, mult = 0, 1
            while True:
                c = b[i]; n += (c & 127) * mult; mult *= 128; i += 1
                if not c & 128:
                    break
            i += n
        ln = struct.unpack(">H", b[i:i+2])[0]
        return bytes(b[i+2:i+2+ln])
    except (IndexError, struct.error):
        return None


class Conn:
    port, pace, pending = None, True, None  # also for a Conn made around another socket

    def __init__(self, port, cert="device-01", pki=None, pace=True):
        pki = pki or PKI
        ctx = ssl.create_default_context(cafile=f"{pki}/ca-bundle.crt")
        ctx.load_cert_chain(f"{pki}/{cert}.crt", f"{pki}/{cert}.key")
        self.s = ctx.wrap_socket(socket.create_connection(("localhost", port)), server_hostname="localhost")
        self.s.settimeout(5)
        self.buf = b""
        self.port, self.pace, self.pending = port, pace, None
    def send(self, b):
        cid = _connect_client_id(b)
        if cid:  # an empty client ID gets a fresh one from the endpoint: nothing to pace
            key = (self.port, cid)
            if self.pace and key in _answered:
                left = _answered[key] + PACE_S.get(self.port, 1.0) - time.monotonic()
                if left > 0:
                    time.sleep(left)
            self.pending = key
            _answered[key] = time.monotonic()  # until the answer comes
        self.s.sendall(b)
    def _answered(self):
        if self.pending:
            _answered[self.pending] = time.monotonic()
            self.pending = None
    def read_packet(self, timeout=5):
        """Returns (type, flags, body), or None when the server closed the connection."""
        p = self._read_packet(timeout)
        if p is None or p[0] == 2:
            self._answered()
        return p
    def _read_packet(self, timeout):
        self.s.settimeout(timeout)
        try:
            while True:
                if len(self.buf) >= 2:
                    mult, n, i = 1, 0, 1
                    while i < len(self.buf):
                        b = self.buf[i]; n += (b & 127) * mult; mult *= 128; i += 1
                        if not b & 128:
                            break
                    else:
                        i = None
                    if i and len(self.buf) >= i + n:
                        p = self.buf[:i + n]; self.buf = self.buf[i + n:]
                        return (p[0] >> 4, p[0] & 15, p[i:])
                chunk = self.s.recv(65536)
                if not chunk:
                    return None
                self.buf += chunk
        except (ConnectionResetError, ssl.SSLError, OSError):
            return None
    def closed(self, timeout=5):
        """True when the server closes the connection (after whatever it sends first)."""
        while True:
            p = self.read_packet(timeout)
            if p is None:
                return True
            if p[0] == 14:  # DISCONNECT: keep reading until the close
                continue

def v5_props(body, off):
    """Parses an MQTT 5 property block at body[off:], returns dict id->value."""
    mult, n, i = 1, 0, off
    while True:
        b = body[i]; n += (b & 127) * mult; mult *= 128; i += 1
        if not b & 128:
            break
    props, end = {}, i + n
    while i < end:
        pid = body[i]; i += 1
        if pid in (0x24, 0x25, 0x28, 0x29, 0x2A, 0x01, 0x17, 0x19):
            props[pid] = body[i]; i += 1
        elif pid in (0x13, 0x21, 0x22, 0x23):
            props[pid] = struct.unpack(">H", body[i:i+2])[0]; i += 2
        elif pid in (0x11, 0x02, 0x27, 0x18):
            props[pid] = struct.unpack(">I", body[i:i+4])[0]; i += 4
        elif pid in (0x12, 0x1F, 0x03, 0x08, 0x1A, 0x1C, 0x15, 0x09, 0x16):
            ln = struct.unpack(">H", body[i:i+2])[0]; props[pid] = body[i+2:i+2+ln]; i += 2 + ln
        elif pid == 0x26:  # user property: a list of (key, value)
            kl = struct.unpack(">H", body[i:i+2])[0]; k = body[i+2:i+2+kl]; i += 2 + kl
            vl = struct.unpack(">H", body[i:i+2])[0]; v = body[i+2:i+2+vl]; i += 2 + vl
            props.setdefault(0x26, []).append((k.decode(), v.decode()))
        elif pid == 0x0B:  # subscription identifier (varint)
            n2, mult = 0, 1
            while True:
                b = body[i]; n2 += (b & 127) * mult; mult *= 128; i += 1
                if not b & 128:
                    break
            props[pid] = n2
        else:
            raise ValueError(f"property {pid}")
    return props



def registry_copy(tmpdir, edit):
    """A copy of fixtures/registry.json with absolute fixture paths, changed by edit(dict)."""
    here = os.path.dirname(os.path.abspath(__file__))
    fixtures = os.path.normpath(os.path.join(here, "../../fixtures"))
    reg = json.load(open(f"{fixtures}/registry.json"))
    for p in reg.get("policies", []):
        p["file"] = f"{fixtures}/{p['file']}"
    for a in reg.get("authorizers", []):
        if "program" in a:
            a["program"][0] = f"{fixtures}/{a['program'][0]}"
    edit(reg)
    path = f"{tmpdir}/registry.json"
    json.dump(reg, open(path, "w"))
    return path


PKI = None  # set by the test (iotclib.PKI = sys.argv[2])


def connack_code(p):
    return p[2][1] if p and p[0] == 2 else None


def suback_codes(p, v=4):
    """SUBACK codes (for MQTT 5 the property block is skipped)."""
    if not p or p[0] != 9:
        return None
    body = p[2][2:]
    if v == 5:
        n, i, mult = 0, 0, 1
        while True:
            b = body[i]; n += (b & 127) * mult; mult *= 128; i += 1
            if not b & 128:
                break
        body = body[i + n:]
    return list(body)


def unsubscribe(filters, v=4, pid=1):
    body = struct.pack(">H", pid) + (b"\x00" if v == 5 else b"")
    for f in filters:
        body += s16(f)
    return pkt(0xA2, body)


class Canary:
    """A paho device subscribed at QoS 1 to its own topic, which must keep round-tripping
    while a test attacks the endpoint around it. `received(tag)` waits for a payload that
    reached it by any path (e.g. an HTTPS publish); `drops` lists its disconnects."""

    def __init__(self, port, ca, cert, key, client_id, topic):
        import paho.mqtt.client as mqtt
        self.topic, self.got, self.drops = topic, [], []
        self.cond, up, subscribed = threading.Condition(), threading.Event(), threading.Event()
        c = self.client = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)
        c.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
        c.on_message = self._on_message
        # AWS IoT requires waiting for CONNACK before anything else: subscribe after it.
        c.on_connect = lambda *a: up.set()
        c.on_disconnect = lambda cl, u, rc: self.drops.append(rc)
        c.on_subscribe = lambda *a: subscribed.set()
        c.connect("localhost", port, keepalive=60)
        c.loop_start()
        check(f"{client_id} connected", up.wait(5))
        c.subscribe(topic, qos=1)
        check(f"{client_id} subscribed", subscribed.wait(5))

    def _on_message(self, c, u, m):
        with self.cond:
            self.got.append(m.payload.decode())
            self.cond.notify_all()

    def received(self, tag, timeout=5):
        with self.cond:
            return self.cond.wait_for(lambda: tag in self.got, timeout=timeout)

    def round_trip(self, tag, what=None):
        self.client.publish(self.topic, tag, qos=1)
        check(what or f"canary round trip {tag}", self.received(tag))

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()
