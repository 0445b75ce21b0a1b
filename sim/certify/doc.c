/* The results.json document of a certification run (reports/SCHEMA.md, kind "certification"). */
#include <mosquitto.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "certify_main.h"
#include "harness/results.h"

/* What the device did and how its observation ended, per series (the report's case panel). */
static json_t *doc__device(const iotc_certify_outcome *o)
{
    json_t *series = json_array(), *last = NULL;
    for (size_t q = 0; q < o->n_series && q < IOTC_CERTIFY_MAX_SERIES; q++) {
        const iotc_certify_series_info *i = &o->series[q];
        last =
            json_pack("{s:s, s:s, s:b, s:I}", "log", i->log, "ended_by", iotc_certify_end_name(i->ended),
                      "budget_ended", i->ended == IOTC_CERTIFY_END_BUDGET, "ran_ms", (json_int_t)i->ran_ms);
        json_object_set_new(last, "exit_status",
                            i->exit_status >= 0 ? json_integer(i->exit_status) : json_null());
        json_object_set_new(last, "signal", i->signal ? json_integer(i->signal) : json_null());
        json_array_append_new(series, last);
    }
    json_t *d = last ? json_deep_copy(last) : json_object();
    json_object_set_new(d, "command", json_string(o->command));
    json_object_set_new(d, "exit", json_string(o->device_exit));
    if (o->n_series > 1)
        json_object_set_new(d, "series", series);
    else
        json_decref(series);
    return d;
}

/* The window the case observed: its budget per series, the series, and what its judge
 * needs to see (the judge's parameters). */
static json_t *doc__observation(const iotc_certify_outcome *o)
{
    const iotc_certify_case *c = o->c;
    json_t *ended = json_array();
    json_t *needs = c->params ? json_deep_copy(c->params) : json_object();
    for (size_t q = 0; q < o->n_series && q < IOTC_CERTIFY_MAX_SERIES; q++)
        json_array_append_new(ended, json_string(iotc_certify_end_name(o->series[q].ended)));
    if (c->observe_reconnects > 0)
        json_object_set_new(needs, "reconnects", json_integer(c->observe_reconnects));
    return json_pack("{s:I, s:i, s:I, s:s, s:o, s:o}", "budget_ms", (json_int_t)o->budget_ms,
                     "series", c->repeat, "series_run", (json_int_t)o->n_series, "judge", c->judge,
                     "needs", needs, "ended_by", ended);
}

static json_t *doc__case(const char *device, iotc_certify_outcome *o)
{
    const iotc_certify_case *c = o->c;
    char id[512];
    json_t *j = json_object();
    snprintf(id, sizeof(id), "%s.%s", device, c->id);
    json_object_set_new(j, "id", json_string(id));
    json_object_set_new(j, "template", json_string(c->id));
    json_object_set_new(j, "case", json_string(c->id));
    json_object_set_new(j, "title", json_string(c->title));
    json_object_set_new(j, "suite",
                        json_string(c->qualification ? "qualification" : "certification"));
    json_object_set_new(j, "row", json_string(device));
    json_object_set_new(j, "family", json_string(c->family));
    json_object_set(j, "requirement", json_object_get(c->def, "reference"));
    json_object_set_new(j, "qualification", json_boolean(c->qualification));
    json_object_set_new(j, "status", json_string(iotc_certify_verdict_status(o->v)));
    json_object_set_new(j, "verdict", json_string(iotc_certify_verdict_name(o->v)));
    json_object_set_new(j, "reason", json_string(o->reason));
    json_t *mm = json_array();
    if (o->v == IOTC_CERTIFY_FAIL || o->v == IOTC_CERTIFY_ERROR || o->v == IOTC_CERTIFY_WARN || o->v == IOTC_CERTIFY_INCONCLUSIVE)
        json_array_append_new(mm, json_pack("{s:s, s:O, s:s}", "field", "verdict", "expected",
                                            json_object_get(c->def, "verdict_rule"), "observed",
                                            o->reason));
    json_object_set_new(j, "mismatches", mm);
    json_object_set_new(j, "expected",
                        json_pack("{s:O, s:O?, s:i, s:i}", "verdict_rule",
                                  json_object_get(c->def, "verdict_rule"), "scenario", c->scenario,
                                  "budget_ms", (int)c->budget_ms, "series", c->repeat));
    json_object_set_new(j, "observed", json_incref(o->observed));
    json_object_set_new(j, "device_command", json_string(o->command));
    json_object_set_new(j, "device_exit", json_string(o->device_exit));
    json_object_set_new(j, "case_dir", json_string(o->case_dir));
    if (o->c->judge && o->v != IOTC_CERTIFY_SKIPPED && o->n_series) {
        json_object_set_new(j, "device", doc__device(o));
        json_object_set_new(j, "observation", doc__observation(o));
    }
    if (o->note[0])
        json_object_set_new(j, "note", json_string(o->note));
    json_object_set_new(j, "started_at", json_string(o->started_at));
    json_object_set_new(j, "duration_ms", json_integer(o->duration_ms));
    json_object_set_new(j, "journal", json_incref(o->journal));
    return j;
}

json_t *iotc_certify_document(const iotc_certify_opts *o, const iotc_certify_run *r, const char *device_name,
                      iotc_certify_outcome *res, size_t n, int argc, char **argv, const char *started,
                      long duration_ms, const char *run_id)
{
    char finished[32], host[256] = "unknown", cmd[4096] = "iotconform", mv[32];
    size_t used = strlen(cmd);
    int counts[IOTC_CERTIFY_UNDECIDED + 1] = {0};
    int maj, min, rev;
    json_t *cases = json_array();

    iotc_clock_wall_iso(finished, sizeof(finished));
    gethostname(host, sizeof(host) - 1);
    for (int i = 0; i < argc && used + 2 < sizeof(cmd); i++)
        used += (size_t)snprintf(cmd + used, sizeof(cmd) - used, " %s", argv[i]);
    for (size_t i = 0; i < n; i++) {
        counts[res[i].v]++;
        json_array_append_new(cases, doc__case(device_name, &res[i]));
    }
    mosquitto_lib_version(&maj, &min, &rev);
    snprintf(mv, sizeof(mv), "%d.%d.%d", maj, min, rev);
    return json_pack(
        "{s:s, s:i, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}, "
        "s:{s:s, s:s, s:s, s:s, s:f}, "
        "s:{s:s, s:s, s:s?, s:s?, s:s, s:f, s:I, s:s}, "
        "s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i}, s:{s:i, s:i, s:i, s:i, s:i, s:i}, s:o}",
        "schema", "iotconform-results", "schema_version", 1, "run", "id", run_id, "kind",
        "certification", "tool_version", iotc_results_tool_version(), "git_revision",
        iotc_results_git_revision(), "started_at", started, "finished_at", finished, "duration_ms",
        (json_int_t)duration_ms, "host", host, "command", cmd, "environment", "openssl",
        OpenSSL_version(OPENSSL_VERSION), "mosquitto", mv, "libmosquitto", mv, "profile",
        "per case", "time_scale", r->scale, "target", "kind", "device", "name", device_name,
        "adapter", r->adapter ? r->adapter->name : NULL, "command",
        o->device ? o->device : (r->adapter ? r->adapter->command : NULL), "suite", o->suite,
        "time_scale", r->scale, "seed", (json_int_t)r->seed, "host", "localhost", "totals", "total",
        (int)n, "passed", counts[IOTC_CERTIFY_PASS], "passed_with_warnings", counts[IOTC_CERTIFY_WARN], "failed",
        counts[IOTC_CERTIFY_FAIL], "skipped", counts[IOTC_CERTIFY_SKIPPED], "errored",
        counts[IOTC_CERTIFY_ERROR] + counts[IOTC_CERTIFY_UNDECIDED], "inconclusive", counts[IOTC_CERTIFY_INCONCLUSIVE],
        "verdicts", "PASS", counts[IOTC_CERTIFY_PASS], "PASS_WITH_WARNINGS", counts[IOTC_CERTIFY_WARN], "FAIL",
        counts[IOTC_CERTIFY_FAIL], "ERROR", counts[IOTC_CERTIFY_ERROR] + counts[IOTC_CERTIFY_UNDECIDED], "SKIPPED",
        counts[IOTC_CERTIFY_SKIPPED], "INCONCLUSIVE", counts[IOTC_CERTIFY_INCONCLUSIVE], "cases", cases);
}
