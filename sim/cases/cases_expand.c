/*
 * Template expansion: each case (and each of its variants) becomes one concrete
 * case per row x IP family x TLS version. Semantic checks that the schema cannot
 * express (known rows, id syntax, twins that exist, unique ids) live here.
 */
#include "cases.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/err.h"

static int expand__id_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

static const char *expand__tls_token(const char *v)
{
    if (strcmp(v, "1.0") == 0)
        return "tls10";
    if (strcmp(v, "1.1") == 0)
        return "tls11";
    if (strcmp(v, "1.2") == 0)
        return "tls12";
    if (strcmp(v, "1.3") == 0)
        return "tls13";
    return "tlsany";
}

/* First non-NULL of the variant's, the case's and the defaults' value. */
static json_t *expand__pick(json_t *variant, json_t *c, json_t *defaults, const char *key)
{
    json_t *v = variant ? json_object_get(variant, key) : NULL;
    if (!v)
        v = json_object_get(c, key);
    if (!v && defaults)
        v = json_object_get(defaults, key);
    return v;
}

/* Shallow merge: later layers override earlier ones key by key. */
static json_t *expand__merge(json_t *a, json_t *b, json_t *c)
{
    json_t *out = json_object();
    if (!out)
        return NULL;
    if (json_is_object(a))
        json_object_update(out, a);
    if (json_is_object(b))
        json_object_update(out, b);
    if (json_is_object(c))
        json_object_update(out, c);
    return out;
}

static void expand__labels_add(json_t *labels, json_t *src)
{
    size_t i;
    json_t *l;
    if (!json_is_array(src))
        return;
    json_array_foreach(src, i, l) json_array_append(labels, l);
}

static int expand__push(iotc_caseset *set, iotc_case *c)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        iotc_case *v = realloc(set->v, cap * sizeof(*v));
        if (!v)
            return IOTC_ERR_NOMEM;
        set->v = v;
        set->cap = cap;
    }
    set->v[set->n++] = *c;
    return IOTC_OK;
}

static int expand__id_taken(const iotc_caseset *set, size_t from, const char *id)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->v[i].id, id) == 0)
            return 1;
    (void)from;
    return 0;
}

typedef struct expand_ctx {
    json_t *table;
    json_t *defaults;
    const char *suite;
    const char *file;
    iotc_caseset *set;
    iotc_diag *d;
} expand_ctx;

/* Row-dependent problems of client.auth.sigv4 (NULL when fine). */
static const char *expand__sigv4_row(json_t *sigv4, const iotc_row *row)
{
    const char *signer = json_string_value(json_object_get(sigv4, "signer"));
    const char *tamper = json_string_value(json_object_get(sigv4, "tamper"));
    int curl = row->proto == IOTC_PROTO_HTTPS && (!signer || strcmp(signer, "curl") == 0);

    if (row->proto == IOTC_PROTO_MQTT)
        return "MQTT has no SigV4 form (use a wss row)";
    if (curl && (tamper || json_object_get(sigv4, "date_offset_s")))
        return "tamper and date_offset_s need \"signer\": \"own\" (libcurl signs as it sends)";
    if (row->proto == IOTC_PROTO_WSS && tamper && strcmp(tamper, "payload") == 0)
        return "a presigned GET has no payload to tamper with";
    return NULL;
}

/* Session steps: exactly one operation each (the driver names them). */
static void expand__check_steps(expand_ctx *x, json_t *steps, const char *where)
{
    static const char *const ops[] = {"connect",    "subscribe",    "publish",     "receive",
                                      "disconnect", "drop",         "wait_closed", "ping",
                                      "sleep_ms",   "http_publish", NULL};
    size_t i;
    json_t *st;
    json_array_foreach(steps, i, st)
    {
        int n = 0;
        for (const char *const *op = ops; *op; op++)
            n += json_object_get(st, *op) != NULL;
        if (n != 1)
            iotc_diag_add(x->d, "%s: %s.client.steps[%zu]: exactly one operation (%s, ...)",
                          x->file, where, i, ops[0]);
    }
}

/* Per-row credentials: known rows, one method each, SigV4 only where it exists. */
static void expand__check_auth_by_row(expand_ctx *x, json_t *map, const char *where)
{
    const char *rid;
    json_t *a;
    json_object_foreach(map, rid, a)
    {
        const iotc_row *row = iotc_row_find(rid);
        const char *why;
        if (!row) {
            iotc_diag_add(x->d, "%s: %s.client.auth_by_row.%s: unknown row", x->file, where, rid);
            continue;
        }
        if (json_object_size(a) != 1)
            iotc_diag_add(x->d, "%s: %s.client.auth_by_row.%s: exactly one of sigv4, custom",
                          x->file, where, rid);
        why = json_object_get(a, "sigv4") ? expand__sigv4_row(json_object_get(a, "sigv4"), row)
                                          : NULL;
        if (why)
            iotc_diag_add(x->d, "%s: %s.client.auth_by_row.%s.sigv4: %s", x->file, where, rid, why);
    }
}

/* auth_by_row becomes the expanded case's auth (an explicit auth wins). */
static void expand__row_auth(json_t *client, const iotc_row *row)
{
    json_t *map = json_object_get(client, "auth_by_row");
    json_t *a = json_object_get(map, row->id);
    if (a && !json_object_get(client, "auth"))
        json_object_set(client, "auth", a);
    json_object_del(client, "auth_by_row");
}

/* Client settings the schema cannot judge alone. */
static void expand__check_client(expand_ctx *x, json_t *client, json_t *rows, const char *where)
{
    json_t *auth = json_object_get(client, "auth");
    json_t *sauth = json_object_get(client, "subscriber_auth");
    json_t *port = json_object_get(client, "port");
    json_t *sigv4 = json_object_get(auth, "sigv4");
    size_t ri;
    json_t *rowv;

    if (auth && json_object_size(auth) != 1)
        iotc_diag_add(x->d, "%s: %s.client.auth: exactly one of sigv4, custom", x->file, where);
    if (sauth && (json_object_size(sauth) != 1 || !json_object_get(sauth, "custom")))
        iotc_diag_add(x->d, "%s: %s.client.subscriber_auth: one custom object", x->file, where);
    if (port && json_integer_value(port) != 443 && json_integer_value(port) != 8443 &&
        json_integer_value(port) != 8883)
        iotc_diag_add(x->d, "%s: %s.client.port: 443, 8443 or 8883", x->file, where);
    expand__check_steps(x, json_object_get(client, "steps"), where);
    expand__check_auth_by_row(x, json_object_get(client, "auth_by_row"), where);
    if (!sigv4)
        return;
    json_array_foreach(rows, ri, rowv)
    {
        const iotc_row *row = iotc_row_find(json_string_value(rowv));
        const char *why = row ? expand__sigv4_row(sigv4, row) : NULL;
        if (why) {
            iotc_diag_add(x->d, "%s: %s.client.auth.sigv4: %s (row %s)", x->file, where, why,
                          row->id);
            return;
        }
    }
}

static int expand__one(expand_ctx *x, json_t *c, size_t ci, json_t *variant, size_t vi)
{
    const char *cid = json_string_value(json_object_get(c, "id"));
    const char *vid = variant ? json_string_value(json_object_get(variant, "id")) : NULL;
    json_t *rows = expand__pick(variant, c, x->defaults, "rows");
    json_t *fams = expand__pick(NULL, c, x->defaults, "ip_families");
    json_t *tlss = expand__pick(variant, c, x->defaults, "tls_versions");
    json_t *profile = expand__pick(NULL, c, x->defaults, "profile");
    char where[96];
    char tmpl[160];
    size_t ri, fi, ti;
    json_t *rowv, *famv, *tlsv;
    int rc = IOTC_OK;

    if (variant)
        snprintf(where, sizeof(where), "$.cases[%zu].variants[%zu]", ci, vi);
    else
        snprintf(where, sizeof(where), "$.cases[%zu]", ci);
    if (vid && !expand__id_ok(vid)) {
        iotc_diag_add(x->d, "%s: %s.id: \"%s\" must be [a-z0-9_-]{1,64}", x->file, where, vid);
        return IOTC_ERR_CONFIG;
    }
    if (!json_array_size(rows)) {
        iotc_diag_add(x->d, "%s: %s: no rows (set rows here or in $.defaults)", x->file, where);
        return IOTC_ERR_CONFIG;
    }
    json_array_foreach(rows, ri, rowv)
    {
        if (!iotc_row_find(json_string_value(rowv))) {
            iotc_diag_add(x->d, "%s: %s.rows[%zu]: unknown row \"%s\"", x->file, where, ri,
                          json_string_value(rowv));
            rc = IOTC_ERR_CONFIG;
        }
    }
    if (rc != IOTC_OK)
        return rc;
    {
        int before = x->d->count;
        json_t *client =
            expand__merge(json_object_get(x->defaults, "client"), json_object_get(c, "client"),
                          variant ? json_object_get(variant, "client") : NULL);
        expand__check_client(x, client, rows, where);
        json_decref(client);
        if (x->d->count != before)
            return IOTC_ERR_CONFIG;
    }
    if (vid)
        snprintf(tmpl, sizeof(tmpl), "%s.%s.%s", x->suite, cid, vid);
    else
        snprintf(tmpl, sizeof(tmpl), "%s.%s", x->suite, cid);

    json_t *def_fams = json_pack("[ss]", "ipv4", "ipv6");
    json_t *def_tls = json_pack("[ss]", "1.2", "1.3");
    if (!fams)
        fams = def_fams;
    if (!tlss)
        tlss = def_tls;

    json_array_foreach(rows, ri, rowv)
    {
        json_array_foreach(fams, fi, famv)
        {
            json_array_foreach(tlss, ti, tlsv)
            {
                iotc_case k;
                const char *fam = json_string_value(famv);
                const char *tls = json_string_value(tlsv);
                memset(&k, 0, sizeof(k));
                k.row = iotc_row_find(json_string_value(rowv));
                k.af = strcmp(fam, "ipv6") == 0 ? AF_INET6 : AF_INET;
                snprintf(k.tls, sizeof(k.tls), "%s", tls);
                snprintf(k.template, sizeof(k.template), "%s", tmpl);
                snprintf(k.id, sizeof(k.id), "%s.%s.%s.%s", tmpl, k.row->id, fam,
                         expand__tls_token(tls));
                if (expand__id_taken(x->set, 0, k.id)) {
                    iotc_diag_add(x->d, "%s: %s: expanded id \"%s\" is not unique", x->file, where,
                                  k.id);
                    rc = IOTC_ERR_CONFIG;
                    continue;
                }
                json_t *labels = json_array();
                expand__labels_add(labels, json_object_get(x->defaults, "labels"));
                expand__labels_add(labels, json_object_get(c, "labels"));
                if (variant)
                    expand__labels_add(labels, json_object_get(variant, "labels"));
                json_array_append_new(labels, json_string(x->suite));
                json_array_append_new(labels, json_string(k.row->id));
                json_array_append_new(labels, json_string(fam));
                json_array_append_new(labels, json_string(expand__tls_token(tls)));
                json_array_append(labels, json_object_get(c, "family"));

                json_t *title = variant ? json_object_get(variant, "title") : NULL;
                char twin[160];
                snprintf(twin, sizeof(twin), "%s.%s", x->suite,
                         json_string_value(json_object_get(c, "twin")));
                k.def = json_pack(
                    "{s:s, s:s, s:s, s:O, s:O, s:O, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s}",
                    "id", k.id, "template", k.template, "suite", x->suite, "title",
                    title ? title : json_object_get(c, "title"), "requirement",
                    json_object_get(c, "requirement"), "family", json_object_get(c, "family"),
                    "row", k.row->id, "ip_family", fam, "tls_version", tls, "profile",
                    profile ? json_string_value(profile) : "default", "twin", twin, "labels",
                    labels, "client",
                    expand__merge(json_object_get(x->defaults, "client"),
                                  json_object_get(c, "client"),
                                  variant ? json_object_get(variant, "client") : NULL),
                    "expect",
                    expand__merge(json_object_get(c, "expect"),
                                  variant ? json_object_get(variant, "expect") : NULL, NULL),
                    "file", x->file);
                if (k.def)
                    expand__row_auth(json_object_get(k.def, "client"), k.row);
                if (!k.def || iotc_case_fill(&k) != IOTC_OK ||
                    expand__push(x->set, &k) != IOTC_OK) {
                    iotc_case_clear(&k);
                    rc = IOTC_ERR_NOMEM;
                    goto cleanup;
                }
            }
        }
    }
cleanup:
    json_decref(def_fams);
    json_decref(def_tls);
    return rc;
}

static int expand__has_case(json_t *cases, const char *id)
{
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *cid = json_string_value(json_object_get(c, "id"));
        if (cid && id && strcmp(cid, id) == 0)
            return 1;
    }
    return 0;
}

int iotc_cases_expand(json_t *table, const char *file, iotc_caseset *set, iotc_diag *d)
{
    expand_ctx x = {table,
                    json_object_get(table, "defaults"),
                    json_string_value(json_object_get(table, "suite")),
                    file,
                    set,
                    d};
    json_t *cases = json_object_get(table, "cases");
    size_t start = set->n;
    int before = d->count;
    size_t ci, cj;
    json_t *c, *other;

    if (!expand__id_ok(x.suite))
        iotc_diag_add(d, "%s: $.suite: \"%s\" must be [a-z0-9_-]{1,64}", file,
                      x.suite ? x.suite : "");
    json_array_foreach(cases, ci, c)
    {
        const char *cid = json_string_value(json_object_get(c, "id"));
        const char *twin = json_string_value(json_object_get(c, "twin"));
        if (!expand__id_ok(cid))
            iotc_diag_add(d, "%s: $.cases[%zu].id: \"%s\" must be [a-z0-9_-]{1,64}", file, ci,
                          cid ? cid : "");
        json_array_foreach(cases, cj, other)
        {
            const char *oid = json_string_value(json_object_get(other, "id"));
            if (cj < ci && cid && oid && strcmp(cid, oid) == 0)
                iotc_diag_add(d, "%s: $.cases[%zu].id: \"%s\" repeats $.cases[%zu]", file, ci, cid,
                              cj);
        }
        /* A check that cannot fail is a defect: the twin proves this one can. */
        if (twin && (strcmp(twin, cid ? cid : "") == 0 || !expand__has_case(cases, twin)))
            iotc_diag_add(d, "%s: $.cases[%zu].twin: \"%s\" is not another case of this table",
                          file, ci, twin);
    }
    if (d->count != before)
        return IOTC_ERR_CONFIG;

    json_array_foreach(cases, ci, c)
    {
        json_t *variants = json_object_get(c, "variants");
        if (json_array_size(variants)) {
            size_t vi;
            json_t *v;
            json_array_foreach(variants, vi, v) expand__one(&x, c, ci, v, vi);
        } else {
            expand__one(&x, c, ci, NULL, 0);
        }
    }
    if (d->count != before) {
        /* All or nothing: a half-loaded table must not run. */
        for (size_t i = start; i < set->n; i++)
            iotc_case_clear(&set->v[i]);
        set->n = start;
        return IOTC_ERR_CONFIG;
    }
    return IOTC_OK;
}
