/* suites/certification.json: the certification catalogue, loaded strictly. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert_int.h"
#include "harness/diag.h"
#include "common/err.h"

static const char *const catalogue__root_keys[] = {"schema", "version", "description",
                                                   "suites", "cases",   NULL};
static const char *const catalogue__case_keys[] = {
    "id",        "title",    "judge",   "family",    "qualification",
    "reference", "scenario", "profile", "budget_ms", "min_budget_ms",
    "repeat",    "device",   "params",  "actions",   "verdict_rule",
    "observe",   NULL};
static const char *const catalogue__scenario_keys[] = {"name",
                                                       "withhold_connack",
                                                       "disconnect_after_connack",
                                                       "withhold_puback",
                                                       "withhold_suback",
                                                       "withhold_pingresp",
                                                       "session_present_zero",
                                                       "server_cert",
                                                       "send_topic",
                                                       "send_bytes",
                                                       "send_qos",
                                                       "disconnect_after_withheld_ms",
                                                       NULL};
static const char *const catalogue__device_keys[] = {
    "port",  "alpn",      "keepalive", "qos", "persistent", "publish_every_ms",
    "topic", "pub_topic", "client_id", NULL};

static int catalogue__in(const char *k, const char *const *list)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], k) == 0)
            return 1;
    return 0;
}

static void catalogue__keys(iotc_diag *d, json_t *obj, const char *const *allowed,
                            const char *where)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (!catalogue__in(k, allowed))
            iotc_diag_add(d, "%s: unknown key \"%s\"", where, k);
    }
}

static const char *catalogue__str(iotc_diag *d, json_t *o, const char *k, const char *where,
                                  int required)
{
    json_t *v = json_object_get(o, k);
    if (!v) {
        if (required)
            iotc_diag_add(d, "%s: \"%s\" is required", where, k);
        return NULL;
    }
    if (!json_is_string(v) || !*json_string_value(v)) {
        iotc_diag_add(d, "%s: \"%s\" must be a non-empty string", where, k);
        return NULL;
    }
    return json_string_value(v);
}

static void catalogue__case(iotc_diag *d, json_t *e, size_t i, iotc_certify_case *c)
{
    char where[160];
    json_t *v;
    snprintf(where, sizeof(where), "cases[%zu]", i);
    memset(c, 0, sizeof(*c));
    c->def = e;
    if (!json_is_object(e)) {
        iotc_diag_add(d, "%s: must be an object", where);
        return;
    }
    c->id = catalogue__str(d, e, "id", where, 1);
    if (c->id)
        snprintf(where, sizeof(where), "cases[%zu] (%s)", i, c->id);
    catalogue__keys(d, e, catalogue__case_keys, where);
    c->title = catalogue__str(d, e, "title", where, 1);
    c->judge = catalogue__str(d, e, "judge", where, 1);
    c->family = catalogue__str(d, e, "family", where, 1);
    catalogue__str(d, e, "verdict_rule", where, 1);
    c->profile = catalogue__str(d, e, "profile", where, 0);
    if (!c->profile)
        c->profile = "default";
    v = json_object_get(e, "qualification");
    if (v && !json_is_boolean(v))
        iotc_diag_add(d, "%s: \"qualification\" must be true or false", where);
    c->qualification = json_is_true(v);
    v = json_object_get(e, "reference");
    if (!json_is_object(v) || !json_is_string(json_object_get(v, "source")) ||
        !json_is_string(json_object_get(v, "text")))
        iotc_diag_add(d, "%s: \"reference\" must be {\"source\": ..., \"text\": ...}", where);
    else
        catalogue__keys(d, v, (const char *const[]){"source", "text", NULL}, where);

    c->scenario = json_object_get(e, "scenario");
    if (c->scenario && !json_is_object(c->scenario))
        iotc_diag_add(d, "%s: \"scenario\" must be an object", where);
    else if (c->scenario)
        catalogue__keys(d, c->scenario, catalogue__scenario_keys, where);
    c->device = json_object_get(e, "device");
    if (c->device && !json_is_object(c->device))
        iotc_diag_add(d, "%s: \"device\" must be an object", where);
    else if (c->device)
        catalogue__keys(d, c->device, catalogue__device_keys, where);
    c->params = json_object_get(e, "params");
    if (c->params && !json_is_object(c->params))
        iotc_diag_add(d, "%s: \"params\" must be an object", where);
    c->actions = json_object_get(e, "actions");
    if (c->actions && !json_is_array(c->actions)) {
        iotc_diag_add(d, "%s: \"actions\" must be an array", where);
    } else if (c->actions) {
        size_t k;
        json_t *a;
        json_array_foreach(c->actions, k, a)
        {
            iotc_errtext err = {0};
            if (iotc_certify_action_check(a, &err) != 0)
                iotc_diag_add(d, "%s: actions[%zu]: %s", where, k, err.msg);
        }
    }
    v = json_object_get(e, "budget_ms");
    if (!json_is_integer(v) || json_integer_value(v) < 100 || json_integer_value(v) > 3600000)
        iotc_diag_add(d, "%s: \"budget_ms\" must be an integer in 100..3600000", where);
    else
        c->budget_ms = (long)json_integer_value(v);
    v = json_object_get(e, "min_budget_ms");
    c->min_budget_ms = 3000;
    if (v && (!json_is_integer(v) || json_integer_value(v) < 100))
        iotc_diag_add(d, "%s: \"min_budget_ms\" must be an integer >= 100", where);
    else if (v)
        c->min_budget_ms = (long)json_integer_value(v);
    v = json_object_get(e, "observe");
    c->observe_reconnects = 0;
    c->observe_delays = 0;
    if (v) {
        json_t *r = json_object_get(v, "reconnects"), *dl = json_object_get(v, "delays");
        bool bad = !json_is_object(v) || json_object_size(v) != (size_t)(!!r + !!dl) ||
                   json_object_size(v) == 0;
        bad |=
            r && (!json_is_integer(r) || json_integer_value(r) < 0 || json_integer_value(r) > 100);
        bad |= dl &&
               (!json_is_integer(dl) || json_integer_value(dl) < 1 || json_integer_value(dl) > 100);
        if (bad)
            iotc_diag_add(d,
                          "%s: \"observe\" must be {\"reconnects\": 0..100, \"delays\": "
                          "1..100} (either or both)",
                          where);
        else {
            c->observe_reconnects = r ? (int)json_integer_value(r) : 0;
            c->observe_delays = dl ? (int)json_integer_value(dl) : 0;
        }
    }
    v = json_object_get(e, "repeat");
    c->repeat = 1;
    if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 5))
        iotc_diag_add(d, "%s: \"repeat\" must be 1..5", where);
    else if (v)
        c->repeat = (int)json_integer_value(v);

    if (c->judge) {
        const iotc_certify_judge *j = iotc_certify_judge_find(c->judge);
        const char *k;
        if (!j)
            iotc_diag_add(d, "%s: unknown judge \"%s\"", where, c->judge);
        else if (j->needs_delays && c->observe_delays == 0)
            iotc_diag_add(d, "%s: judge %s needs \"observe\": {\"delays\": N}", where, c->judge);
        if (j && json_is_object(c->params))
            json_object_foreach(c->params, k, v)
            {
                if (!catalogue__in(k, j->params))
                    iotc_diag_add(d, "%s: judge %s has no parameter \"%s\"", where, c->judge, k);
            }
    }
}

int iotc_certify_catalogue_load(const char *path, iotc_certify_catalogue *cat, iotc_diag *d)
{
    json_error_t jerr;
    json_t *cases, *v;
    const char *k;

    memset(cat, 0, sizeof(*cat));
    iotc_diag_init(d);
    cat->root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!cat->root) {
        iotc_diag_add(d, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return IOTC_ERR_CONFIG;
    }
    catalogue__keys(d, cat->root, catalogue__root_keys, path);
    v = json_object_get(cat->root, "schema");
    if (!json_is_string(v) || strcmp(json_string_value(v), "iotconform-certification") != 0)
        iotc_diag_add(d, "%s: \"schema\" must be \"iotconform-certification\"", path);
    v = json_object_get(cat->root, "version");
    if (!json_is_integer(v) || json_integer_value(v) != 1)
        iotc_diag_add(d, "%s: \"version\" must be 1", path);
    cases = json_object_get(cat->root, "cases");
    if (!json_is_array(cases) || json_array_size(cases) == 0) {
        iotc_diag_add(d, "%s: \"cases\" must be a non-empty array", path);
        return IOTC_ERR_CONFIG;
    }
    cat->n = json_array_size(cases);
    cat->v = calloc(cat->n, sizeof(*cat->v));
    if (!cat->v)
        return IOTC_ERR_NOMEM;
    for (size_t i = 0; i < cat->n; i++) {
        catalogue__case(d, json_array_get(cases, i), i, &cat->v[i]);
        for (size_t j = 0; j < i && cat->v[i].id; j++)
            if (cat->v[j].id && strcmp(cat->v[j].id, cat->v[i].id) == 0)
                iotc_diag_add(d, "cases[%zu]: duplicate id \"%s\"", i, cat->v[i].id);
    }
    cat->suites = json_object_get(cat->root, "suites");
    if (!json_is_object(cat->suites)) {
        iotc_diag_add(d, "%s: \"suites\" must be an object of id arrays", path);
    } else {
        json_object_foreach(cat->suites, k, v)
        {
            size_t i;
            json_t *id;
            if (!json_is_array(v)) {
                iotc_diag_add(d, "suites.%s: must be an array of case ids", k);
                continue;
            }
            json_array_foreach(v, i, id)
            {
                if (!json_is_string(id) || !iotc_certify_catalogue_find(cat, json_string_value(id)))
                    iotc_diag_add(d, "suites.%s[%zu]: unknown case", k, i);
            }
        }
        if (!json_object_get(cat->suites, "qualification"))
            iotc_diag_add(d, "suites: \"qualification\" is required");
    }
    return d->count ? IOTC_ERR_CONFIG : IOTC_OK;
}

void iotc_certify_catalogue_free(iotc_certify_catalogue *cat)
{
    free(cat->v);
    json_decref(cat->root);
    memset(cat, 0, sizeof(*cat));
}

const iotc_certify_case *iotc_certify_catalogue_find(const iotc_certify_catalogue *cat,
                                                     const char *id)
{
    for (size_t i = 0; i < cat->n; i++)
        if (cat->v[i].id && strcmp(cat->v[i].id, id) == 0)
            return &cat->v[i];
    return NULL;
}

static int catalogue__push(size_t *idx, size_t *n, size_t max, size_t i)
{
    for (size_t k = 0; k < *n; k++)
        if (idx[k] == i)
            return 0;
    if (*n >= max)
        return -1;
    idx[(*n)++] = i;
    return 0;
}

int iotc_certify_catalogue_select(const iotc_certify_catalogue *cat, const char *suite, size_t *idx,
                                  size_t max, iotc_errtext *err)
{
    size_t n = 0;
    json_t *named = json_object_get(cat->suites, suite);
    if (strcmp(suite, "full") == 0 && !named) {
        for (size_t i = 0; i < cat->n; i++)
            if (catalogue__push(idx, &n, max, i))
                goto too_many;
        return (int)n;
    }
    if (named) {
        size_t k;
        json_t *id;
        json_array_foreach(named, k, id)
        {
            const iotc_certify_case *c = iotc_certify_catalogue_find(cat, json_string_value(id));
            if (c && catalogue__push(idx, &n, max, (size_t)(c - cat->v)))
                goto too_many;
        }
        return (int)n;
    }
    char copy[4096], *save = NULL;
    snprintf(copy, sizeof(copy), "%s", suite);
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        const iotc_certify_case *c = iotc_certify_catalogue_find(cat, tok);
        if (!c) {
            iotc_errtext_set(
                err, 0,
                "unknown suite or case \"%s\" (suites: qualification, full, or case ids; "
                "see --list)",
                tok);
            return -1;
        }
        if (catalogue__push(idx, &n, max, (size_t)(c - cat->v)))
            goto too_many;
    }
    return (int)n;
too_many:
    iotc_errtext_set(err, 0, "too many cases selected (at most %zu)", max);
    return -1;
}
