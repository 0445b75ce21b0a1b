#!/usr/bin/python3
"""The HTML report in a real browser: renders a results.json that holds passed,
failed, skipped and error cases (tests/unit/data/report/browser_mixed.json: a real
run with synthetic failures added) with `iotconform report`, opens it in headless
Chromium and drives it over the DevTools protocol. Checks: no console errors or
exceptions, one grid cell per case with the right status, a real mouse click on a
failed (and an errored) cell shows its reason, expected vs observed and an SVG
timeline, the status/row/suite filters hide exactly the right cells, deep links
open a case, nothing but file:/data: URLs is requested, and a 6,000-case report
stays fast. Writes report.png next to the report.

usage: test_report_browser.py IOTCONFORM FIXTURE OUT_DIR [SCREENSHOT_COPY]
Exit: 0 all checks passed, 1 a check failed, 77 chromium is not installed.
Only the standard library: the websocket client below is the ~60 lines CDP needs.
"""
import base64, copy, json, os, shutil, signal, socket, struct, subprocess, sys, tempfile, time

TIME_LIMIT_S = 60  # the whole test, including both reports' page loads
BIG_CASES = 6000   # "thousands of cases stay fast to open"
SYM = {"passed": "\u2713", "failed": "\u2717", "skipped": "\u2013", "error": "!"}

passed = failed = 0


def check(what, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   - {what}")
    else:
        failed += 1
        print(f"FAIL - {what} {detail}".rstrip())
    return cond


class WebSocket:
    """RFC 6455 client: text frames out (masked), text/continuation frames in."""

    def __init__(self, host, port, path, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("websocket upgrade: connection closed")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError("websocket upgrade refused: " + head.decode(errors="replace"))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("websocket closed by the browser")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self, opcode, payload):
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def send(self, text):
        self._frame(0x1, text.encode())

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("websocket close frame from the browser")
            if opcode == 0x9:  # ping
                self._frame(0xA, payload)
                continue
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if b0 & 0x80:
                    return message.decode()

    def close(self):
        self.sock.close()


class Page:
    """One page target over the browser websocket (flattened session)."""

    def __init__(self, ws):
        self.ws, self.next_id, self.events, self.session = ws, 0, [], None

    def call(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_event(self, name, timeout, since=None):
        """Waits for event name, looking at events from index since (default: new ones)."""
        deadline = time.time() + timeout
        seen = len(self.events) if since is None else since
        while time.time() < deadline:
            for m in self.events[seen:]:
                if m["method"] == name:
                    return m
            seen = len(self.events)
            self.ws.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                m = json.loads(self.ws.recv())
            except socket.timeout:
                break
            finally:
                self.ws.sock.settimeout(TIME_LIMIT_S)
            if "method" in m:
                self.events.append(m)
        raise TimeoutError(f"no {name} within {timeout} s")

    def js(self, expr):
        """Evaluates expr (awaiting promises) and returns its JSON value."""
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluate {expr[:60]!r}: {r['exceptionDetails'].get('text')} "
                               f"{r['exceptionDetails'].get('exception', {}).get('description', '')}")
        return r["result"].get("value")

    def open(self, url, timeout=30):
        # A navigation that only changes the #fragment fires no load event: leave first.
        mark = len(self.events)
        self.call("Page.navigate", {"url": "about:blank"})
        self.wait_event("Page.loadEventFired", timeout, mark)
        t0, mark = time.time(), len(self.events)
        self.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired", timeout, mark)
        return time.time() - t0

    def click(self, selector):
        """A real mouse click at the element's centre (scrolled into view first)."""
        box = self.js(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            if (!e) return null; e.scrollIntoView({{block: 'center', inline: 'center'}});
            const r = e.getBoundingClientRect();
            return {{x: r.left + r.width / 2, y: r.top + r.height / 2,
                     top: document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === e}}; }})()""")
        if not box:
            raise RuntimeError(f"click: no element {selector}")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box["x"], "y": box["y"],
                                                   "button": "left", "clickCount": 1})
        return box["top"]

    def problems(self):
        out = []
        for m in self.events:
            p = m.get("params", {})
            if m["method"] == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))
            elif m["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console." + p["type"] + ": " +
                           " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif m["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append("log: " + p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
        return out

    def requests(self):
        return [m["params"]["request"]["url"] for m in self.events
                if m["method"] == "Network.requestWillBeSent"]


def find_chromium():
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def start_browser(exe, profile_dir, log):
    proc = subprocess.Popen(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
         f"--user-data-dir={profile_dir}", "about:blank"],
        stdout=log, stderr=log, start_new_session=True)
    # Chromium writes the port it bound (and the browser target path) to this file.
    active = os.path.join(profile_dir, "DevToolsActivePort")
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode} before DevTools was up")
        try:
            with open(active) as f:
                lines = f.read().split("\n")
            if len(lines) >= 2 and lines[0].strip().isdigit() and lines[1].startswith("/"):
                return proc, int(lines[0]), lines[1].strip()
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise RuntimeError("chromium did not open its DevTools port within 30 s")


def attach_page(ws):
    page = Page(ws)
    target = page.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
    page.session = page.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                             session=False)["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        page.call(domain + ".enable")
    return page


def render(binary, sources, out_dir):
    r = subprocess.run([binary, "report", "-o", out_dir] + sources, capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"iotconform report failed ({r.returncode}): {r.stderr.strip()}")
    return os.path.join(out_dir, "report.html")


def visible_cells(page):
    return page.js("""Array.from(document.querySelectorAll('.case-cell'))
        .filter(e => e.getClientRects().length > 0)
        .map(e => [e.dataset.caseId, e.dataset.status, e.dataset.row, e.dataset.suite])""")


def set_filter(page, **values):
    """Sets the filter controls the way a user does (value + change event)."""
    sets = "".join(f"document.getElementById('f-{k}').value = {json.dumps(v)};" for k, v in values.items())
    page.js(f"""(() => {{ for (const id of ['f-status', 'f-row', 'f-suite']) document.getElementById(id).value = '';
        document.getElementById('f-text').value = ''; {sets}
        document.getElementById('f-status').dispatchEvent(new Event('change', {{bubbles: true}})); }})()""")


def check_filters(page, cases):
    for status in ("failed", "passed", "skipped", "error"):
        set_filter(page, status=status)
        vis = visible_cells(page)
        want = sorted(c["id"] for c in cases if c["status"] == status)
        check(f"filter status={status}: only its {len(want)} cells visible",
              sorted(v[0] for v in vis) == want, f"(visible {len(vis)})")
    row = cases[0]["row"]
    set_filter(page, row=row)
    vis = visible_cells(page)
    want = sorted(c["id"] for c in cases if c["row"] == row)
    check(f"filter row={row}: {len(want)} cells, other rows hidden",
          sorted(v[0] for v in vis) == want and
          page.js(f"Array.from(document.querySelectorAll('table.matrix tbody tr')).filter(t => "
                  f"t.getClientRects().length).every(t => t.dataset.row === {json.dumps(row)})"),
          f"(visible {len(vis)})")
    suite = cases[0]["suite"]
    set_filter(page, suite=suite, status="failed")
    vis = visible_cells(page)
    want = sorted(c["id"] for c in cases if c["suite"] == suite and c["status"] == "failed")
    check(f"filter suite={suite} + failed: {len(want)} cells", sorted(v[0] for v in vis) == want)
    check("filter count text says how many are shown",
          page.js("document.getElementById('f-count').textContent").startswith(f"{len(want)} of {len(cases)}"))
    set_filter(page)
    check("clearing the filters shows every cell again", len(visible_cells(page)) == len(cases))


def detail_state(page):
    return page.js("""(() => { const p = document.getElementById('detail');
        const r = p.getBoundingClientRect(), s = getComputedStyle(p);
        return {hidden: p.hidden, shown: !p.hidden && s.display !== 'none' && s.visibility !== 'hidden'
                    && r.width > 100 && r.height > 100 && r.left < innerWidth,
                text: p.innerText, svg: p.querySelectorAll('svg.timeline').length,
                marks: p.querySelectorAll('svg.timeline .ev').length,
                cmp: p.querySelectorAll('table.cmp tr.bad').length}; })()""")


def check_detail(page, case, label):
    sel = f'.case-cell[data-case-id="{case["id"]}"]'
    on_top = page.click(sel)
    check(f"{label} cell is clickable (not covered)", on_top)
    d = detail_state(page)
    check(f"clicking a {label} cell opens the detail panel", d["shown"], f"({d['hidden']=})")
    check(f"{label} detail shows the case id", case["id"] in d["text"])
    reason = case.get("reason") or ""
    check(f"{label} detail shows its reason", reason and reason in d["text"],
          f"(reason {reason[:80]!r} not in panel)")
    marks = sum(1 for e in case.get("journal", []) if isinstance(e.get("t_ms"), (int, float)))
    if marks:
        check(f"{label} detail draws an SVG timeline with one mark per journal event",
              d["svg"] == 1 and d["marks"] == marks, f"(svg {d['svg']}, marks {d['marks']}/{marks})")
    if case.get("mismatches"):
        check(f"{label} detail flags every mismatched field in expected vs observed",
              d["cmp"] == len(case["mismatches"]), f"({d['cmp']} rows flagged)")
    check(f"{label} selection is marked in the grid",
          page.js(f"document.querySelector({json.dumps(sel)}).classList.contains('selected')"))
    return d


def cert_case(i, verdict, status, device, observation, reason):
    return {"id": f"sdk.Case_{i}", "template": f"Case_{i}", "case": f"Case_{i}", "title": f"case {i}",
            "suite": "qualification", "row": "sdk", "family": "mqtt-backoff", "status": status,
            "verdict": verdict, "reason": reason, "duration_ms": 1000, "device_command": device["command"],
            "device": device, "observation": observation}


def check_certification(page, out_dir, binary):
    """A certification report: PASS_WITH_WARNINGS and INCONCLUSIVE have their own pills and do
    not count in the pass rate; the case panel shows the device command, how it exited (or
    that the budget ended it), the observation window and device.log."""
    log = "/tmp/iotc-cert-out/cases/Case_1/device.log"
    budget = {"command": "node sdk-device.js --endpoint localhost", "exit": "still running when the 240 s "
              "budget ended; stopped by the runner (killed by signal 15 after 240100 ms)", "log": log,
              "ended_by": "budget", "budget_ended": True, "ran_ms": 240000, "exit_status": None, "signal": 15}
    exited = {"command": "node sdk-device.js --v2", "exit": "exited with status 2 after 3120 ms",
              "log": "/tmp/iotc-cert-out/cases/Case_2/device.log", "ended_by": "device",
              "budget_ended": False, "ran_ms": 3120, "exit_status": 2, "signal": None}
    window = {"budget_ms": 240000, "series": 2, "series_run": 2, "judge": "backoff",
              "needs": {"retries": 6, "expect": "jitter"}, "ended_by": ["budget", "budget"]}
    doc = {"schema": "iotconform-results", "schema_version": 1,
           "run": {"id": "cert", "kind": "certification", "tool_version": "0.1.0"},
           "cases": [cert_case(0, "PASS", "passed", exited, window, "fine"),
                     cert_case(1, "PASS_WITH_WARNINGS", "passed", budget, window,
                               "retry delays 1.01, 2.01, 4.01, 8.01 s: exponential without jitter; the 240 s "
                               "budget ended while the device was still retrying"),
                     cert_case(2, "FAIL", "failed", exited, window,
                               "only 1 retry after the CONNACK was withheld: the device exited with status 2"),
                     cert_case(3, "INCONCLUSIVE", "error", budget, window,
                               "retry delays 1.01, 2.01 s: too few retries to classify; the 240 s budget ended")]}
    src = os.path.join(out_dir, "cert-results.json")
    with open(src, "w") as f:
        json.dump(doc, f)
    page.open("file://" + render(binary, [src], os.path.join(out_dir, "cert")))
    head = page.js("document.querySelector('header').innerText")
    check("certification totals: 1 passed, 1 passed with warnings, 1 inconclusive, each its own",
          all(t in head for t in ("1 passed", "1 passed with warnings", "1 inconclusive", "0 error")), head[:300])
    check("certification pass rate counts only PASS (1 of 4)", "Pass rate 25.0%" in head, head[:300])
    page.js("document.querySelector('.case-cell[data-case-id=\"sdk.Case_1\"]').click()")
    text = detail_state(page)["text"]
    for what, want in (("the device command", budget["command"]), ("that the budget ended the case", "budget ended the case"),
                       ("the runner's signal, not the device's exit", "signal 15 from the runner"),
                       ("the observation window", "up to 240 s per series, 2 series (2 ran); backoff: retries 6"),
                       ("the path of device.log", log)):
        check(f"certification panel shows {what}", want in text, text[:600])
    page.js("document.getElementById('detail-close').click()")
    page.js("document.querySelector('.case-cell[data-case-id=\"sdk.Case_2\"]').click()")
    text = detail_state(page)["text"]
    check("certification panel shows the device's own exit status", "exit status 2 after 3.1 s" in text
          and "the device exited by itself" in text, text[:600])
    page.js("document.getElementById('detail-close').click()")


def check_big(page, fixture_doc, out_dir, binary):
    """A synthetic run of BIG_CASES cases (the fixture's cases repeated with new ids)."""
    doc = copy.deepcopy(fixture_doc)
    base = doc["cases"]
    doc["cases"] = []
    for i in range(BIG_CASES):
        c = dict(base[i % len(base)])
        c["id"] = f"{c['id']}.r{i // len(base)}"
        doc["cases"].append(c)
    doc.pop("totals", None)
    src = os.path.join(out_dir, "big-results.json")
    with open(src, "w") as f:
        json.dump(doc, f)
    t0 = time.time()
    html = render(binary, [src], os.path.join(out_dir, "big"))
    rendered = time.time() - t0
    # A hang guard, not a performance target (those live in benchmarks): ~3 s on an idle
    # 2-core machine, and a loaded CI runner must not turn it red.
    print(f"       {BIG_CASES}-case report rendered in {rendered:.1f} s")
    check(f"{BIG_CASES}-case report renders (no hang: < 120 s)", rendered < 120, f"({rendered:.1f} s)")
    mb = os.path.getsize(html) / 1e6
    load = page.open("file://" + html, timeout=45)
    n = page.js("document.querySelectorAll('.case-cell').length")
    print(f"info - {BIG_CASES} cases: {mb:.1f} MB html, rendered in {rendered:.2f} s, loaded in {load:.2f} s")
    check(f"{BIG_CASES}-case report loads in < 15 s", load < 15, f"({load:.1f} s)")
    check(f"{BIG_CASES}-case report has {BIG_CASES} cells", n == BIG_CASES, f"({n})")
    ms = page.js("""(() => { const t = performance.now(), s = document.getElementById('f-status');
        s.value = 'failed'; s.dispatchEvent(new Event('change')); const n =
        document.querySelectorAll('.case-cell:not(.hidden)').length;
        s.value = ''; s.dispatchEvent(new Event('change')); return [performance.now() - t, n]; })()""")
    want = sum(1 for c in doc["cases"] if c["status"] == "failed")
    check(f"{BIG_CASES}-case filter round trip < 1.5 s and exact", ms[0] < 1500 and ms[1] == want,
          f"({ms[0]:.0f} ms, {ms[1]} of {want})")
    fail_id = next(c["id"] for c in doc["cases"] if c["status"] == "failed")
    t0 = time.time()
    page.js(f"document.querySelector('.case-cell[data-case-id=\"{fail_id}\"]').click()")
    opened = time.time() - t0
    ok = check(f"{BIG_CASES}-case first detail open (parses the data) < 3 s",
               opened < 3 and detail_state(page)["shown"], f"({opened:.2f} s)")
    if ok and not failed:  # ~40 MB: keep it only to debug a failure
        os.remove(src)
        shutil.rmtree(os.path.join(out_dir, "big"), ignore_errors=True)


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    binary, fixture, out_dir = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
    copy_to = sys.argv[4] if len(sys.argv) > 4 else None
    exe = find_chromium()
    if not exe:
        print("SKIP: chromium is not installed (ci/install-deps.sh installs the Debian "
              "'chromium' package); the HTML report was not tested in a browser")
        return 77

    def on_alarm(*_):
        raise TimeoutError(f"test took longer than {TIME_LIMIT_S} s")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TIME_LIMIT_S)

    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    with open(fixture) as f:
        doc = json.load(f)
    cases = doc["cases"]
    statuses = {c["status"] for c in cases}
    if statuses != {"passed", "failed", "skipped", "error"}:
        print(f"FAIL - fixture must hold all four statuses, has {sorted(statuses)}")
        return 1
    profile_dir = tempfile.mkdtemp(prefix="iotc-chromium-")
    log = open(os.path.join(out_dir, "chromium.log"), "w")
    proc = ws = None
    try:
        html = render(binary, [fixture], os.path.join(out_dir, "report"))
        proc, port, path = start_browser(exe, profile_dir, log)
        ws = WebSocket("127.0.0.1", port, path, timeout=45)
        page = attach_page(ws)
        page.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1440, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        url = "file://" + html
        page.open(url)
        page.call("Runtime.evaluate", {"expression": "1"})  # flush pending console events

        ids = page.js("Array.from(document.querySelectorAll('.case-cell')).map(e => [e.dataset.caseId, "
                      "e.dataset.status, e.className, e.textContent.trim()])")
        check(f"grid has exactly one .case-cell per case ({len(cases)})", len(ids) == len(cases),
              f"({len(ids)} cells)")
        check("every case id has its cell, with its status",
              sorted((i[0], i[1]) for i in ids) == sorted((c["id"], c["status"]) for c in cases))
        wrong = [i[0] for i in ids if f"st-{i[1]}" not in i[2].split() or i[3] != SYM.get(i[1])]
        check("each cell's colour class and symbol match its status", not wrong, str(wrong[:3]))
        check("totals show the pass rate",
              "Pass rate" in page.js("document.querySelector('header').innerText"))
        check("environment table lists the tool and library versions",
              all(page.js(f"document.getElementById('env').innerText.includes({json.dumps(str(v))})")
                  for v in (doc["run"]["tool_version"], doc["environment"]["openssl"])))
        check("matrix aggregate cells carry a symbol as well as a colour",
              page.js("Array.from(document.querySelectorAll('td.agg:not(.empty) .agg-label'))"
                      ".every(e => /^[\\u2713\\u2717\\u2013!]/.test(e.textContent))"))

        err_case = next(c for c in cases if c["status"] == "error")
        first_fail = next(c for c in cases if c["status"] == "failed" and c.get("journal"))
        check_detail(page, err_case, "error")
        page.js("document.getElementById('detail-close').click()")
        check("close button hides the detail panel", detail_state(page)["hidden"])
        for c in cases:
            if c["status"] == "failed" and c is not first_fail:
                check_detail(page, c, "failed")
                page.js("document.getElementById('detail-close').click()")
        check_filters(page, cases)

        page.open(url + "#case=" + first_fail["id"].replace(".", "%2E"))
        check("a #case= deep link opens that case", first_fail["reason"] in detail_state(page)["text"])
        page.open(url)
        page.js("scrollTo(0, 0)")
        check_detail(page, first_fail, "failed (screenshot)")
        page.js("document.querySelector('.case-cell.selected').blur()")
        shot = page.call("Page.captureScreenshot", {"format": "png"})["data"]
        png = os.path.join(out_dir, "report", "report.png")
        with open(png, "wb") as f:
            f.write(base64.b64decode(shot))
        size = os.path.getsize(png)
        check(f"screenshot written: {png} ({size // 1024} KB)",
              size > 10000 and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n")
        if copy_to:
            shutil.copyfile(png, copy_to)
            print(f"info - screenshot copied to {copy_to}")

        problems = page.problems()
        check("no console errors, exceptions or error log entries", not problems, "; ".join(problems))
        bad = [u for u in page.requests() if not u.startswith(("file://", "data:"))]
        check(f"no network requests ({len(page.requests())} requests, all file:/data:)", not bad,
              " ".join(bad[:5]))

        before = len(page.events)
        check_certification(page, out_dir, binary)
        problems = page.problems()
        check("certification report: no console errors", not problems, "; ".join(problems[:3]))
        check_big(page, doc, out_dir, binary)
        page.events = page.events[before:]
        problems = page.problems()
        check(f"{BIG_CASES}-case report: no console errors", not problems, "; ".join(problems[:3]))
    except Exception as e:  # a protocol or browser failure is a test failure, with its reason
        check("browser session", False, f"{type(e).__name__}: {e}")
    finally:
        signal.alarm(0)
        if ws:
            ws.close()
        if proc:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(profile_dir, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
