#!/usr/bin/python3
"""results.json against its schema: runs a real small `iotconform run` (10 cases over
MQTT and HTTPS rows) and validates the document against reports/results.schema.json
(the machine-readable form of reports/SCHEMA.md) plus the rules JSON Schema cannot say
(unique ids, totals = counts, status/verdict agree, failures carry their reason).
Then proves the checks can fail: each mutation of the real document (a required
field removed, a wrong type, a bad enum) must be rejected by the schema, and the ones
SCHEMA.md makes reader-required must be rejected by `iotconform report` too.

usage: test_results_schema.py IOTCONFORM SCHEMA_JSON OUT_DIR
The validator is standard-library only and refuses schema keywords it does not
implement, so the schema cannot quietly ask for a check that never runs.
"""
import copy, json, os, re, shutil, subprocess, sys

FILTERS = ["x509.sni-missing.mqtt-x509-8883.*", "x509.mqtt-roundtrip-qos1.mqtt-x509-8883.*",
           "x509.https-publish-qos1.https-x509-8443.ipv4.*"]
WANT_CASES = 10
VERDICT = {"passed": {"PASS", "PASS_WITH_WARNINGS"}, "failed": {"FAIL"}, "error": {"ERROR", "INCONCLUSIVE"},
           "skipped": {"SKIPPED"}}

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


ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "examples", "default"}
KEYWORDS = {"$ref", "$defs", "type", "const", "enum", "required", "properties",
            "additionalProperties", "items", "minItems", "maxItems", "minLength", "minimum",
            "maximum", "pattern"}
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def unsupported(schema, where="#"):
    """Keywords of the schema this validator does not implement."""
    out = []
    if isinstance(schema, dict):
        for k, v in schema.items():
            if k not in KEYWORDS and k not in ANNOTATIONS:
                out.append(f"{where}/{k}")
            if k in ("properties", "$defs"):
                for name, sub in v.items():
                    out += unsupported(sub, f"{where}/{k}/{name}")
            elif k in ("items", "additionalProperties") and isinstance(v, dict):
                out += unsupported(v, f"{where}/{k}")
    return out


def is_type(value, name):
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[name])


def validate(value, schema, root, path="$"):
    """JSON Schema (the subset in KEYWORDS) -> list of 'path: problem' strings."""
    errs = []
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            return [f"{path}: unsupported $ref {ref}"]
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        errs += validate(value, target, root, path)
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(is_type(value, n) for n in names):
            return errs + [f"{path}: expected {'/'.join(names)}, got {type(value).__name__}"]
    if "const" in schema and not (value == schema["const"] and type(value) is type(schema["const"])):
        errs.append(f"{path}: must be {json.dumps(schema['const'])}, got {json.dumps(value)[:60]}")
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{path}: {json.dumps(value)[:60]} is not one of {schema['enum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errs.append(f"{path}: shorter than {schema['minLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errs.append(f"{path}: {value[:60]!r} does not match {schema['pattern']}")
    if is_type(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(f"{path}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(f"{path}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errs.append(f"{path}: missing required \"{key}\"")
        props = schema.get("properties", {})
        for key, sub in value.items():
            if key in props:
                errs += validate(sub, props[key], root, f"{path}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errs += validate(sub, schema["additionalProperties"], root, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                errs.append(f"{path}: unexpected key \"{key}\"")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errs.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append(f"{path}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errs += validate(item, schema["items"], root, f"{path}[{i}]")
    return errs


def semantic(doc):
    """The rules of SCHEMA.md that are not structure."""
    errs = []
    cases = doc.get("cases", [])
    ids = [c.get("id") for c in cases]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        errs.append(f"duplicate case ids {sorted(dup)[:3]}")
    counts = {s: sum(c.get("status") == s for c in cases) for s in VERDICT}
    warned = sum(c.get("verdict") == "PASS_WITH_WARNINGS" for c in cases)
    inconclusive = sum(c.get("verdict") == "INCONCLUSIVE" for c in cases)
    # Disjoint counts: PASS_WITH_WARNINGS and INCONCLUSIVE are not inside passed / errored.
    want = {"total": len(cases), "passed": counts["passed"] - warned, "passed_with_warnings": warned,
            "failed": counts["failed"], "skipped": counts["skipped"],
            "errored": counts["error"] - inconclusive, "inconclusive": inconclusive}
    if doc.get("totals") != want:
        errs.append(f"totals {doc.get('totals')} do not match the cases {want}")
    run = doc.get("run", {})
    if run.get("started_at", "") > run.get("finished_at", ""):
        errs.append("run.started_at is after run.finished_at")
    for c in cases:
        st = c.get("status")
        if st in VERDICT and c.get("verdict") not in VERDICT[st]:
            errs.append(f"{c.get('id')}: verdict {c.get('verdict')} contradicts status {st}")
        if st in ("failed", "error") and not c.get("reason"):
            errs.append(f"{c.get('id')}: {st} without a reason")
        if st == "failed" and not c.get("mismatches"):
            errs.append(f"{c.get('id')}: failed without mismatches")
        if not (run.get("started_at", "") <= c.get("started_at", "") <= run.get("finished_at", "~")):
            errs.append(f"{c.get('id')}: started_at outside the run")
    return errs


def mutations(doc):
    """(name, mutate(doc), the reader must refuse it too)."""
    def drop(path):
        def f(d):
            *parents, last = path
            for p in parents:
                d = d[p]
            del d[last]
        return f

    def put(path, value):
        def f(d):
            *parents, last = path
            for p in parents:
                d = d[p]
            d[last] = value
        return f

    out = [(f"top-level \"{k}\" removed", drop([k]), k in ("schema", "schema_version", "run", "cases"))
           for k in ("schema", "schema_version", "run", "environment", "target", "totals", "cases")]
    for k in ("id", "title", "suite", "row", "status"):
        out.append((f"cases[0].{k} removed", drop(["cases", 0, k]), True))
    for k in ("ip_family", "tls_version", "requirement", "verdict", "reason", "expected",
              "observed", "journal", "duration_ms", "started_at", "mismatches", "template", "family"):
        out.append((f"cases[0].{k} removed", drop(["cases", 0, k]), False))
    out += [
        ("run.tool_version removed", drop(["run", "tool_version"]), True),
        ("run.git_revision removed", drop(["run", "git_revision"]), False),
        ("environment.openssl removed", drop(["environment", "openssl"]), False),
        ("environment.ports.8883 removed", drop(["environment", "ports", "8883"]), False),
        ("schema_version as a string", put(["schema_version"], "1"), True),
        ("schema_version 2", put(["schema_version"], 2), True),
        ("cases as an object", put(["cases"], {}), True),
        ("cases[0].status unknown", put(["cases", 0, "status"], "flaky"), True),
        ("cases[0].title a number", put(["cases", 0, "title"], 7), True),
        ("cases[0].id empty", put(["cases", 0, "id"], ""), True),
        ("cases[0].duration_ms a string", put(["cases", 0, "duration_ms"], "12"), True),
        ("cases[0].duration_ms negative", put(["cases", 0, "duration_ms"], -1), True),
        ("cases[0].mismatches entry without field", put(["cases", 0, "mismatches"], [{"expected": 1, "observed": 2}]), True),
        ("cases[0].journal of 51 entries", put(["cases", 0, "journal"], [{"event": "x", "t_ms": 1}] * 51), True),
        ("cases[0].journal entry t_ms a string", put(["cases", 0, "journal"], [{"event": "x", "t_ms": "1"}]), False),
        ("cases[0].requirement a string", put(["cases", 0, "requirement"], "seeds/x"), True),
        ("cases[0].ip_family ipv5", put(["cases", 0, "ip_family"], "ipv5"), False),
        ("cases[0].started_at not ISO 8601", put(["cases", 0, "started_at"], "yesterday"), False),
        ("run.started_at without milliseconds", put(["run", "started_at"], "2026-11-22T02:00:00Z"), False),
        ("run.kind unknown", put(["run", "kind"], "smoke"), False),
        ("environment.ports.443 a string", put(["environment", "ports", "443"], "443"), False),
        ("totals.passed off by one", lambda d: d["totals"].update(passed=d["totals"]["passed"] + 1), True),
        ("totals.passed_with_warnings off by one",
         lambda d: d["totals"].update(passed_with_warnings=d["totals"]["passed_with_warnings"] + 1), True),
        ("totals.inconclusive removed", drop(["totals", "inconclusive"]), False),
        ("cases[0].verdict unknown", put(["cases", 0, "verdict"], "MAYBE"), False),
        ("duplicate case id", lambda d: d["cases"].append(copy.deepcopy(d["cases"][0])), True),
    ]
    return out


def reader_rejects(binary, doc, out_dir, name):
    path = os.path.join(out_dir, "mutated.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    r = subprocess.run([binary, "report", "-o", os.path.join(out_dir, "mutated"), path],
                       capture_output=True, text=True, timeout=60)
    msg = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    return r.returncode != 0 and path in msg, msg


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    binary, schema_path, out_dir = sys.argv[1:4]
    with open(schema_path) as f:
        schema = json.load(f)
    check("schema uses only keywords this validator implements", not unsupported(schema),
          str(unsupported(schema)))

    shutil.rmtree(out_dir, ignore_errors=True)
    run_dir = os.path.join(out_dir, "run")
    args = [binary, "run", "--out", run_dir]
    for f in FILTERS:
        args += ["--filter", f]
    r = subprocess.run(args, capture_output=True, text=True, timeout=240)
    check("iotconform run finished (exit 0 or 1)", r.returncode in (0, 1),
          f"(exit {r.returncode}) {r.stderr[-800:]}")
    for name in ("results.json", "junit.xml", "summary.md", "report.html"):
        p = os.path.join(run_dir, name)
        check(f"run left {name}", os.path.isfile(p) and os.path.getsize(p) > 0)
    try:
        with open(os.path.join(run_dir, "results.json")) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        check("results.json is JSON", False, str(e))
        print(f"{passed} passed, {failed} failed")
        return 1
    check(f"run holds {WANT_CASES} cases", len(doc.get("cases", [])) == WANT_CASES,
          f"({len(doc.get('cases', []))})")
    errs = validate(doc, schema, schema)
    check("results.json validates against results.schema.json", not errs, "\n  " + "\n  ".join(errs[:20]))
    errs = semantic(doc)
    check("ids unique, totals match, verdicts agree with status", not errs, "; ".join(errs[:5]))
    statuses = {c.get("status") for c in doc.get("cases", [])}
    check("every case ran (no skips or errors in this small run)", statuses == {"passed"},
          f"({sorted(statuses)})")

    for name, mutate, reader_too in mutations(doc):
        bad = copy.deepcopy(doc)
        mutate(bad)
        caught = validate(bad, schema, schema) + semantic(bad)
        check(f"rejected by the schema: {name}", bool(caught))
        if reader_too:
            ok, msg = reader_rejects(binary, bad, out_dir, name)
            check(f"rejected by iotconform report: {name}", ok, f"({msg or 'accepted'})")
    check_certification(binary, schema, out_dir)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def check_certification(binary, schema, out_dir):
    """A certification run's per-case device and observation objects, INCONCLUSIVE and the
    split totals (its document as a whole is a different kind: target.kind "device")."""
    out = os.path.join(out_dir, "certify")
    pki = os.path.join(os.path.dirname(os.path.abspath(binary)), "pki")
    r = subprocess.run([binary, "certify", "--device", ": ; exit 3", "--suite", "MQTT_Connect,TLS_Connect",
                        "--time-scale", "0.1", "--pki", pki, "--out", out],
                       capture_output=True, text=True, timeout=120)
    path = os.path.join(out, "results.json")
    if not os.path.isfile(path):
        print(f"info - certify did not run (built without it?): {r.stderr.strip()[-200:]}")
        return
    with open(path) as f:
        doc = json.load(f)
    for c in doc["cases"]:
        errs = validate(c.get("device"), schema["$defs"]["device"], schema, f"{c['id']}.device")
        errs += validate(c.get("observation"), schema["$defs"]["observation"], schema,
                         f"{c['id']}.observation")
        errs += validate(c.get("verdict"), schema["$defs"]["case"]["properties"]["verdict"], schema)
        check(f"certification case {c['case']}: device and observation validate", not errs, "; ".join(errs[:5]))
    errs = semantic(doc)
    check("certification run: totals are the split counts", not errs, "; ".join(errs[:5]))
    bad = copy.deepcopy(doc["cases"][0])
    bad["device"]["ended_by"] = "gave-up"
    del bad["observation"]["budget_ms"]
    errs = validate(bad["device"], schema["$defs"]["device"], schema) + \
        validate(bad["observation"], schema["$defs"]["observation"], schema)
    check("schema rejects an unknown ended_by and a missing budget_ms", len(errs) == 2, errs)


if __name__ == "__main__":
    sys.exit(main())
