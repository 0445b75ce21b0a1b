"""Attack kinds for the newest input paths (issue 10, endpoint trust): the TLS link from
`serve --broker` to `iotconform broker`, the state `serve --workers N` shares in its run
directory, registry credentials whose expiration passes while the endpoint serves, a
registry file edited while serving, and `iotconform fleet-merge` shard files."""
import datetime, hashlib, hmac, http.client, json, os, shutil, socket, ssl, struct, subprocess, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "../../fixtures"))


# ---- the broker link (serve --broker tls://HOST:PORT) ----------------------------------

def _stamp(secret, client_id, principal):
    """The identity stamp (sim/common/stamp.h): "v1:" + hex HMAC-SHA256(secret, id "\\n" principal)."""
    return b"v1:" + hmac.new(secret, client_id + b"\n" + principal, hashlib.sha256).hexdigest().encode()


def _link_tls(ctx, cert=None):
    c = ssl.create_default_context(cafile=f"{ctx.pki}/ca-bundle.crt")
    if cert:
        c.load_cert_chain(f"{ctx.pki}/{cert}.crt", f"{ctx.pki}/{cert}.key")
    return c.wrap_socket(socket.create_connection(("127.0.0.1", ctx.broker.port), timeout=5),
                         server_hostname="localhost")


def _connect_pkt(cid, user=None, password=None, keepalive=60):
    flags = 0x02 | (0x80 if user is not None else 0) | (0x40 if password is not None else 0)
    body = iotclib.s16(b"MQTT") + bytes([4, flags]) + struct.pack(">H", keepalive) + iotclib.s16(cid)
    if user is not None:
        body += iotclib.s16(user)
    if password is not None:
        body += iotclib.s16(password)
    return iotclib.pkt(0x10, body)


def _recv_some(s, timeout=3):
    """What the peer sends before it closes or goes quiet: (bytes, closed)."""
    s.settimeout(timeout)
    got = b""
    try:
        while len(got) < 4096:
            chunk = s.recv(4096)
            if not chunk:
                return got, True
            got += chunk
            if len(got) >= 2 and got[1] < 128 and len(got) >= 2 + got[1]:
                return got, False  # one whole (small) packet: CONNACK, PINGRESP
    except socket.timeout:
        return got, False
    except (ConnectionResetError, ssl.SSLError, OSError):
        return got, True
    return got, False


@attack("link_raw")
def link_raw(ctx, p):
    """Bytes (`hex`) at the broker's port, in the clear (`tls` false) or after a TLS
    handshake; observe whether it closed and whether a CONNACK came back."""
    s = _link_tls(ctx) if p.get("tls") else socket.create_connection(("127.0.0.1", ctx.broker.port), timeout=5)
    try:
        s.sendall(bytes.fromhex(p["hex"]))
        got, closed = _recv_some(s, p.get("timeout", 3))
        return {"closed": closed, "connack": got[:1] == b"\x20"}
    finally:
        s.close()


@attack("link_handshake")
def link_handshake(ctx, p):
    """A TLS handshake with the broker's port, its certificate verified for `localhost`."""
    try:
        _link_tls(ctx, p.get("cert")).close()
        return {"handshake": "ok"}
    except (ssl.SSLError, OSError) as e:
        return {"handshake": "refused", "error": str(e)[:200]}


@attack("link_connect")
def link_connect(ctx, p):
    """A CONNECT straight to the broker over TLS (optional client `cert`), stamped as
    `stamp` says: "right" (the shared secret, for this client ID and principal), "none",
    "wrong-secret", or "for-other-id" (a right stamp made for `stamp_client_id`); observe
    whether the broker accepted it (CONNACK 0, then PINGRESP to a PINGREQ)."""
    cid, principal = p.get("client_id", "link-direct").encode(), p.get("principal", "link-principal").encode()
    secret = open(ctx.broker.secret, "rb").read()
    mode = p["stamp"]
    if mode == "none":
        pkt = _connect_pkt(cid)
    else:
        key = os.urandom(32) if mode == "wrong-secret" else secret
        for_id = p.get("stamp_client_id", "other-id").encode() if mode == "for-other-id" else cid
        pkt = _connect_pkt(cid, principal, _stamp(key, for_id, principal))
    accepted = 0
    for _ in range(p.get("times", 1)):
        s = _link_tls(ctx, p.get("cert"))
        try:
            s.sendall(pkt)
            got, closed = _recv_some(s)
            ok = got[:2] == b"\x20\x02" and got[3:4] == b"\x00"
            if ok:
                s.sendall(b"\xc0\x00")
                pong, _ = _recv_some(s)
                ok = pong[:2] == b"\xd0\x00"
                s.sendall(b"\xe0\x00")
            accepted += ok
        finally:
            s.close()
    return {"accepted": accepted == p.get("times", 1), "count": accepted}


@attack("link_slowloris")
def link_slowloris(ctx, p):
    """`conns` TLS connections to the broker's port, each trickling one byte of a CONNECT
    every `interval_s` for `hold_s`; halfway, a right-stamped CONNECT must still be answered
    (the canary's messages cross the same link the whole time)."""
    secret = open(ctx.broker.secret, "rb").read()
    full = _connect_pkt(b"slow", b"slow", _stamp(secret, b"slow", b"slow"))
    socks = []
    for _ in range(p.get("conns", 40)):
        try:
            socks.append(_link_tls(ctx))
        except (ssl.SSLError, OSError):
            break
    out = {"opened": len(socks)}
    t0, sent, fresh_done = time.monotonic(), 0, False
    while time.monotonic() - t0 < p.get("hold_s", 4):
        for s in socks:
            try:
                s.sendall(full[sent:sent + 1])
            except (ssl.SSLError, OSError):
                pass
        sent = min(sent + 1, len(full) - 1)
        if not fresh_done and time.monotonic() - t0 >= p.get("hold_s", 4) / 2:
            fresh_done = True
            out["fresh_accepted"] = link_connect(ctx, {"stamp": "right", "client_id": "link-fresh",
                                                       "principal": "link-fresh"})["accepted"]
        time.sleep(p.get("interval_s", 0.5))
    for s in socks:
        s.close()
    return out


# ---- serve --workers N: the shared table (a sealed memfd) and RUN_DIR/workers.authz/ -----

def _connects(ctx, n, prefix):
    """n devices connect on 8883 (SO_REUSEPORT spreads them over the workers)."""
    codes = []
    for i in range(n):
        try:
            c = ctx.mqtt(cert="device-02")
            c.send(iotclib.connect(f"{prefix}-{i}".encode(), keepalive=30))
            codes.append(iotclib.connack_code(c.read_packet(5)))
            c.s.close()
        except OSError as e:
            codes.append(f"error {e}")
    return codes


def _shared_table(ctx):
    """The parent's shared table, as a worker reaches it: /proc/PARENT/fd/N."""
    fds = f"/proc/{ctx.serve.proc.pid}/fd"
    for n in os.listdir(fds):
        try:
            if "iotconform-workers" in os.readlink(f"{fds}/{n}"):
                return f"{fds}/{n}"
        except OSError:
            pass
    raise RuntimeError("no shared table among serve's descriptors")


@attack("shm_tamper")
def shm_tamper(ctx, p):
    """While serve --workers runs, `how` its shared table is tampered with (opened through
    /proc as its owner can): "lock-pid1" (the lock word set to pid 1, a process that never
    dies), "garbage" (its first 256 KiB overwritten with random bytes), "truncate" (cut
    to 0 bytes: mapped pages past the end would be SIGBUS), "none"; then `connects`
    devices connect and must all be accepted."""
    how, out = p["how"], {}
    if how != "none":
        with open(_shared_table(ctx), "r+b") as f:
            if how == "lock-pid1":
                f.write(struct.pack("<i", 1))
            elif how == "garbage":
                f.write(os.urandom(256 * 1024))
            elif how == "truncate":
                try:
                    os.ftruncate(f.fileno(), 0)
                    out["truncate"] = "done"
                except OSError as e:
                    out["truncate"] = f"refused ({e.strerror})"
    t0 = time.monotonic()
    codes = _connects(ctx, p.get("connects", 6), "shm-" + how)
    out.update(all_accepted=all(c == 0 for c in codes), codes=codes, ms=round((time.monotonic() - t0) * 1000))
    return out


def _serve_own(ctx, run_dir, args):
    prof = os.path.join(ctx.tmp, "profile.json")
    proc = subprocess.Popen([ctx.bin, "serve", "--pki", ctx.pki, "--ports", "0", "--profile", prof,
                             "--journal", os.path.join(os.path.dirname(run_dir), "journal.jsonl"),
                             "--run-dir", run_dir, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    return proc, (json.loads(line.split(" ", 1)[1])["ports"] if line.startswith("IOTCONFORM_READY ") else None)


def _stop(proc):
    proc.terminate()
    try:
        return proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


@attack("shm_plant")
def shm_plant(ctx, p):
    """Before `serve --workers 2` starts on a run directory, `plant` is left in it:
    "none", "leftover" (a workers.shm of an older version and an authz cache entry from a
    killed run), "symlink" (workers.shm -> a victim file), "hardlink" (workers.shm is a
    hard link of a victim file), "foreign" (workers.shm owned by another user, mode 0644),
    "authz-symlink" (workers.authz -> a victim directory with a file in it). The table
    is a memfd now, so nothing at workers.shm is ever opened. Observe whether serve
    started, a device's CONNACK, serve's exit status on SIGTERM, and whether the victims
    kept their content."""
    d = tempfile.mkdtemp(prefix="iotc-attack-shm-")
    run = os.path.join(d, "run")
    os.mkdir(run, 0o700)
    victim, vdir = os.path.join(d, "victim"), os.path.join(d, "victim-dir")
    open(victim, "wb").write(b"precious" * 64)
    os.mkdir(vdir)
    open(os.path.join(vdir, "keep"), "w").write("keep")
    shm, authz = os.path.join(run, "workers.shm"), os.path.join(run, "workers.authz")
    plant = p["plant"]
    if plant == "leftover":
        open(shm, "wb").write(b"\xff" * 4096)
        os.mkdir(authz, 0o700)
        open(os.path.join(authz, "0123456789abcdef"), "w").write('{"key":"x","expires":1e300,"response":"{}"}')
    elif plant == "symlink":
        os.symlink(victim, shm)
    elif plant == "hardlink":
        os.link(victim, shm)
    elif plant == "foreign":
        open(shm, "wb").write(b"foreign")
        os.chmod(shm, 0o644)
        os.chown(shm, 65534, 65534)
    elif plant == "authz-symlink":
        os.symlink(vdir, authz)
    proc, ports = _serve_own(ctx, run, ["--workers", "2"])
    out = {"started": ports is not None}
    if ports:
        codes = []
        for i in range(4):
            c = iotclib.Conn(ports["8883"], cert="device-02", pki=ctx.pki)
            c.send(iotclib.connect(f"plant-{plant}-{i}".encode(), keepalive=30))
            codes.append(iotclib.connack_code(c.read_packet(5)))
            c.s.close()
        out["all_accepted"] = all(c == 0 for c in codes)
        out["stale_authz_gone"] = not os.path.exists(os.path.join(authz, "0123456789abcdef"))
    out["exit"] = _stop(proc)
    if not ports:
        out["error"] = proc.stderr.read()[-300:]
    out["victims_intact"] = (open(victim, "rb").read() == b"precious" * 64 and
                             os.path.exists(os.path.join(vdir, "keep")))
    shutil.rmtree(d, ignore_errors=True)
    return out


# ---- the registry: expiration while serving, the file edited while serving -------------

EXPIRING = {"at": None}  # when links-expiring's credential expires (epoch seconds)


def _iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@registry_edit("links-expiring")
def _links_expiring(reg):
    """Two temporary credentials: one expiring 12 s after serve starts, one in 2099."""
    EXPIRING["at"] = int(time.time()) + 12
    for ak, exp in (("ASIALINKSEXPIRING1", _iso(EXPIRING["at"])), ("ASIALINKSLONGLIVED", "2099-12-31T23:59:59Z")):
        reg.setdefault("credentials", []).append({
            "access_key_id": ak, "secret_access_key": f"links/{ak}/secret", "session_token": f"token-{ak}",
            "expiration": exp, "policies": ["allow-all"]})


def _sigv4_post(conn, port, ak, secret, token, topic, body):
    """One SigV4-signed HTTPS publish (service iotdata) on an open keep-alive connection."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/us-east-1/iotdata/aws4_request"
    path = "/topics/" + topic
    headers = {"host": "localhost", "x-amz-date": amz}
    if token:
        headers["x-amz-security-token"] = token
    signed = ";".join(sorted(headers))
    creq = "\n".join(["POST", path, "qos=1", "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed,
                      hashlib.sha256(body).hexdigest()])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (day, "us-east-1", "iotdata", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    hdrs = {"Host": "localhost", "X-Amz-Date": amz, "Content-Length": str(len(body)),
            "Authorization": f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={signed}, Signature={sig}"}
    if token:
        hdrs["X-Amz-Security-Token"] = token
    conn.request("POST", path + "?qos=1", body=body, headers=hdrs)
    r = conn.getresponse()
    r.read()
    return r.status


def _credential(ctx, ak):
    reg = json.load(open(ctx.serve.registry_path or os.path.join(FIXTURES, "registry.json")))
    return next(c for c in reg["credentials"] if c["access_key_id"] == ak)


@attack("sigv4_expiry")
def sigv4_expiry(ctx, p):
    """HTTPS publishes signed with `key` on one keep-alive connection: one now, one after
    the links-expiring credential's expiration has passed (`wait`), then one on a new
    connection; observe the three statuses."""
    cred = _credential(ctx, p["key"])
    c = ssl.create_default_context(cafile=f"{ctx.pki}/ca-bundle.crt")
    port = ctx.port(443)
    sign = lambda conn: _sigv4_post(conn, port, cred["access_key_id"], cred["secret_access_key"],
                                    cred.get("session_token"), "links/expiry", b"x")
    conn = http.client.HTTPSConnection("localhost", port, context=c, timeout=10)
    out = {"before": sign(conn)}
    if p.get("wait") and EXPIRING["at"]:
        time.sleep(max(0.0, EXPIRING["at"] + 1.5 - time.time()))
    try:
        out["after_same_connection"] = sign(conn)
    except (http.client.HTTPException, OSError) as e:
        out["after_same_connection"] = f"closed: {type(e).__name__}"
    conn.close()
    conn = http.client.HTTPSConnection("localhost", port, context=c, timeout=10)
    out["after_new_connection"] = sign(conn)
    conn.close()
    return out


@attack("registry_edit_live")
def registry_edit_live(ctx, p):
    """Rewrites the registry file serve was started with (`how`: "garbage" or "untouched")
    while it serves; a new device then connects. serve reads the registry once, at start."""
    path = ctx.serve.registry_path
    saved = open(path, "rb").read()
    try:
        if p["how"] == "garbage":
            open(path, "wb").write(b"{\"certificates\": [ \x00\xff garbage")
        time.sleep(0.5)
        c = ctx.mqtt(cert=p.get("cert", "device-02"))
        c.send(iotclib.connect(p.get("client_id", "reg-live").encode(), keepalive=30))
        return {"connack": iotclib.connack_code(c.read_packet(5))}
    finally:
        open(path, "wb").write(saved)


@attack("registry_at_start")
def registry_at_start(ctx, p):
    """A second serve started on a registry file that is `how` ("garbage", "truncated"
    JSON, or "valid"); observe whether it started and, if not, its exit status and
    whether its message names the file."""
    d = tempfile.mkdtemp(prefix="iotc-attack-reg-")
    reg = iotclib.registry_copy(d, lambda r: None)
    text = open(reg, "rb").read()
    if p["how"] == "garbage":
        open(reg, "wb").write(b"\x00\xff not json")
    elif p["how"] == "truncated":
        open(reg, "wb").write(text[:len(text) // 2])
    proc, ports = _serve_own(ctx, os.path.join(d, "run"), ["--registry", reg])
    out = {"started": ports is not None}
    rc = _stop(proc)
    if ports:
        out["exit"] = rc
    else:
        err = proc.stderr.read()
        out["exit"], out["names_file"] = rc, reg in err
    shutil.rmtree(d, ignore_errors=True)
    return out


# ---- iotconform fleet-merge shard files ----------------------------------------------

SHARDS = {}  # run once per table: two real shard summaries from a small fleet


def _shards(ctx):
    if "files" in SHARDS:
        return SHARDS["files"]
    d = tempfile.mkdtemp(prefix="iotc-attack-shards-")
    spec = {"name": "links-shards", "duration_s": 2, "drain_s": 2, "start_spread_s": 0.2,
            "ramp": {"in_flight": 20, "timeout_s": 20}, "target": {"kind": "emulated", "profile": "default"},
            "defaults": {"qos": 1, "publish_interval_ms": 200, "max_messages": 3, "payload_bytes": 64,
                         "clean_session": True, "keepalive_s": 30},
            "rows": [{"row": "mqtt-x509-8883", "devices": 4, "peer_offset": 2,
                      "identities": ["device-03", "device-04"], "client_id": "links-{run}-{row}-{i}"}]}
    sp, tp = os.path.join(d, "spec.json"), os.path.join(d, "target.json")
    json.dump(spec, open(sp, "w"))
    json.dump({"host": "127.0.0.1", "sni": "localhost", "ca": f"{ctx.pki}/ca-bundle.crt", "pki": ctx.pki,
               "ports": {x: ctx.port(x) for x in ("8883", "8443", "443")}}, open(tp, "w"))
    run, procs, files = "links-" + os.urandom(3).hex(), [], []
    for k in (1, 2):
        files.append(os.path.join(d, f"shard-{k}.json"))
        procs.append(subprocess.Popen([ctx.bin, "fleet", "--quiet", "--shard", f"{k}/2", "--run", run,
                                       "--target", tp, "--json", files[-1], sp],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for pr in procs:
        _, err = pr.communicate(timeout=120)
        if pr.returncode not in (0, 1):
            raise RuntimeError(f"fleet shard: exit {pr.returncode}: {err[-300:]}")
    SHARDS.update(files=files, dir=d)
    return files


@attack("fleet_merge")
def fleet_merge(ctx, p):
    """fleet-merge of two real shards, `how` one is changed: "none", "duplicate" (shard 1
    given twice, shard 2 left out), "forged-totals" (shard 2's ledger claims 5 more
    messages per device than its devices published), "forged-seen" (shard 2's ledger
    says it received sequence numbers no device sent), "truncated" JSON, "oversize" (64 MiB of whitespace before
    the JSON), "traversal" (shard 2's row name is a path, and it is named ../ on the command
    line); observe the exit status, whether stderr explains, and the merged totals."""
    s1, s2 = _shards(ctx)
    d = tempfile.mkdtemp(prefix="iotc-attack-merge-")
    how = p["how"]
    files = [s1, s2]
    doc = json.load(open(s2))
    edited = os.path.join(d, "shard-2.json")
    if how == "duplicate":
        files = [s1, s1]
    elif how == "forged-totals":
        # [device, messages published]: 5 more per device than it published
        doc["ledger"]["sent"] = [[g, n + 5] for g, n in doc["ledger"]["sent"]]
        json.dump(doc, open(edited, "w"))
        files = [s1, edited]
    elif how == "forged-seen":
        # shard 2 claims it received messages 0..49 of every device it saw, more than any sent
        doc["ledger"]["seen"] = [[e[0], e[1], [0, 49]] for e in doc["ledger"]["seen"]]
        json.dump(doc, open(edited, "w"))
        files = [s1, edited]
    elif how == "truncated":
        text = open(s2).read()
        open(edited, "w").write(text[:len(text) * 2 // 3])
        files = [s1, edited]
    elif how == "oversize":
        with open(edited, "w") as f:
            f.write(" " * (64 << 20))
            f.write(open(s2).read())
        files = [s1, edited]
    elif how == "traversal":
        for r in doc.get("rows", []):
            r["row"] = "../../../../tmp/iotc-links-traversal"
        os.makedirs(os.path.join(d, "sub"))
        json.dump(doc, open(edited, "w"))
        files = [s1, os.path.join(d, "sub", "..", "shard-2.json")]
    out_json = os.path.join(d, "merged.json")
    t0 = time.monotonic()
    r = subprocess.run([ctx.bin, "fleet-merge", "--json", out_json, *files], capture_output=True, text=True,
                       timeout=60)
    merged = json.load(open(out_json)) if os.path.exists(out_json) else {}
    out = {"exit": r.returncode, "explains": bool(r.stderr.strip()) if r.returncode == 2 else None,
           "ms": round((time.monotonic() - t0) * 1000)}
    if merged:
        m = merged.get("messages", {})
        out["sent_is_shards_sum"] = m.get("sent") == sum(json.load(open(f)).get("messages", {}).get("sent", 0)
                                                         for f in (s1, s2))
    out["wrote_outside"] = os.path.exists("/tmp/iotc-links-traversal")
    if r.returncode == 2:
        out["stderr"] = r.stderr.strip()[-200:]
    shutil.rmtree(d, ignore_errors=True)
    return out
