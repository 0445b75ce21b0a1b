/* Device behaviour settings: one table, read for "defaults" and again for each
 * row's overrides (a row starts from the defaults). */
#include "fleet_int.h"
#include "common/err.h"
#include "config/cfgjson.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum behave__type { BT_INT, BT_BOOL };
struct behave__field {
    const char *key;
    int type;
    size_t offset; /* of a long long in struct iotc_fleet_behave */
    long long min, max, def;
};

#define BF(k, t, lo, hi, d)                                                                        \
    {                                                                                              \
#k, t, offsetof(struct iotc_fleet_behave, k), lo, hi, d                                    \
    }
static const struct behave__field behave__table[] = {
    BF(qos, BT_INT, 0, 1, 1),
    BF(publish_interval_ms, BT_INT, 10, 86400000, 1000),
    BF(payload_bytes, BT_INT, IOTC_FLEET_PAYLOAD_MIN, IOTC_FLEET_PAYLOAD_MAX, 64),
    BF(clean_session, BT_BOOL, 0, 1, 0),
    /* AWS clamps to 30..1200: a fleet asks only for what the endpoint grants. */
    BF(keepalive_s, BT_INT, 30, 1200, 60),
    BF(max_inflight, BT_INT, 1, 65535, 20),
    BF(max_queued, BT_INT, 1, 1000000, 10000),
    BF(connect_timeout_ms, BT_INT, 100, 600000, 10000),
    BF(request_timeout_ms, BT_INT, 100, 600000, 10000),
    /* a fixed number of messages per device: totals that do not depend on timing */
    BF(max_messages, BT_INT, 0, 1000000000, 0),
};
#undef BF

#define RF(k, lo, hi, d)                                                                           \
    {                                                                                              \
#k, offsetof(struct iotc_fleet_backoff, k), lo, hi, d                                      \
    }
static const struct iotc_cfg_int behave__reconnect[] = {
    RF(base_ms, 0, 3600000, 100), RF(cap_ms, 1, 86400000, 20000),     RF(step_ms, 0, 3600000, 500),
    RF(factor, 1, 16, 2),         RF(max_attempts, 0, 1000000000, 0),
};
#undef RF
#define BEHAVE__N (sizeof behave__table / sizeof behave__table[0])
#define RECON__N  (sizeof behave__reconnect / sizeof behave__reconnect[0])

void iotc_fleet_behave_defaults(struct iotc_fleet_behave *b)
{
    memset(b, 0, sizeof *b);
    for (size_t i = 0; i < BEHAVE__N; i++)
        *(long long *)((char *)b + behave__table[i].offset) = behave__table[i].def;
    for (size_t i = 0; i < RECON__N; i++)
        *(long long *)((char *)&b->backoff + behave__reconnect[i].offset) =
            behave__reconnect[i].def;
    b->backoff.kind = IOTC_FLEET_BACKOFF_EXP_JITTER;
}

static int behave__reconnect_read(const char *file, const char *path, json_t *o,
                                  struct iotc_fleet_backoff *bo, iotc_errtext *ce)
{
    char p[256];
    snprintf(p, sizeof p, "%s.reconnect", path);
    if (!json_is_object(o))
        return iotc_cfg_fail(ce, file, p, "must be an object");
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (strcmp(key, "strategy") == 0) {
            int k = json_is_string(v) ? iotc_fleet_backoff_parse(json_string_value(v)) : -1;
            if (k < 0)
                return iotc_cfg_fail(ce, file, p,
                                     "strategy: one of exponential_jitter, exponential, linear, "
                                     "constant, none");
            bo->kind = k;
            continue;
        }
        const struct iotc_cfg_int *row = NULL;
        for (size_t i = 0; i < RECON__N; i++)
            if (strcmp(behave__reconnect[i].key, key) == 0)
                row = &behave__reconnect[i];
        if (!row)
            return iotc_cfg_fail(ce, file, p, "unknown key '%s'", key);
        if (!json_is_integer(v) || json_integer_value(v) < row->min ||
            json_integer_value(v) > row->max)
            return iotc_cfg_fail(ce, file, p, "%s: must be an integer in %lld..%lld", key, row->min,
                                 row->max);
        *(long long *)((char *)bo + row->offset) = json_integer_value(v);
    }
    if (bo->cap_ms < bo->base_ms)
        return iotc_cfg_fail(ce, file, p, "cap_ms (%lld) is below base_ms (%lld)", bo->cap_ms,
                             bo->base_ms);
    return IOTC_OK;
}

/* Reads the behaviour keys of obj over *b; other keys are left to the caller, who
 * has already checked that every key of obj is known. */
int iotc_fleet_behave_read(const char *file, const char *path, json_t *obj,
                           struct iotc_fleet_behave *b, iotc_errtext *err)
{
    iotc_errtext ce = {{0}};
    int rc = IOTC_OK;
    for (size_t i = 0; i < BEHAVE__N && rc == IOTC_OK; i++) {
        const struct behave__field *f = &behave__table[i];
        json_t *v = json_object_get(obj, f->key);
        long long *dst = (long long *)((char *)b + f->offset);
        if (!v)
            continue;
        if (f->type == BT_BOOL) {
            if (!json_is_boolean(v))
                rc = iotc_cfg_fail(&ce, file, path, "%s: must be true or false", f->key);
            else
                *dst = json_is_true(v);
        } else if (!json_is_integer(v) || json_integer_value(v) < f->min ||
                   json_integer_value(v) > f->max) {
            rc = iotc_cfg_fail(&ce, file, path, "%s: must be an integer in %lld..%lld", f->key,
                               f->min, f->max);
        } else {
            *dst = json_integer_value(v);
        }
    }
    json_t *r = json_object_get(obj, "reconnect");
    if (rc == IOTC_OK && r)
        rc = behave__reconnect_read(file, path, r, &b->backoff, &ce);
    if (rc != IOTC_OK)
        iotc_errtext_set(err, 0, "%s", ce.msg);
    return rc;
}

/* The keys iotc_fleet_behave_read understands, for the callers' unknown-key checks. */
bool iotc_fleet_behave_key(const char *k)
{
    for (size_t i = 0; i < BEHAVE__N; i++)
        if (strcmp(behave__table[i].key, k) == 0)
            return true;
    return strcmp(k, "reconnect") == 0;
}
