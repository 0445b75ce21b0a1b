/* The runner's per-case result object (results.json, reports/SCHEMA.md). */
#include "result.h"

const char *iotc_status_name(iotc_status s)
{
    switch (s) {
    case IOTC_ST_PASSED:
        return "passed";
    case IOTC_ST_FAILED:
        return "failed";
    case IOTC_ST_ERROR:
        return "error";
    case IOTC_ST_SKIPPED:
        return "skipped";
    }
    return "error";
}

const char *iotc_status_verdict(iotc_status s)
{
    switch (s) {
    case IOTC_ST_PASSED:
        return "PASS";
    case IOTC_ST_FAILED:
        return "FAIL";
    case IOTC_ST_ERROR:
        return "ERROR";
    case IOTC_ST_SKIPPED:
        return "SKIPPED";
    }
    return "ERROR";
}

json_t *iotc_result_case_json(const iotc_result *r)
{
    const iotc_case *c = r->c;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(c->id));
    json_object_set_new(o, "template", json_string(c->template));
    json_object_set(o, "title", json_object_get(c->def, "title"));
    json_object_set(o, "suite", json_object_get(c->def, "suite"));
    json_object_set_new(o, "row", json_string(c->row->id));
    json_object_set_new(o, "ip_family", json_string(iotc_af_name(c->af)));
    json_object_set_new(o, "tls_version", json_string(c->tls));
    json_object_set(o, "family", json_object_get(c->def, "family"));
    json_object_set(o, "requirement", json_object_get(c->def, "requirement"));
    json_object_set(o, "profile", json_object_get(c->def, "profile"));
    json_object_set(o, "twin", json_object_get(c->def, "twin"));
    json_object_set(o, "labels", json_object_get(c->def, "labels"));
    json_object_set(o, "client", json_object_get(c->def, "client"));
    json_object_set_new(o, "status", json_string(iotc_status_name(r->status)));
    json_object_set_new(o, "verdict", json_string(iotc_status_verdict(r->status)));
    json_object_set_new(o, "reason", json_string(r->reason));
    json_object_set_new(o, "mismatches", r->mismatches ? json_incref(r->mismatches) : json_array());
    json_object_set(o, "expected", json_object_get(c->def, "expect"));
    json_object_set_new(o, "observed", r->observed ? json_incref(r->observed) : json_object());
    json_object_set_new(o, "started_at", json_string(r->started_at));
    json_object_set_new(o, "duration_ms", json_integer(r->duration_ms));
    json_object_set_new(o, "journal", r->journal ? json_incref(r->journal) : json_array());
    return o;
}
