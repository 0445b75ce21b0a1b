#!/usr/bin/python3
"""AWS's own IoT device SDKs certified as they are (fixtures/adapters/aws-sdk-*.json, the
SDKs installed by ci/install-deps.sh at the versions package-lock.json pins): every
case's verdict must be the one tests/integration/data/sdk-verdicts.json records (and
the README shows), and a non-PASS reason must contain the recorded `match`.

  test_certify_sdk.py BIN PKI SRC run ADAPTER...   the qualification cases, adapters at once
  test_certify_sdk.py BIN PKI SRC full ADAPTER...  every case of the data (not under ctest)
  test_certify_sdk.py BIN PKI SRC readme           the README table is the data's

The SDKs run at time scale 1 with their real timeouts: the jitter case at a 20-30 s
CONNACK timeout takes minutes, so the adapters run at the same time (each with
certify --jobs, longest case first, the series of a case at once) and the ctest test
that runs them is the first to start (COST)."""
import json, os, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iotclib import check, finish

BIN, PKI, SRC, MODE = sys.argv[1:5]
ADAPTERS = sys.argv[5:]
DATA = json.load(open(os.path.join(SRC, "tests/integration/data/sdk-verdicts.json")))
QUAL = json.load(open(os.path.join(SRC, "suites/certification.json")))["suites"]["qualification"]
SDK_DIR = os.path.join(SRC, "fixtures/adapters/aws-sdk")
SHORT = {"PASS": "PASS", "PASS_WITH_WARNINGS": "WARN", "FAIL": "FAIL", "ERROR": "ERROR"}
README_BEGIN = "<!-- sdk-verdicts: generated from tests/integration/data/sdk-verdicts.json -->"
README_END = "<!-- /sdk-verdicts -->"


def readme_table():
    """The README block: one column per SDK, a footnote per non-PASS verdict."""
    ads = DATA["adapters"]
    cases = list(next(iter(ads.values()))["cases"])
    notes, lines = [], []
    lines.append("| case | Q | " + " | ".join(f"{a['title']}" for a in ads.values()) + " |")
    lines.append("|---|:-:|" + "---|" * len(ads))
    for case in cases:
        cells = []
        for name, a in ads.items():
            e = a["cases"][case]
            cell = SHORT[e["verdict"]]
            if e["verdict"] != "PASS":
                notes.append(f"{name}: {e.get('why', 'NO REASON RECORDED')}")
                cell += f" ({len(notes)})"
            cells.append(cell)
        lines.append(f"| {case} | {'Q' if case in QUAL else ''} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"{i}. {n}" for i, n in enumerate(notes, 1)]
    return "\n".join([README_BEGIN] + lines + [README_END])


# Two cases at once per SDK: the jitter case (minutes, mostly waiting) and the others in
# turn, which finish well within it; more would only start Node.js processes together.
JOBS = int(os.environ.get("IOTC_SDK_JOBS", "2"))


def certify(adapter, cases, jobs):
    out = tempfile.mkdtemp(prefix=f"iotc-sdk-{adapter}-")
    t0 = time.time()
    p = subprocess.run([BIN, "certify", "--adapter", adapter, "--suite", ",".join(cases),
                        "--jobs", str(jobs), "--pki", PKI, "--out", out],
                       capture_output=True, text=True, timeout=900)
    took = time.time() - t0
    try:
        doc = json.load(open(f"{out}/results.json"))
    except (OSError, ValueError) as e:
        doc = {"cases": [], "verdicts": {}, "error": f"{e}: {p.stderr[-2000:]}"}
    return adapter, p, doc, took, out


def judge(adapter, p, doc, took, out, cases):
    want = DATA["adapters"][adapter]["cases"]
    print(f"{adapter}: {len(cases)} case(s) in {took:.1f} s (report {out}/report.html)")
    check(f"{adapter}: results.json written", "error" not in doc, doc.get("error"))
    got = {c["case"]: c for c in doc["cases"]}
    check(f"{adapter}: every selected case ran", sorted(got) == sorted(cases), sorted(got))
    bad = doc["verdicts"].get("FAIL", 0) + doc["verdicts"].get("ERROR", 0)
    check(f"{adapter}: exit status follows the verdicts", p.returncode == (1 if bad else 0), p.returncode)
    for case in cases:
        c, e = got.get(case), want[case]
        if not c:
            continue
        check(f"{adapter}: {case}: {e['verdict']}", c["verdict"] == e["verdict"],
              f"{c['verdict']}: {c['reason']} (device {c.get('device_exit')})")
        if "match" in e:
            check(f"{adapter}: {case}: the reason names \"{e['match']}\"", e["match"] in c["reason"], c["reason"])
        print(f"     {case}: {c['verdict']} in {c['duration_ms'] / 1000:.1f} s: {c['reason'][:160]}")


def installed():
    """The SDKs must be there: CI installs them, so their absence is a failure."""
    mods = os.path.join(SDK_DIR, "node_modules")
    ok = subprocess.run(["node", "-e", "require('aws-crt'); require('aws-iot-device-sdk-v2'); "
                         "require('aws-iot-device-sdk')"], cwd=SDK_DIR, capture_output=True, text=True) \
        if os.path.isdir(mods) else None
    check("the AWS SDKs are installed and aws-crt's native binary loads (ci/install-deps.sh)",
          ok is not None and ok.returncode == 0, ok.stderr[-600:] if ok else f"{mods} missing")
    return ok is not None and ok.returncode == 0


def pinned():
    """package.json pins exactly the versions the data (and the README) name."""
    deps = json.load(open(os.path.join(SDK_DIR, "package.json")))["dependencies"]
    lock = json.load(open(os.path.join(SDK_DIR, "package-lock.json")))["packages"]
    for name, version in DATA["versions"].items():
        got = lock.get(f"node_modules/{name}", {}).get("version")
        check(f"package-lock.json pins {name} {version}", got == version, got)
        if name in deps:
            check(f"package.json asks for exactly {name} {version}", deps[name] == version, deps[name])


if MODE == "readme":
    pinned()
    for name, a in DATA["adapters"].items():
        missing = [c for c in QUAL if c not in a["cases"]]
        check(f"{name}: the data covers the whole qualification suite (CI certifies it)", not missing, missing)
        for case, e in a["cases"].items():
            if e["verdict"] != "PASS":
                check(f"{name}: {case}: its {e['verdict']} has a one-line reason", bool(e.get("why")))
    text = open(os.path.join(SRC, "README.md")).read()
    have = text[text.find(README_BEGIN):text.find(README_END) + len(README_END)] if README_BEGIN in text else ""
    check("README's SDK table is tests/integration/data/sdk-verdicts.json", have == readme_table(),
          "print it with: tests/integration/test_certify_sdk.py - - . table")
elif MODE == "table":
    print(readme_table())
    sys.exit(0)
elif MODE in ("run", "full") and ADAPTERS and installed():
    t0 = time.time()
    runs = [(a, [c for c in DATA["adapters"][a]["cases"] if MODE == "full" or c in QUAL])
            for a in ADAPTERS]
    with ThreadPoolExecutor(max_workers=len(runs) or 1) as pool:
        futs = [(cases, pool.submit(certify, a, cases, JOBS)) for a, cases in runs]
        for cases, f in futs:
            judge(*f.result(), cases)
    print(f"{len(runs)} SDK(s) certified at once in {time.time() - t0:.1f} s")
elif MODE not in ("run", "full") or not ADAPTERS:
    check(f"usage: MODE run|full ADAPTER... or readme (got {MODE} {ADAPTERS})", False)
finish()
