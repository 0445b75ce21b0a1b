#!/usr/bin/env python3
"""The attack table: every input path of the endpoint, attacked, with a canary.

Usage: attacks.py IOTCONFORM PKI_DIR TABLE.json [--only ID_GLOB]

A table (format "iotconform-attacks/1") is data: each row names an attack `kind`
(a Python function registered by a kinds_*.py module beside this file), its
`params`, what the endpoint must do (`expect`, matched as a subset of what the
attack observed), and its `twin`: the row that does the same thing legitimately
and must be accepted, so a refusal can never pass by refusing everything.

While a row runs, a canary device (device-01 on 8883, its own client id) keeps
publishing QoS 1 to its own subscription. The row fails if the canary stops
round-tripping during the attack (a gap above `canary_max_gap_ms`, default 2000)
or cannot round-trip right after it. Rows that need a differently configured
endpoint say so in `serve` ({"profile": {...overrides}, "registry": "<edit name>",
"args": [...], "broker": true}); rows with the same `serve` share one endpoint.
"broker": true starts `iotconform broker` first and the endpoint with `--broker
tls://localhost:PORT`, so the canary's every message crosses that TLS link (ctx.broker:
its port, secret file and process).
"""
import fnmatch, glob, importlib.util, json, os, socket, ssl, statistics, subprocess, sys, tempfile, threading, time, traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../integration"))
import iotclib  # noqa: E402

KINDS = {}      # kind name -> function(ctx, params) -> observed dict
REGISTRY_EDITS = {}  # name -> function(registry dict) (for serve.registry)


def attack(name):
    """Registers an attack kind: fn(ctx, params) -> dict of observations."""
    def reg(fn):
        if name in KINDS:
            raise RuntimeError(f"attack kind {name} registered twice")
        KINDS[name] = fn
        return fn
    return reg


def registry_edit(name):
    def reg(fn):
        REGISTRY_EDITS[name] = fn
        return fn
    return reg


class Ctx:
    """What an attack gets: the endpoint, the PKI, the binary and a scratch dir."""

    def __init__(self, serve, pki, binary):
        self.serve, self.pki, self.bin = serve, pki, binary
        self.ports = serve.ports
        self.tmp = serve.tmp
        self.broker = getattr(serve, "broker", None)

    def port(self, logical):
        return self.ports[str(logical)] if str(logical) in self.ports else self.ports[logical]

    def mqtt(self, cert="device-01", port=8883, pace=True):
        return iotclib.Conn(self.port(port), cert=cert, pki=self.pki, pace=pace)

    def events(self, pred, timeout=3.0):
        return self.serve.events(pred, timeout)


class Canary(threading.Thread):
    """device-01 publishing QoS 1 to its own topic every interval; records round trips."""

    def __init__(self, ctx, row_id, interval=0.1):
        super().__init__(daemon=True)
        self.ctx, self.interval = ctx, interval
        self.cid = ("canary-" + row_id)[:100].encode()
        self.topic = b"canary/" + self.cid
        self.rtts, self.gaps = [], []
        self.errors = []
        self.stop_flag = threading.Event()
        self.last_ok = None

    def run(self):
        try:
            c = self.ctx.mqtt()
            c.send(iotclib.connect(self.cid, keepalive=30))
            if iotclib.connack_code(c.read_packet()) != 0:
                self.errors.append("canary CONNACK refused")
                return
            c.send(iotclib.subscribe([self.topic], pid=1, qos=1))
            c.read_packet()
            pid = 2
            self.last_ok = time.monotonic()
            while not self.stop_flag.is_set():
                t0 = time.monotonic()
                pid = pid % 60000 + 2
                c.send(iotclib.publish(self.topic, b"x", qos=1, pid=pid))
                got = False
                while time.monotonic() - t0 < 10:
                    p = c.read_packet(timeout=10)
                    if p is None:
                        self.errors.append("canary connection closed")
                        return
                    if p[0] == 3:  # the PUBLISH back: ack it
                        if (p[1] >> 1) & 3:
                            c.send(bytes([0x40, 2]) + p[2][2 + int.from_bytes(p[2][:2], "big"):][:2])
                        got = True
                        break
                now = time.monotonic()
                if not got:
                    self.errors.append("canary round trip timed out")
                    return
                self.gaps.append((now - self.last_ok) * 1000)
                self.rtts.append((now - t0) * 1000)
                self.last_ok = now
                self.stop_flag.wait(self.interval)
        except Exception as e:  # a canary failure is a row failure, with its reason
            self.errors.append(f"canary: {e!r}")

    def finish(self):
        self.stop_flag.set()
        self.join(15)


def subset_mismatches(expect, observed, path="$"):
    """Every way observed differs from expect (expect's keys only)."""
    out = []
    if isinstance(expect, dict):
        if not isinstance(observed, dict):
            return [f"{path}: expected an object, observed {observed!r}"]
        for k, v in expect.items():
            if k not in observed:
                out.append(f"{path}.{k}: expected {v!r}, not observed")
            else:
                out += subset_mismatches(v, observed[k], f"{path}.{k}")
    elif expect != observed:
        out.append(f"{path}: expected {expect!r}, observed {observed!r}")
    return out


def load_kinds():
    for path in sorted(glob.glob(os.path.join(HERE, "kinds_*.py"))):
        spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
        mod = importlib.util.module_from_spec(spec)
        mod.attack, mod.registry_edit, mod.iotclib = attack, registry_edit, iotclib
        spec.loader.exec_module(mod)


def validate(table, file):
    """Every problem in a table at once; a table with problems runs nothing."""
    probs = []
    if table.get("format") != "iotconform-attacks/1":
        probs.append(f"{file}: $.format must be \"iotconform-attacks/1\"")
    rows = table.get("rows")
    if not isinstance(rows, list) or not rows:
        return probs + [f"{file}: $.rows must be a non-empty array"]
    ids = {}
    allowed = {"id", "item", "title", "kind", "params", "expect", "twin", "serve",
               "canary", "canary_max_gap_ms", "note"}
    for i, r in enumerate(rows):
        where = f"{file}: $.rows[{i}]"
        for k in r:
            if k not in allowed:
                probs.append(f"{where}.{k}: unknown key")
        for k in ("id", "title", "kind", "expect", "twin"):
            if k not in r:
                probs.append(f"{where}: missing {k}")
        if r.get("kind") not in KINDS:
            probs.append(f"{where}.kind: unknown attack kind {r.get('kind')!r}")
        if r.get("id") in ids:
            probs.append(f"{where}.id: duplicate id {r.get('id')!r}")
        ids[r.get("id")] = r
        reg = (r.get("serve") or {}).get("registry")
        if reg and reg not in REGISTRY_EDITS:
            probs.append(f"{where}.serve.registry: unknown registry edit {reg!r}")
    for i, r in enumerate(rows):
        t = r.get("twin")
        if t not in ids:
            probs.append(f"{file}: $.rows[{i}].twin: no row {t!r}")
        elif ids[t].get("twin") != r.get("id") and ids[t].get("id") != r.get("id"):
            # twins point at each other, so every refusal has an acceptance beside it
            probs.append(f"{file}: $.rows[{i}].twin: row {t!r} does not name {r.get('id')!r} back")
    return probs


def serve_key(r):
    return json.dumps(r.get("serve") or {}, sort_keys=True)


class Broker:
    """`iotconform broker` on port 0 with a fresh 32-byte secret file (0600)."""

    def __init__(self, binary, pki):
        self.tmp = tempfile.mkdtemp(prefix="iotc-attack-broker-")
        self.secret = os.path.join(self.tmp, "secret")
        fd = os.open(self.secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, os.urandom(32))
        os.close(fd)
        self.proc = subprocess.Popen([binary, "broker", "--secret-file", self.secret, "--port", "0",
                                      "--pki", pki, "--run-dir", os.path.join(self.tmp, "run")],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("IOTCONFORM_BROKER_READY "):
            raise RuntimeError(line + self.proc.stderr.read())
        self.port = json.loads(line.split(" ", 1)[1])["port"]

    def stop(self):
        return iotclib.stop_process(self.proc, "broker")


def start_serve(binary, pki, spec):
    reg = None
    tmp_registry_dir = None
    if spec.get("registry"):
        import tempfile
        tmp_registry_dir = tempfile.mkdtemp(prefix="iotc-attack-reg-")
        reg = iotclib.registry_copy(tmp_registry_dir, REGISTRY_EDITS[spec["registry"]])
    # A row's "limits" add to default.json's instead of replacing them.
    profile = dict(spec.get("profile") or {})
    if "limits" in profile:
        base = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           "../../fixtures/profiles/default.json")))
        profile["limits"] = {**base.get("limits", {}), **profile["limits"]}
    args, broker = list(spec.get("args", ())), None
    if spec.get("broker"):
        broker = Broker(binary, pki)
        # localhost: the name in the broker's certificate
        args += ["--broker", f"tls://localhost:{broker.port}", "--broker-secret", broker.secret]
    try:
        serve = iotclib.Serve(binary, pki, profile_overrides=profile, prefix="iotc-attack-",
                              registry=reg, extra_args=args)
    except Exception:
        if broker:
            broker.stop()
        raise
    serve.broker, serve.registry_path = broker, reg
    return serve


def run_row(ctx, r):
    """Returns (ok, lines)."""
    lines = []
    canary = None
    if r.get("canary", True):
        canary = Canary(ctx, r["id"])
        canary.start()
        deadline = time.monotonic() + 10
        while not canary.rtts and not canary.errors and time.monotonic() < deadline:
            time.sleep(0.02)
        if not canary.rtts:
            canary.finish()
            return False, [f"canary never round-tripped before the attack: {canary.errors}"]
    t0 = time.monotonic()
    try:
        observed = KINDS[r["kind"]](ctx, r.get("params", {}))
    except Exception:
        observed = {"exception": traceback.format_exc(limit=3)}
    took = (time.monotonic() - t0) * 1000
    mism = subset_mismatches(r["expect"], observed)
    lines.append(f"observed {json.dumps(observed, sort_keys=True)[:600]}")
    if canary:
        n_before = len(canary.rtts)
        deadline = time.monotonic() + 5
        while len(canary.rtts) <= n_before and not canary.errors and time.monotonic() < deadline:
            time.sleep(0.02)
        canary.finish()
        max_gap = r.get("canary_max_gap_ms", 2000)
        worst = max(canary.gaps) if canary.gaps else None
        med = statistics.median(canary.rtts) if canary.rtts else None
        lines.append(f"canary: {len(canary.rtts)} round trips, median {med:.1f} ms, max "
                     f"{max(canary.rtts):.1f} ms, worst gap {worst:.0f} ms"
                     if canary.rtts else "canary: no round trips")
        if canary.errors:
            mism.append(f"canary failed: {canary.errors[0]}")
        elif len(canary.rtts) <= n_before:
            mism.append("canary did not round-trip after the attack")
        elif worst is not None and worst > max_gap:
            mism.append(f"canary stalled {worst:.0f} ms (> {max_gap} ms) during the attack")
    lines.append(f"took {took:.0f} ms")
    return not mism, lines + mism


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    binary, pki, table_path = sys.argv[1], sys.argv[2], sys.argv[3]
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    iotclib.PKI = pki
    load_kinds()
    try:
        table = json.load(open(table_path))
    except (OSError, ValueError) as e:
        print(f"{table_path}: {e}")
        return 2
    probs = validate(table, table_path)
    if probs:
        print("\n".join(probs))
        print(f"{len(probs)} problem(s) in the attack table")
        return 2
    rows = [r for r in table["rows"] if not only or fnmatch.fnmatch(r["id"], only)]
    groups = {}
    for r in rows:
        groups.setdefault(serve_key(r), []).append(r)
    passed = failed = 0
    for key, group in groups.items():
        serve = start_serve(binary, pki, json.loads(key))
        ctx = Ctx(serve, pki, binary)
        try:
            for r in group:
                ok, lines = run_row(ctx, r)
                print(f"{'ok  ' if ok else 'FAIL'} - {r['id']}: {r['title']}")
                for ln in lines:
                    print(f"       {ln}")
                passed, failed = passed + ok, failed + (not ok)
        finally:
            rc = serve.stop()
            if rc != 0:
                print(f"FAIL - endpoint exited with status {rc} after the rows above")
                failed += 1
            if serve.broker and serve.broker.stop() != 0:
                print("FAIL - the broker did not stop cleanly after the rows above")
                failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
