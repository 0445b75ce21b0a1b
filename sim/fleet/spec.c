/*
 * The fleet spec (JSON): rows of devices, their behaviour, the target, the fault
 * schedule. Strict like every config here: unknown keys are errors naming the
 * file and JSON path, numbers are bounded.
 */
#include "fleet_int.h"
#include "common/err.h"
#include "config/cfgjson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const spec__top_keys[] = {
    "name",  "description", "duration_s", "drain_s", "start_spread_s", "ramp",
    "proxy", "target",      "defaults",   "rows",    "faults",         NULL};
static const char *const spec__row_keys[] = {
    "row", "devices", "identities", "client_id", "monitor_identity", "peer_offset", NULL};
static const char *const spec__fault_keys[] = {
    "kind", "at_s", "for_s", "fraction", "rows", "delay_ms", "rate_bps", "direction", NULL};
static const char *const spec__target_keys[] = {"kind", "profile", "file", "packet_journal", NULL};

struct spec__ramp {
    long long in_flight, per_s, timeout_s;
};
static const struct iotc_cfg_int spec__ramp_table[] = {
    {"in_flight", offsetof(struct spec__ramp, in_flight), 1, 100000, 500},
    {"per_s", offsetof(struct spec__ramp, per_s), 0, 1000000, 0}, /* 0: no rate cap */
    /* publishing time starts when every device has connected once, or after this */
    {"timeout_s", offsetof(struct spec__ramp, timeout_s), 1, 3600, 60},
};

/* Optional number in [lo, hi]; missing: def. */
static int spec__number(const char *file, const char *path, json_t *obj, const char *key, double lo,
                        double hi, double def, double *out, iotc_errtext *ce)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        *out = def;
        return IOTC_OK;
    }
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi ||
        isnan(json_number_value(v)))
        return iotc_cfg_fail(ce, file, path, "%s: must be a number in %g..%g", key, lo, hi);
    *out = json_number_value(v);
    return IOTC_OK;
}

/* Keys of a "defaults" object or of a row: its own keys plus the behaviour keys. */
static int spec__check_mixed(const char *file, const char *path, json_t *o, const char *const *own,
                             iotc_errtext *ce)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        bool known = iotc_fleet_behave_key(key);
        for (size_t i = 0; own && own[i] && !known; i++)
            known = strcmp(own[i], key) == 0;
        if (!known)
            return iotc_cfg_fail(ce, file, path, "unknown key '%s'", key);
    }
    return IOTC_OK;
}

static int spec__target(const char *file, json_t *o, struct iotc_fleet_target *t, iotc_errtext *ce)
{
    char *kind = NULL;
    int rc = IOTC_OK;
    t->kind = IOTC_FLEET_TARGET_EMULATED;
    t->time_scale = 1.0;
    t->packet_journal = 1;
    if (!o)
        return iotc_cfg_string(file, "$.target", NULL, "profile", "default", &t->profile, ce);
    if (!json_is_object(o))
        return iotc_cfg_fail(ce, file, "$.target", "must be an object");
    if ((rc = iotc_cfg_check_keys(file, "$.target", o, spec__target_keys, ce)) ||
        (rc = iotc_cfg_string(file, "$.target", o, "kind", "emulated", &kind, ce)))
        goto cleanup;
    if (strcmp(kind, "emulated") == 0) {
        t->kind = IOTC_FLEET_TARGET_EMULATED;
        rc = iotc_cfg_string(file, "$.target", o, "profile", "default", &t->profile, ce);
    } else if (strcmp(kind, "external") == 0) {
        t->kind = IOTC_FLEET_TARGET_EXTERNAL;
        rc = iotc_cfg_string(file, "$.target", o, "file", NULL, &t->ext_file, ce);
        if (rc == IOTC_OK && !t->ext_file)
            rc = iotc_cfg_fail(ce, file, "$.target", "file: required for an external target");
    } else {
        rc = iotc_cfg_fail(ce, file, "$.target", "kind: \"emulated\" or \"external\"");
    }
    json_t *pj = json_object_get(o, "packet_journal");
    if (rc == IOTC_OK && pj) {
        if (!json_is_boolean(pj))
            rc = iotc_cfg_fail(ce, file, "$.target", "packet_journal: must be true or false");
        t->packet_journal = json_is_true(pj);
    }
cleanup:
    free(kind);
    return rc;
}

/* The certificate of an HTTPS row's monitor (MQTT on 8883): a door row's identities are
 * not certificates, so it names one, device-01 by default. */
static int spec__monitor(const char *file, const char *path, json_t *o, struct iotc_fleet_row *r,
                         iotc_errtext *ce)
{
    json_t *v = json_object_get(o, "monitor_identity");
    const char *def = r->def->auth == IOTC_AUTH_X509 ? r->identities[0].name : "device-01";
    if (v && r->def->proto != IOTC_PROTO_HTTPS)
        return iotc_cfg_fail(ce, file, path, "monitor_identity: only HTTPS rows have a monitor");
    int rc = iotc_cfg_string(file, path, o, "monitor_identity", def, &r->monitor_identity, ce);
    if (rc == IOTC_OK && (!r->monitor_identity[0] || strchr(r->monitor_identity, '/') ||
                          strchr(r->monitor_identity, '.')))
        rc = iotc_cfg_fail(ce, file, path,
                           "monitor_identity: a certificate name in the PKI directory");
    return rc;
}

static int spec__row(struct iotc_fleet_spec *s, size_t i, json_t *o,
                     const struct iotc_fleet_behave *def, iotc_errtext *err, iotc_errtext *ce)
{
    char path[64];
    struct iotc_fleet_row *r = &s->rows[i];
    char *name = NULL;
    int rc;
    snprintf(path, sizeof path, "$.rows[%zu]", i);
    if (!json_is_object(o))
        return iotc_cfg_fail(ce, s->file, path, "must be an object");
    if ((rc = spec__check_mixed(s->file, path, o, spec__row_keys, ce)) ||
        (rc = iotc_cfg_string(s->file, path, o, "row", NULL, &name, ce)))
        goto cleanup;
    r->def = iotc_row_find(name);
    if (!r->def) {
        rc = iotc_cfg_fail(ce, s->file, path, "row: unknown row '%s'", name ? name : "(missing)");
        goto cleanup;
    }
    json_t *n = json_object_get(o, "devices");
    if (!json_is_integer(n) || json_integer_value(n) < 0 ||
        json_integer_value(n) > IOTC_FLEET_MAX_DEVICES) {
        rc = iotc_cfg_fail(ce, s->file, path, "devices: must be an integer in 0..%d",
                           IOTC_FLEET_MAX_DEVICES);
        goto cleanup;
    }
    r->devices = json_integer_value(n);
    if ((rc = iotc_fleet_ident_read(s->file, path, json_object_get(o, "identities"), r->def->auth,
                                    &r->identities, &r->n_identities, ce)))
        goto cleanup;
    if ((rc = iotc_cfg_string(s->file, path, o, "client_id", "fleet-{run}-{row}-{i}", &r->client_id,
                              ce)) ||
        (rc = spec__monitor(s->file, path, o, r, ce)))
        goto cleanup;
    json_t *po = json_object_get(o, "peer_offset");
    if (po && (!json_is_integer(po) || json_integer_value(po) < 0 ||
               json_integer_value(po) >= (r->devices > 0 ? r->devices : 1) ||
               r->def->proto == IOTC_PROTO_HTTPS)) {
        rc = iotc_cfg_fail(ce, s->file, path,
                           "peer_offset: an integer in 0..devices-1, on MQTT and WSS rows only");
        goto cleanup;
    }
    r->peer_offset = po ? json_integer_value(po) : 0;
    r->b = *def;
    rc = iotc_fleet_behave_read(s->file, path, o, &r->b, err);
    if (rc != IOTC_OK) {
        snprintf(ce->msg, sizeof ce->msg, "%s", iotc_errtext_msg(err));
        goto cleanup;
    }
cleanup:
    free(name);
    return rc;
}

static int spec__fault(struct iotc_fleet_spec *s, size_t i, json_t *o, iotc_errtext *ce)
{
    char path[64], *kind = NULL, *dir = NULL;
    struct iotc_fleet_fault_ev *f = &s->faults[i];
    char **rows = NULL;
    size_t n_rows = 0;
    int rc;
    snprintf(path, sizeof path, "$.faults[%zu]", i);
    if (!json_is_object(o))
        return iotc_cfg_fail(ce, s->file, path, "must be an object");
    if ((rc = iotc_cfg_check_keys(s->file, path, o, spec__fault_keys, ce)) ||
        (rc = iotc_cfg_string(s->file, path, o, "kind", NULL, &kind, ce)) ||
        (rc = iotc_cfg_string(s->file, path, o, "direction", "both", &dir, ce)))
        goto cleanup;
    f->f.kind = iotc_fault_parse(kind);
    if (f->f.kind == IOTC_FAULT_NONE) {
        rc = iotc_cfg_fail(ce, s->file, path,
                           "kind: one of reset, blackhole, delay, bandwidth, half_open, "
                           "endpoint_restart, broker_restart");
        goto cleanup;
    }
    if (iotc_fault_dir_parse(dir, &f->f.dir) != IOTC_OK) {
        rc = iotc_cfg_fail(ce, s->file, path, "direction: up, down or both");
        goto cleanup;
    }
    double delay, rate;
    if ((rc = spec__number(s->file, path, o, "at_s", 0, 86400, 0, &f->at_s, ce)) ||
        (rc = spec__number(s->file, path, o, "for_s", 0, 86400, 0, &f->for_s, ce)) ||
        (rc = spec__number(s->file, path, o, "fraction", 0, 1, 1, &f->fraction, ce)) ||
        (rc = spec__number(s->file, path, o, "delay_ms", 0, 600000, 0, &delay, ce)) ||
        (rc = spec__number(s->file, path, o, "rate_bps", 0, 1e9, 0, &rate, ce)))
        goto cleanup;
    f->f.delay_ms = (uint32_t)delay;
    f->f.rate_bps = (uint32_t)rate;
    if (f->f.kind == IOTC_FAULT_DELAY && f->f.delay_ms == 0)
        rc = iotc_cfg_fail(ce, s->file, path, "delay_ms: required (> 0) for a delay");
    else if (f->f.kind == IOTC_FAULT_BANDWIDTH && f->f.rate_bps == 0)
        rc = iotc_cfg_fail(ce, s->file, path, "rate_bps: required (> 0) for a bandwidth limit");
    else if ((f->f.kind == IOTC_FAULT_BLACKHOLE || f->f.kind == IOTC_FAULT_DELAY ||
              f->f.kind == IOTC_FAULT_BANDWIDTH) &&
             f->for_s <= 0)
        rc = iotc_cfg_fail(ce, s->file, path, "for_s: required (> 0) for a %s", kind);
    if (rc != IOTC_OK)
        goto cleanup;
    if ((rc = iotc_cfg_strings(s->file, path, o, "rows", &rows, &n_rows, ce)))
        goto cleanup;
    for (size_t k = 0; k < n_rows; k++) {
        size_t r;
        for (r = 0; r < s->n_rows; r++)
            if (strcmp(s->rows[r].def->id, rows[k]) == 0)
                break;
        if (r == s->n_rows) {
            rc = iotc_cfg_fail(ce, s->file, path, "rows: '%s' is not a row of this fleet", rows[k]);
            goto cleanup;
        }
        f->row_mask |= 1u << r;
    }
cleanup:
    iotc_cfg_strings_free(rows, n_rows);
    free(kind);
    free(dir);
    return rc;
}

int iotc_fleet_spec_load(const char *path, struct iotc_fleet_spec *s, iotc_errtext *err)
{
    iotc_errtext ce = {{0}};
    struct iotc_fleet_behave def;
    struct spec__ramp ramp;
    int rc = IOTC_ERR_CONFIG;
    memset(s, 0, sizeof *s);
    s->file = strdup(path);
    json_t *root = iotc_cfg_load(path, &ce);
    if (!root || !s->file)
        goto cleanup;
    if ((rc = iotc_cfg_check_keys(path, "$", root, spec__top_keys, &ce)) ||
        (rc = iotc_cfg_string(path, "$", root, "name", "fleet", &s->name, &ce)) ||
        (rc = spec__number(path, "$", root, "duration_s", 0.1, 7 * 86400.0, 10, &s->duration_s,
                           &ce)) ||
        (rc = spec__number(path, "$", root, "drain_s", 0, 3600, 5, &s->drain_s, &ce)) ||
        (rc = spec__number(path, "$", root, "start_spread_s", -1, 3600, -1, &s->start_spread_s,
                           &ce)) ||
        (rc = iotc_cfg_read_ints(path, "$.ramp", json_object_get(root, "ramp"), spec__ramp_table, 3,
                                 &ramp, &ce)) ||
        (rc = spec__target(path, json_object_get(root, "target"), &s->target, &ce)))
        goto cleanup;
    s->ramp_in_flight = ramp.in_flight;
    s->ramp_per_s = ramp.per_s;
    s->ramp_timeout_s = ramp.timeout_s;
    json_t *px = json_object_get(root, "proxy");
    if (px && !json_is_boolean(px)) {
        rc = iotc_cfg_fail(&ce, path, "$", "proxy: must be true or false");
        goto cleanup;
    }
    s->proxy = json_is_true(px);
    iotc_fleet_behave_defaults(&def);
    json_t *d = json_object_get(root, "defaults");
    if (d) {
        if (!json_is_object(d)) {
            rc = iotc_cfg_fail(&ce, path, "$.defaults", "must be an object");
            goto cleanup;
        }
        if ((rc = spec__check_mixed(path, "$.defaults", d, NULL, &ce)))
            goto cleanup;
        if ((rc = iotc_fleet_behave_read(path, "$.defaults", d, &def, err))) {
            snprintf(ce.msg, sizeof ce.msg, "%s", iotc_errtext_msg(err));
            goto cleanup;
        }
    }
    json_t *rows = json_object_get(root, "rows");
    if (!json_is_array(rows) || json_array_size(rows) == 0 ||
        json_array_size(rows) > IOTC_FLEET_MAX_ROWS) {
        rc = iotc_cfg_fail(&ce, path, "$.rows", "must be an array of 1..%d rows",
                           IOTC_FLEET_MAX_ROWS);
        goto cleanup;
    }
    long long total = 0;
    for (size_t i = 0; i < json_array_size(rows); i++) {
        s->n_rows = i + 1;
        if ((rc = spec__row(s, i, json_array_get(rows, i), &def, err, &ce)))
            goto cleanup;
        total += s->rows[i].devices;
    }
    if (total <= 0 || total > IOTC_FLEET_MAX_DEVICES) {
        rc = iotc_cfg_fail(&ce, path, "$.rows", "total devices must be in 1..%d (is %lld)",
                           IOTC_FLEET_MAX_DEVICES, total);
        goto cleanup;
    }
    json_t *faults = json_object_get(root, "faults");
    if (faults && (!json_is_array(faults) || json_array_size(faults) > IOTC_FLEET_MAX_FAULTS)) {
        rc = iotc_cfg_fail(&ce, path, "$.faults", "must be an array of at most %d faults",
                           IOTC_FLEET_MAX_FAULTS);
        goto cleanup;
    }
    for (size_t i = 0; i < json_array_size(faults); i++) {
        s->n_faults = i + 1;
        if ((rc = spec__fault(s, i, json_array_get(faults, i), &ce)))
            goto cleanup;
    }
    rc = IOTC_OK;
cleanup:
    if (rc != IOTC_OK && ce.msg[0])
        iotc_errtext_set(err, 0, "%s", ce.msg);
    else if (rc != IOTC_OK && !iotc_errtext_msg(err)[0])
        iotc_errtext_set(err, 0, "%s: cannot read the fleet spec", path);
    json_decref(root);
    return rc;
}

static const char *const spec__ext_keys[] = {"host",  "sni",        "ca",       "pki",
                                             "ports", "time_scale", "registry", NULL};

/* External target file: {host, sni, ca, pki, ports:{8883,8443,443}, time_scale, registry}. */
int iotc_fleet_target_load_external(const char *path, struct iotc_fleet_target *t,
                                    iotc_errtext *err)
{
    iotc_errtext ce = {{0}};
    int rc = IOTC_ERR_CONFIG;
    json_t *root = iotc_cfg_load(path, &ce);
    if (!root)
        goto cleanup;
    if ((rc = iotc_cfg_check_keys(path, "$", root, spec__ext_keys, &ce)) ||
        (rc = iotc_cfg_string(path, "$", root, "host", "127.0.0.1", &t->host, &ce)) ||
        (rc = iotc_cfg_string(path, "$", root, "sni", "localhost", &t->sni, &ce)) ||
        (rc = iotc_cfg_string(path, "$", root, "ca", NULL, &t->ca, &ce)) ||
        (rc = iotc_cfg_string(path, "$", root, "pki", NULL, &t->pki, &ce)) ||
        (rc = iotc_cfg_string(path, "$", root, "registry", NULL, &t->registry, &ce)) ||
        (rc = spec__number(path, "$", root, "time_scale", 0.0001, 1000, 1, &t->time_scale, &ce)))
        goto cleanup;
    json_t *ports = json_object_get(root, "ports");
    static const char *const lports[3] = {"8883", "8443", "443"};
    if (!json_is_object(ports) ||
        (rc = iotc_cfg_check_keys(path, "$.ports", ports,
                                  (const char *const[]){"8883", "8443", "443", NULL}, &ce))) {
        rc = ce.msg[0] ? rc : iotc_cfg_fail(&ce, path, "$.ports", "must be an object");
        goto cleanup;
    }
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(ports, lports[i]);
        if (v &&
            (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)) {
            rc = iotc_cfg_fail(&ce, path, "$.ports", "%s: must be a port number", lports[i]);
            goto cleanup;
        }
        t->ports[i] = v ? (int)json_integer_value(v) : 0;
    }
    if (!t->ca || !t->pki)
        rc = iotc_cfg_fail(&ce, path, "$", "ca and pki are required");
cleanup:
    if (rc != IOTC_OK)
        iotc_errtext_set(err, 0, "%s", ce.msg);
    json_decref(root);
    return rc;
}

void iotc_fleet_spec_free(struct iotc_fleet_spec *s)
{
    for (size_t i = 0; i < s->n_rows; i++) {
        iotc_fleet_idents_free(s->rows[i].identities, s->rows[i].n_identities);
        free(s->rows[i].client_id);
        free(s->rows[i].monitor_identity);
    }
    struct iotc_fleet_target *t = &s->target;
    free(t->profile);
    free(t->ext_file);
    free(t->host);
    free(t->sni);
    free(t->ca);
    free(t->pki);
    free(t->registry);
    free(s->file);
    free(s->name);
    memset(s, 0, sizeof *s);
}
