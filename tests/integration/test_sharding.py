#!/usr/bin/python3
"""`run --shard K/N` / `certify --shard K/N` + `iotconform report`: three shards of a
~56-case selection merge into exactly the unsharded run (totals, ids and statuses, JUnit,
summary); the shards are disjoint, even and record themselves schema-valid; a shard given
twice, a missing shard, a shard of another split or selection, and a whole run mixed with
shards are refused, each beside the accepted merge. Some cases fail on purpose (the
`default` profile of a copied profiles directory makes SNI optional) so statuses differ."""
import ast, copy, json, os, re, shutil, subprocess, sys
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
SEL = ["--suite", "x509", "--filter", "x509.sni*.ipv4.*", "--pki", PKI, "--quiet"]
SCHEMA = json.load(open(f"{SRC}/reports/results.schema.json"))
# The schema validator of integration.results_schema (the subset of JSON Schema that
# results.schema.json uses; no jsonschema module on the target's python3), taken from there.
_tree = ast.parse(open(f"{SRC}/tests/integration/test_results_schema.py").read())
_keep = [n for n in _tree.body if (isinstance(n, ast.FunctionDef) and n.name in ("is_type", "validate"))
         or (isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "TYPES" for t in n.targets))]
VALIDATOR = {"json": json, "re": re}
exec(compile(ast.Module(_keep, []), "test_results_schema.py", "exec"), VALIDATOR)
check("the results_schema validator is available", {"validate", "is_type", "TYPES"} <= set(VALIDATOR))
N = 3


def run(*args, env=ENV):
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=env)


def load(d):
    return json.load(open(f"{d}/results.json"))


def statuses(doc):
    return {c["id"]: c["status"] for c in doc["cases"]}


def schema_errors(doc):
    return VALIDATOR["validate"](doc, SCHEMA, SCHEMA)[:3]


# --- the split itself
for bad in ("0/3", "4/3", "1/1001", "2", "1/3x"):
    p = run("run", *SEL, "--shard", bad, "--list")
    check(f"--shard {bad}: usage error, exit 2", p.returncode == 2 and "1 <= K <= N <= 1000" in p.stderr, p.stderr[:200])
listed = [run("run", *SEL, "--shard", f"{k}/{N}", "--list").stdout.split("\n")[:-1] for k in range(1, N + 1)]
whole = run("run", *SEL, "--list").stdout.split("\n")[:-1]
ids = [sorted(l.split("\t")[0] for l in lst) for lst in listed]
check("shards are disjoint and cover the selection",
      sorted(sum(ids, [])) == sorted(l.split("\t")[0] for l in whole), (len(whole), [len(i) for i in ids]))
check("shard sizes differ by at most one", max(map(len, ids)) - min(map(len, ids)) <= 1, [len(i) for i in ids])
srt = sorted(l.split("\t")[0] for l in whole)
check("round-robin over the sorted ids (case r -> shard r mod N + 1)",
      all(srt[r] in ids[r % N] for r in range(len(srt))))
check("the same split every time", ids[0] == sorted(l.split("\t")[0] for l in run("run", *SEL, "--shard", f"1/{N}", "--list").stdout.split("\n")[:-1]))

# --- unsharded vs 3 shards + merge
p = run("run", *SEL, "--out", f"{OUT}/whole")
full = load(f"{OUT}/whole")
check("unsharded run: ~50 cases, some failing on purpose",
      40 <= full["totals"]["total"] <= 120 and full["totals"]["failed"] > 0 and full["totals"]["passed"] > 0, full["totals"])
shard_docs = []
for k in range(1, N + 1):
    p = run("run", *SEL, "--shard", f"{k}/{N}", "--out", f"{OUT}/s{k}")
    check(f"shard {k}/{N} ran (exit 1: its share of the failures)", p.returncode in (0, 1) and p.stdout.startswith("report: "), p.stderr[-800:])
    d = load(f"{OUT}/s{k}")
    shard_docs.append(d)
    sh = d["run"].get("shard", {})
    check(f"shard {k}/{N}: run.shard records index, count, selection and the selection's size",
          sh.get("index") == k and sh.get("count") == N and sh.get("selected") == full["totals"]["total"]
          and re.fullmatch(r"sha256:[0-9a-f]{64}", sh.get("selection", "")), sh)
    check(f"shard {k}/{N}: schema-valid", not schema_errors(d), schema_errors(d))
check("every shard names the same selection", len({d["run"]["shard"]["selection"] for d in shard_docs}) == 1)
check("the unsharded run has no run.shard", "shard" not in full["run"])

files = [f"{OUT}/s{k}/results.json" for k in range(1, N + 1)]
p = run("report", "--out", f"{OUT}/merged", *files)
check("report merges the 3 shards (exit 0)", p.returncode == 0, p.stderr)
merged = load(f"{OUT}/merged")
check("merged totals == unsharded totals", merged["totals"] == full["totals"], (merged["totals"], full["totals"]))
check("merged case ids and statuses == unsharded", statuses(merged) == statuses(full),
      set(statuses(merged).items()) ^ set(statuses(full).items()))
bad = copy.deepcopy(shard_docs[0])
bad["run"]["shard"]["index"] = 0
check("the schema refuses a run.shard with index 0 (the validator can fail)", schema_errors(bad), bad["run"]["shard"])
check("merged: schema-valid, no run.shard, shards[] with index/count",
      not schema_errors(merged) and "shard" not in merged["run"]
      and [(s["index"], s["count"]) for s in merged.get("shards", [])] == [(k, N) for k in range(1, N + 1)],
      (schema_errors(merged), merged.get("shards")))
junit = open(f"{OUT}/merged/junit.xml").read()
m = re.search(r'<testsuites[^>]*\btests="(\d+)"[^>]*\bfailures="(\d+)"', junit)
check("merged junit.xml counts == unsharded totals",
      m and (int(m.group(1)), int(m.group(2))) == (full["totals"]["total"], full["totals"]["failed"]), junit[:300])
first = lambda path: next(l for l in open(path) if re.search(r"\d+ (case|passed)", l))
check("merged summary.md totals line == unsharded", first(f"{OUT}/merged/summary.md") == first(f"{OUT}/whole/summary.md"),
      (first(f"{OUT}/merged/summary.md"), first(f"{OUT}/whole/summary.md")))
check("merged report.html written", os.path.getsize(f"{OUT}/merged/report.html") > 1000)
p = run("report", "--out", f"{OUT}/merged-rev", *reversed(files))
check("shard order on the command line does not matter", p.returncode == 0 and statuses(load(f"{OUT}/merged-rev")) == statuses(full), p.stderr)


def refused(what, paths, needle):
    p = run("report", "--out", f"{OUT}/refused", *paths)
    check(f"refused: {what}", p.returncode != 0 and needle in p.stderr, (p.returncode, p.stderr))


refused("a shard given twice", [files[0], files[1], files[1], files[2]], "the same shard given twice")
refused("a missing shard", files[:2], "shard(s) 3 of 3 missing")
refused("a whole run mixed with shards", [*files, f"{OUT}/whole/results.json"], "is a whole run but the other inputs are shards")
for key, val, tag in (("count", 4, "another split"), ("selection", "sha256:" + "0" * 64, "another selection")):
    d = copy.deepcopy(shard_docs[2])
    d["run"]["shard"][key] = val
    path = f"{OUT}/s3-{key}.json"
    json.dump(d, open(path, "w"))
    refused(f"a shard of {tag}", [files[0], files[1], path], "different selections or counts")

# --- certify: the same flag, merged the same way
CERT = ["certify", "--device", "true", "--suite", "TLS_Connect,MQTT_Connect,MQTT_Subscribe",
        "--time-scale", "0.1", "--pki", PKI, "--quiet"]
p = run(*CERT, "--shard", "3/2")
check("certify --shard 3/2: usage error, exit 2", p.returncode == 2 and "1 <= K <= N" in p.stderr, p.stderr[:200])
cw = run(*CERT, "--out", f"{OUT}/cert-whole")
cf = [f"{OUT}/cert-s{k}/results.json" for k in (1, 2)]
for k in (1, 2):
    run(*CERT, "--shard", f"{k}/2", "--out", f"{OUT}/cert-s{k}")
p = run("report", "--out", f"{OUT}/cert-merged", *cf)
cm, cwd = load(f"{OUT}/cert-merged"), load(f"{OUT}/cert-whole")
check("certify: 2 shards merge into the unsharded run's cases and verdicts",
      p.returncode == 0 and {c["id"]: c["verdict"] for c in cm["cases"]} == {c["id"]: c["verdict"] for c in cwd["cases"]}
      and cm["totals"] == cwd["totals"], (p.stderr, cm.get("totals"), cwd.get("totals")))
check("certify shard results record run.shard", json.load(open(cf[1]))["run"].get("shard", {}).get("index") == 2)
refused("certify: a shard given twice", [cf[0], cf[0]], "the same shard given twice")
# --- the example workflow: a shard matrix whose size is the N of --shard, a merge job
import yaml
wf = yaml.safe_load(open(f"{SRC}/ci/workflows/conformance-sharded.yml"))
sj, mj = wf["jobs"].get("shard", {}), wf["jobs"].get("merge", {})
matrix = sj.get("strategy", {}).get("matrix", {}).get("shard", [])
runs = " ".join(s.get("run", "") for s in sj.get("steps", []))
m = re.search(r'--shard "\$\{\{ matrix.shard \}\}/(\d+)"', runs)
check("workflow: the matrix is 1..N and each job runs --shard <its index>/N",
      m and matrix == list(range(1, int(m.group(1)) + 1)), (matrix, runs))
check("workflow: --shard is a `run` option", "--shard K/N" in run("run", "--help").stdout)
check("workflow: every shard uploads its results.json even when cases fail",
      any(s.get("uses", "").startswith("actions/upload-artifact@") and s.get("if") == "always()"
          and "results.json" in s["with"]["path"] for s in sj.get("steps", [])))
mruns = " ".join(s.get("run", "") for s in mj.get("steps", []))
check("workflow: the merge job waits for every shard, runs even if one failed, merges with report",
      mj.get("needs") == "shard" and mj.get("if") == "always()" and "iotconform report" in mruns
      and any(s.get("uses", "").startswith("actions/download-artifact@") for s in mj.get("steps", [])), mj)
check("workflow: the merged report is uploaded as an artifact",
      any(s.get("uses", "").startswith("actions/upload-artifact@") and "merged/report.html" in s["with"]["path"]
          for s in mj.get("steps", [])))
finish()
