"""Attack kinds for resource exhaustion and failure (issue 10, items 7 to 11): an
authorizer flood, running out of descriptors, a journal that cannot be written or
grows without bound, a broker killed right after its PUBACKs, and run-directory abuse."""
import json, os, resource, shutil, socket, ssl, struct, subprocess, time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROFILE = os.path.join(HERE, "../../fixtures/profiles/default.json")


def _connect_user(cid, username, keepalive=30):
    """MQTT 3.1.1 CONNECT with a username (custom authorizer credentials)."""
    s16 = iotclib.s16
    body = s16(b"MQTT") + bytes([4, 0x82]) + struct.pack(">H", keepalive) + s16(cid) + s16(username)
    return iotclib.pkt(0x10, body)


def _tls443(ctx, alpn="mqtt"):
    """TLS to 443 without a client certificate, ALPN `mqtt` (custom authentication)."""
    c = ssl.create_default_context(cafile=f"{ctx.pki}/ca-bundle.crt")
    c.set_alpn_protocols([alpn])
    s = c.wrap_socket(socket.create_connection(("127.0.0.1", ctx.port(443)), timeout=10),
                      server_hostname="localhost")
    return s


def _read_connack(s, timeout):
    s.settimeout(timeout)
    buf = b""
    try:
        while len(buf) < 4:
            chunk = s.recv(64)
            if not chunk:
                return "closed"
            buf += chunk
    except (socket.timeout, ssl.SSLError, OSError):
        return "closed" if buf == b"" else "partial"
    return buf[3] if buf[0] == 0x20 else "other"


def _journal(ctx):
    with open(ctx.serve.journal) as f:
        return [json.loads(ln) for ln in f if ln.strip()]


# ---- item 7: custom authorizer flood -------------------------------------------------

@attack("authz_flood")
def authz_flood(ctx, p):
    """`n` TLS connections to 443 (no certificate) first, then every CONNECT at once,
    each with an unsigned token the authorizer refuses. Observe that every connect is
    answered, that no more authorizers ran at once than the cap, and that the ones
    that found no slot were journaled (authz.queue full/timeout)."""
    n = p.get("n", 200)
    user = p.get("username", "dev?x-amz-customauthorizer-name=unsigned-authorizer&token=t-{i}")
    mark = len(_journal(ctx))
    socks = []
    for i in range(n):
        try:
            socks.append(_tls443(ctx))
        except OSError:
            break
    t0 = time.monotonic()
    for i, s in enumerate(socks):
        s.sendall(_connect_user(f"flood-{i}".encode(), user.format(i=i).encode()))
    codes = {}
    for s in socks:
        left = max(0.1, p.get("answer_within_s", 20) - (time.monotonic() - t0))
        code = _read_connack(s, left)
        codes[str(code)] = codes.get(str(code), 0) + 1
        s.close()
    took = time.monotonic() - t0
    evs = _journal(ctx)[mark:]
    q = [e for e in evs if e.get("event") == "authz.queue"]
    refused = sum(1 for e in q if e.get("result") in ("full", "timeout"))
    cap = p.get("cap")
    max_running = max([e.get("running", 0) for e in q] or [0])
    return {"opened": len(socks), "connack": codes, "all_answered": sum(codes.get(k, 0) for k in ("5", "closed")) == len(socks),
            "refused_journaled": refused > 0 if p.get("expect_refusals", True) else refused,
            "running_within_cap": cap is None or max_running <= cap, "seconds": round(took, 2)}


@attack("authz_connect")
def authz_connect(ctx, p):
    """One custom-auth connect on 443 (ALPN mqtt) with a token the authorizer allows."""
    s = _tls443(ctx)
    s.sendall(_connect_user(b"authz-ok", p.get("username", "dev?x-amz-customauthorizer-name=unsigned-authorizer&token=token-alpha").encode()))
    code = _read_connack(s, 10)
    s.close()
    return {"connack": code}


# ---- item 8: out of descriptors -------------------------------------------------------

def _cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])  # utime + stime


@attack("emfile_episode")
def emfile_episode(ctx, p):
    """Lowers serve's descriptor limit to what it uses plus `headroom`, opens `flood`
    plain TCP connections to 8883 (the accept queue fills and accept4 fails EMFILE),
    measures serve's CPU over `sample_s`, counts the accept_error journal lines, closes
    the flood and times a new device's TLS handshake and CONNACK."""
    pid = ctx.serve.proc.pid
    used = len(os.listdir(f"/proc/{pid}/fd"))
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    mark = len(_journal(ctx))
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (used + p.get("headroom", 20), old[1]))
    flood = []
    out = {}
    try:
        for _ in range(p.get("flood", 80)):
            flood.append(socket.create_connection(("127.0.0.1", ctx.port(8883)), timeout=5))
        time.sleep(0.5)  # let serve reach the limit
        hz = os.sysconf("SC_CLK_TCK")
        c0, t0 = _cpu_ticks(pid), time.monotonic()
        time.sleep(p.get("sample_s", 3))
        cpu = (_cpu_ticks(pid) - c0) / hz / (time.monotonic() - t0) * 100
        out["cpu_percent"] = round(cpu, 1)
        out["cpu_below_bound"] = cpu < p.get("cpu_max_percent", 20)
    finally:
        for s in flood:
            s.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
    t1 = time.monotonic()
    c = ctx.mqtt()
    c.send(iotclib.connect(b"after-emfile", keepalive=30))
    out["new_device_connack"] = iotclib.connack_code(c.read_packet(10))
    out["new_device_ms"] = round((time.monotonic() - t1) * 1000)
    out["new_device_prompt"] = out["new_device_ms"] < p.get("new_device_max_ms", 2000)
    time.sleep(0.2)
    evs = _journal(ctx)[mark:]
    out["accept_error_lines"] = sum(1 for e in evs if e.get("event") == "endpoint.accept_error")
    out["resumed_journaled"] = any(e.get("event") == "endpoint.accept_resumed" for e in evs)
    return out


@attack("mqtt_connect")
def mqtt_connect(ctx, p):
    """A device connects on 8883; observe its CONNACK and accept errors in the journal."""
    mark = len(_journal(ctx))
    t1 = time.monotonic()
    c = ctx.mqtt(cert=p.get("cert", "device-01"))
    c.send(iotclib.connect(p.get("client_id", "plain-connect").encode(), keepalive=30))
    out = {"connack": iotclib.connack_code(c.read_packet(10)), "ms": round((time.monotonic() - t1) * 1000)}
    out["accept_error_lines"] = sum(1 for e in _journal(ctx)[mark:] if e.get("event") == "endpoint.accept_error")
    return out


# ---- item 9: the journal --------------------------------------------------------------

def _spawn_serve(ctx, run_dir, journal, profile=None, timeout=20):
    """Own serve process; returns (proc, ready_dict or None, stderr so far if it exited)."""
    prof = json.load(open(DEFAULT_PROFILE))
    prof.update(profile or {})
    ppath = f"{ctx.tmp}/profile-{os.getpid()}-{time.monotonic_ns()}.json"
    json.dump(prof, open(ppath, "w"))
    proc = subprocess.Popen([ctx.bin, "serve", "--pki", ctx.pki, "--ports", "0", "--profile", ppath,
                             "--journal", journal, "--run-dir", run_dir],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if line.startswith("IOTCONFORM_READY "):
        return proc, json.loads(line.split(" ", 1)[1]), None
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return proc, None, proc.stderr.read()


def _stop(proc):
    proc.terminate()
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


@attack("journal_unwritable")
def journal_unwritable(ctx, p):
    """serve with `--journal <path>`: observe its exit status and what stderr says."""
    proc, ready, err = _spawn_serve(ctx, f"{ctx.tmp}/run-jfull", p["path"])
    if ready:
        rc = _stop(proc)
        err = proc.stderr.read()
        return {"ready": True, "exit": rc, "stderr_names_failure": "write failed" in err}
    return {"ready": False, "exit": proc.returncode,
            "stderr_names_failure": f"journal {p['path']}: write failed" in (err or ""),
            "stderr_last_line": (err or "").strip().splitlines()[-1][-200:] if (err or "").strip() else ""}


@attack("journal_flood")
def journal_flood(ctx, p):
    """A device publishes `count` QoS 0 messages of `bytes`; then every journal line
    must parse, the file must stay under the profile cap, and the journal must end with
    journal.truncated when the cap was reached (and not otherwise)."""
    c = ctx.mqtt()
    c.send(iotclib.connect(b"journal-flood", keepalive=30))
    code = iotclib.connack_code(c.read_packet())
    payload = b"j" * p.get("bytes", 100)
    for i in range(p.get("count", 100)):
        c.send(iotclib.publish(b"jflood/t", payload, qos=0))
    c.send(iotclib.publish(b"jflood/t", b"end", qos=1, pid=9))
    c.read_packet(10)  # the PUBACK: everything before it was handled
    time.sleep(0.3)
    size = os.path.getsize(ctx.serve.journal)
    bad, last, n = 0, None, 0
    with open(ctx.serve.journal, "rb") as f:
        for ln in f:
            n += 1
            try:
                last = json.loads(ln)
            except ValueError:
                bad += 1
            if not ln.endswith(b"\n"):
                bad += 1
    cap = p.get("cap")
    return {"connack": code, "lines": n, "partial_or_bad_lines": bad,
            "within_cap": cap is None or size <= cap,
            "ends_with_truncated": bool(last and last.get("event") == "journal.truncated"),
            "serve_running": ctx.serve.proc.poll() is None}


# ---- item 10: acknowledged QoS 1 across a broker kill -9 ------------------------------

def _broker_pid(ctx):
    ready = [e for e in _journal(ctx) if e.get("event") == "broker.ready"]
    return ready[-1]["pid"] if ready else None, len(ready)


@attack("qos1_broker_kill")
def qos1_broker_kill(ctx, p):
    """A persistent subscriber goes offline; a publisher sends `count` QoS 1 messages and
    gets every PUBACK; with `kill` the broker is killed -9 at once. When the broker is
    back, the subscriber resumes: how many distinct messages arrive?"""
    n = p.get("count", 20)
    tag = p.get("tag", "k")
    topic = f"dur/{tag}".encode()
    sub = ctx.mqtt(cert="device-02")
    sub.send(iotclib.connect(f"dur-sub-{tag}".encode(), keepalive=30, clean=False))
    out = {"sub_connack": iotclib.connack_code(sub.read_packet())}
    sub.send(iotclib.subscribe([topic], pid=1, qos=1))
    sub.read_packet()
    sub.send(bytes([0xE0, 0]))
    sub.s.close()
    time.sleep(0.3)
    pub = ctx.mqtt()
    pub.send(iotclib.connect(f"dur-pub-{tag}".encode(), keepalive=30))
    pub.read_packet()
    for i in range(n):
        pub.send(iotclib.publish(topic, f"m{i}".encode(), qos=1, pid=i + 1))
    acks = 0
    while acks < n:
        q = pub.read_packet(10)
        if q is None:
            break
        acks += q[0] == 4
    out["pubacks"] = acks
    if p.get("kill"):
        pid, nready = _broker_pid(ctx)
        os.kill(pid, 9)
        deadline = time.monotonic() + 15
        while _broker_pid(ctx)[1] <= nready and time.monotonic() < deadline:
            time.sleep(0.05)
        out["broker_restarted"] = _broker_pid(ctx)[1] > nready
        time.sleep(0.3)
    got = set()
    sub = ctx.mqtt(cert="device-02")
    sub.send(iotclib.connect(f"dur-sub-{tag}".encode(), keepalive=30, clean=False))
    out["resume_connack"] = iotclib.connack_code(sub.read_packet())
    deadline = time.monotonic() + p.get("collect_s", 3)
    while time.monotonic() < deadline:
        q = sub.read_packet(max(0.05, deadline - time.monotonic()))
        if q is None:
            break
        if q[0] == 3:
            tl = int.from_bytes(q[2][:2], "big")
            pid_b = q[2][2 + tl:4 + tl]
            got.add(q[2][4 + tl:])
            if (q[1] >> 1) & 3:
                sub.send(bytes([0x40, 2]) + pid_b)
    out["delivered"] = len(got)
    out["all_delivered"] = len(got) == n
    sub.send(iotclib.connect(f"dur-sub-{tag}".encode(), keepalive=30, clean=True))  # drop the session
    return out


# ---- item 11: run directory -----------------------------------------------------------

@attack("run_dir_second_serve")
def run_dir_second_serve(ctx, p):
    """A second serve on the running endpoint's own run directory: refused (exit 2, a
    message that says it is in use), and the first still connects a new device."""
    proc, ready, err = _spawn_serve(ctx, f"{ctx.tmp}/run", f"{ctx.tmp}/second.jsonl")
    if ready:
        _stop(proc)
    c = ctx.mqtt()
    c.send(iotclib.connect(b"after-second-serve", keepalive=30))
    return {"second_ready": bool(ready), "second_exit": proc.returncode,
            "says_in_use": "in use by another serve" in (err or ""),
            "first_connack": iotclib.connack_code(c.read_packet(10))}


@attack("run_dir_given")
def run_dir_given(ctx, p):
    """serve --run-dir on a directory prepared as `setup` says ("fresh": does not exist,
    "shared": exists with mode 1777, "own": exists with `mode`, "symlink": a link to a directory, "foreign": owned by
    another user); observe READY or the exit status and message, and the mode after."""
    base = f"{ctx.tmp}/rd-{p['setup']}-{time.monotonic_ns()}"
    d = base
    if p["setup"] == "shared":
        os.mkdir(d)
        os.chmod(d, 0o1777)
    elif p["setup"] == "symlink":
        os.mkdir(base + "-target", 0o700)
        os.symlink(base + "-target", d)
    elif p["setup"] == "own":
        os.mkdir(d)
        os.chmod(d, int(p.get("mode", "700"), 8))
    elif p["setup"] == "foreign":
        if os.geteuid() == 0:
            os.mkdir(d, 0o700)
            os.chown(d, 65534, 65534)
        else:
            d = "/"  # root's: foreign to anyone else
    proc, ready, err = _spawn_serve(ctx, d, f"{ctx.tmp}/rd-{p['setup']}.jsonl")
    out = {"ready": bool(ready)}
    if ready:
        c = iotclib.Conn(ready["ports"]["8883"], pki=ctx.pki)
        c.send(iotclib.connect(b"run-dir-dev", keepalive=30))
        out["connack"] = iotclib.connack_code(c.read_packet(10))
        out["mode_while_serving"] = oct(os.lstat(d).st_mode & 0o7777)
        out["exit"] = _stop(proc)
    else:
        out["exit"] = proc.returncode
        out["message"] = (err or "").strip().splitlines()[-1][-160:] if err else ""
        for word in p.get("message_has", []):
            out[f"says {word}"] = word in (err or "")
    if os.path.lexists(d) and d != "/":
        out["mode_after"] = oct(os.lstat(d).st_mode & 0o7777)
    return out
