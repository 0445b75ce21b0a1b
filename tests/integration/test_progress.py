#!/usr/bin/python3
"""`iotconform run` and `certify` output: under a pseudo-terminal one redrawn progress line
(done/total, failures, elapsed, ETA) with failures on their own lines; piped, plain
`progress:` lines at every 10% plus failures; --verbose the per-case lines; --quiet
failures only. The summary line and `report: <path>` end every mode unchanged.

Failures on purpose: the `default` profile in a copied profiles directory makes SNI
optional, so the x509.sni-missing cases (AWS refuses a missing SNI) fail."""
import fcntl, json, os, pty, re, shutil, struct, subprocess, sys, tempfile, termios
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iotclib import check, finish

BIN, SRC, PKI, OUT = sys.argv[1:5]
shutil.rmtree(OUT, ignore_errors=True)
os.makedirs(OUT)
profiles = f"{OUT}/profiles"
shutil.copytree(f"{SRC}/fixtures/profiles", profiles)
prof = json.load(open(f"{profiles}/default.json"))
prof["sni"] = "optional"
json.dump(prof, open(f"{profiles}/default.json", "w"))
ENV = dict(os.environ, IOTCONFORM_PROFILES=profiles)
SEL = ["--suite", "x509", "--filter", "x509.sni-missing.mqtt-x509-8883.*",
       "--filter", "x509.sni-endpoint.mqtt-x509-8883.*", "--pki", PKI, "--jobs", "2"]
N, NFAIL = 8, 4


def run_pty(args, cols=120):
    """Runs args with stdin/stdout/stderr on a pseudo-terminal of `cols` columns;
    returns (exit status, everything written). Reads until the child closes the tty."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    p = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=ENV, close_fds=True)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child side is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(), out.decode(errors="replace")


BAR = re.compile(r"\r\x1b\[K\[[#.]+\] (\d+)/(\d+) +(\d+)%  (\d+) failed  elapsed \d+:\d\d  ETA (\d+:\d\d|--:--)")
FAIL = re.compile(r"^\[(\d+)/8\] FAIL (x509\.sni-missing\.mqtt-x509-8883\.[a-z0-9.]+): (.+)$", re.M)

# --- run on a terminal
rc, out = run_pty([BIN, "run", *SEL, "--out", f"{OUT}/tty"])
check("tty: exit 1 (cases failed)", rc == 1, (rc, out[-1500:]))
bars = BAR.findall(out)
check("tty: progress line drawn with \\r + erase, done/total, failures, elapsed, ETA", bars, out[:1500])
check("tty: the bar never claims more than total",
      all(int(d) <= int(t) == N for d, t, *_ in bars), bars)
check("tty: the last bar is 8/8 100% with 4 failed",
      bars and bars[-1][:4] == ("8", "8", "100", str(NFAIL)), bars[-1:])
clean = out.replace("\r\x1b[K", "\n")
fails = FAIL.findall(clean)
check("tty: every failure printed as it happens, on its own line with its reason",
      len(fails) == NFAIL and all(r.strip() for _, _, r in fails), fails)
check("tty: no per-case PASS lines", not re.search(r"\[\d+/8\] PASS", out), out[:2000])
lines = [l for l in out.replace("\r\n", "\n").split("\n") if l.strip()]
check("tty: ends with the summary and the report path",
      len(lines) >= 2 and re.match(r"8 case\(s\): 4 passed, 4 failed, 0 errored, 0 skipped \(\d+ ms\)$", lines[-2])
      and lines[-1] == f"report: {os.path.realpath(OUT)}/tty/report.html", lines[-3:])
segs = [s for s in re.split(r"\r\x1b\[K|\r?\n", out) if "elapsed" in s]
check("tty: the progress line fits the terminal (a wrapped line breaks \\r redraws)",
      segs and all(len(s) < 120 for s in segs), max(map(len, segs or [""])))

# --- a narrow terminal: the bar is dropped before the text wraps
rc, out = run_pty([BIN, "run", *SEL, "--out", f"{OUT}/narrow"], cols=50)
segs = re.split(r"\r\x1b\[K|\r?\n", out)
check("narrow tty: the progress text fits in 50 columns",
      all(len(s) < 50 for s in segs if "elapsed" in s) and any("elapsed" in s for s in segs), segs[:6])

# --- piped (CI logs)
p = subprocess.run([BIN, "run", *SEL, "--out", f"{OUT}/pipe"], capture_output=True, text=True, env=ENV)
err = p.stderr
prog = re.findall(r"^progress: (\d+)/8 +(\d+)%  (\d+) failed  elapsed \d+:\d\d  ETA (?:\d+:\d\d|--:--)$", err, re.M)
check("pipe: exit 1", p.returncode == 1, p.returncode)
check("pipe: a progress line at every 10% step (8 cases: each one)", [d for d, *_ in prog] == [str(i) for i in range(1, 9)], prog)
check("pipe: no terminal control characters", "\r" not in err and "\x1b" not in err, repr(err[:300]))
check("pipe: failures printed with their reasons", len(FAIL.findall(err)) == NFAIL, err[-1500:])
check("pipe: summary on stderr, report path on stdout, as before",
      re.search(r"^8 case\(s\): 4 passed, 4 failed", err, re.M) and p.stdout == f"report: {os.path.realpath(OUT)}/pipe/report.html\n",
      p.stdout)

# --- --verbose: today's per-case lines
p = subprocess.run([BIN, "run", *SEL, "--verbose", "--out", f"{OUT}/verbose"], capture_output=True, text=True, env=ENV)
per_case = re.findall(r"^\[(\d+)/8\] (PASS |FAIL ) (\S+) \(\d+ ms\)$", p.stderr, re.M)
check("--verbose: one [k/n] line per case", len(per_case) == N, p.stderr[-2000:])
check("--verbose: no progress lines", "progress:" not in p.stderr)
check("--verbose: the reason under each failure", len(re.findall(r"^\[\d+/8\] FAIL .*\n {8}\S", p.stderr, re.M)) == NFAIL)

# --- --quiet: failures only
p = subprocess.run([BIN, "run", *SEL, "--quiet", "--out", f"{OUT}/quiet"], capture_output=True, text=True, env=ENV)
check("--quiet: failures, no progress", len(FAIL.findall(p.stderr)) == NFAIL and "progress:" not in p.stderr, p.stderr[-1500:])
p = subprocess.run([BIN, "run", "--quiet", "--verbose", "--list"], capture_output=True, text=True)
check("--quiet with --verbose is a usage error (exit 2)", p.returncode == 2 and "exclude" in p.stderr, p.stderr[:200])

# --- certify: the same line; a device that exits at once errors every case
rc, out = run_pty([BIN, "certify", "--device", "true", "--suite", "TLS_Connect,MQTT_Connect",
                   "--time-scale", "0.1", "--pki", PKI, "--out", f"{OUT}/certify"])
cbars = BAR.findall(out)
check("certify tty: progress line, ends 2/2 with 2 failed", cbars and cbars[-1][:4] == ("2", "2", "100", "2"), out[-1500:])
check("certify tty: each ERROR on its own line with the reason",
      len(re.findall(r"^\[\d/2\] ERROR (TLS_Connect|MQTT_Connect): the device never connected", out.replace("\r\x1b[K", "\n"), re.M)) == 2,
      out[-1500:])
check("certify tty: ends with the summary and the report path",
      re.search(r"device: 2 case\(s\): 0 PASS, 0 PASS_WITH_WARNINGS, 0 FAIL, 2 ERROR, 0 INCONCLUSIVE, 0 SKIPPED \(\d+ ms\)\r?\nreport: \S+report.html\r?\n$", out),
      out[-400:])
p = subprocess.run([BIN, "certify", "--device", "true", "--suite", "TLS_Connect,MQTT_Connect",
                    "--time-scale", "0.1", "--pki", PKI, "--out", f"{OUT}/certify-pipe", "--verbose"],
                   capture_output=True, text=True, env=ENV)
check("certify --verbose: one [k/n] line per case", len(re.findall(r"^\[\d/2\] (TLS|MQTT)_Connect +ERROR", p.stderr, re.M)) == 2, p.stderr)
finish()
