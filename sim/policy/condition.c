/*
 * The Condition element: which condition keys AWS IoT policies can test, how a
 * statement's Condition block is compiled, and how it is evaluated against the
 * values of one request (IAM rules: operators AND, keys AND, policy values OR; an
 * absent key fails a condition unless the operator is negated, ...IfExists or Null;
 * ForAllValues: holds for an empty set, ForAnyValue: does not).
 */
#include "policy_int.h"
#include "common/err.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define COND__ATTR_PREFIX     "iot:Connection.Thing.Attributes["
#define COND__ATTR_PREFIX_LEN (sizeof COND__ATTR_PREFIX - 1)

/* The keys the emulator gives a value (or knows to be absent). A key outside this list
 * is a load-time error: evaluating it as "absent" would quietly change what a
 * negated operator allows. */
static const char *const cond__known[] = {
    "aws:SourceIp",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:SecureTransport",
    "iot:ClientId",
    "iot:DomainName",
    "iot:ConnectAttributes",
    "iot:Connection.Thing.ThingName",
    "iot:Connection.Thing.ThingTypeName",
    "iot:Connection.Thing.IsAttached",
    "iot:CertificateId",
    "iot:Certificate.Subject.CommonName",
};

const char *const iotc_policy_cert_keys[IOTC_POLICY_CERT_KEYS] = {
    "iot:Certificate.Subject.Organization",
    "iot:Certificate.Subject.OrganizationalUnit",
    "iot:Certificate.Subject.Country",
    "iot:Certificate.Subject.State",
    "iot:Certificate.Issuer.CommonName",
    "iot:Certificate.Issuer.Organization",
    "iot:Certificate.Issuer.OrganizationalUnit",
    "iot:Certificate.Issuer.Country",
    "iot:Certificate.Issuer.State",
    "iot:Certificate.SerialNumber",
    "iot:Certificate.Validity.NotBefore",
    "iot:Certificate.Validity.NotAfter",
};

__attribute__((format(printf, 3, 4))) static int cond__fail(iotc_errtext *err, const char *path,
                                                            const char *fmt, ...)
{
    if (err) {
        char detail[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
        iotc_errtext_set(err, 0, "%s: %s", path, detail);
    }
    return IOTC_ERR_MALFORMED;
}

static bool cond__is_attr(const char *k)
{
    return strncasecmp(k, COND__ATTR_PREFIX, COND__ATTR_PREFIX_LEN) == 0;
}

/* Condition key names are case-insensitive (IAM); a thing attribute's name is not. */
static bool cond__key_eq(const char *a, const char *b)
{
    if (cond__is_attr(a) && cond__is_attr(b))
        return strcmp(a + COND__ATTR_PREFIX_LEN, b + COND__ATTR_PREFIX_LEN) == 0;
    return strcasecmp(a, b) == 0;
}

/* The canonical spelling of a known key, or NULL. */
static char *cond__canonical(const char *k)
{
    if (cond__is_attr(k)) {
        const char *name = k + COND__ATTR_PREFIX_LEN;
        size_t n = strlen(name);
        /* AWS attribute names: [a-zA-Z0-9_.,@/:#-]+, up to 128 characters. */
        if (n < 2 || n > 129 || name[n - 1] != ']' ||
            strspn(name,
                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,@/:#-") !=
                n - 1)
            return NULL;
        char *out = malloc(COND__ATTR_PREFIX_LEN + n + 1);
        if (out) {
            memcpy(out, COND__ATTR_PREFIX, COND__ATTR_PREFIX_LEN);
            memcpy(out + COND__ATTR_PREFIX_LEN, name, n + 1);
        }
        return out;
    }
    for (size_t i = 0; i < sizeof cond__known / sizeof cond__known[0]; i++)
        if (strcasecmp(cond__known[i], k) == 0)
            return strdup(cond__known[i]);
    for (size_t i = 0; i < IOTC_POLICY_CERT_KEYS; i++)
        if (strcasecmp(iotc_policy_cert_keys[i], k) == 0)
            return strdup(iotc_policy_cert_keys[i]);
    return NULL;
}

/* A condition value: JSON strings, and booleans and numbers as IAM reads them. */
static const char *cond__text(json_t *v, char *buf, size_t buflen, size_t *len)
{
    if (json_is_string(v)) {
        *len = json_string_length(v);
        return json_string_value(v);
    }
    if (json_is_boolean(v))
        snprintf(buf, buflen, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_integer(v))
        snprintf(buf, buflen, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, buflen, "%.17g", json_real_value(v));
    else
        return NULL;
    *len = strlen(buf);
    return buf;
}

static int cond__values(const struct iotc_policy__cop *op, json_t *v, const char *path,
                        bool variables, struct iotc_policy__cond *c, iotc_errtext *err)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (json_is_array(v) && n == 0)
        return cond__fail(err, path, "must not be an empty array");
    c->v = calloc(n, sizeof *c->v);
    if (!c->v)
        return IOTC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        char sub[360], num[64];
        iotc_errtext why = {0};
        if (json_is_array(v))
            snprintf(sub, sizeof sub, "%.320s[%zu]", path, i);
        else
            snprintf(sub, sizeof sub, "%s", path);
        size_t len;
        const char *s = cond__text(e, num, sizeof num, &len);
        if (!s)
            return cond__fail(err, sub,
                              "must be a string (or a boolean or number), or an array of them");
        int rc = iotc_policy__cval_compile(op, s, len, variables, &c->v[i], &why);
        c->n = i + 1;
        if (rc == IOTC_ERR_MALFORMED)
            return cond__fail(err, sub, "%s", why.msg);
        if (rc != IOTC_OK)
            return rc;
    }
    return IOTC_OK;
}

int iotc_policy__cond_parse(json_t *obj, const char *path, bool variables,
                            struct iotc_policy__cond **out, size_t *n, iotc_errtext *err)
{
    *out = NULL;
    *n = 0;
    if (!json_is_object(obj))
        return cond__fail(err, path, "must be an object of operators");
    size_t total = 0;
    const char *opname, *key;
    json_t *block, *v;
    json_object_foreach(obj, opname, block)
    {
        char sub[192];
        snprintf(sub, sizeof sub, "%s.%.60s", path, opname);
        struct iotc_policy__cop op;
        if (!iotc_policy__cop_parse(opname, &op))
            return cond__fail(err, sub,
                              "unknown condition operator (String*, Numeric*, Date*, Bool, "
                              "IpAddress, NotIpAddress, Arn*, Null, with ForAllValues:, "
                              "ForAnyValue: or ...IfExists)");
        if (!json_is_object(block) || json_object_size(block) == 0)
            return cond__fail(err, sub, "must be a non-empty object of condition keys");
        total += json_object_size(block);
    }
    if (total == 0)
        return cond__fail(err, path, "must not be empty");
    struct iotc_policy__cond *c = calloc(total, sizeof *c);
    if (!c)
        return IOTC_ERR_NOMEM;
    *out = c;
    json_object_foreach(obj, opname, block)
    {
        struct iotc_policy__cop op;
        iotc_policy__cop_parse(opname, &op);
        json_object_foreach(block, key, v)
        {
            char sub[320];
            snprintf(sub, sizeof sub, "%s.%.60s.%.160s", path, opname, key);
            struct iotc_policy__cond *k = &c[(*n)++];
            k->op = op;
            k->key = cond__canonical(key);
            if (!k->key)
                return cond__fail(err, sub,
                                  "unknown condition key (see POLICY.md for the AWS IoT keys "
                                  "the emulator models)");
            k->multi = strcmp(k->key, "iot:ConnectAttributes") == 0;
            int rc = cond__values(&op, v, sub, variables, k, err);
            if (rc != IOTC_OK)
                return rc;
        }
    }
    return IOTC_OK;
}

void iotc_policy__cond_free(struct iotc_policy__cond *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        for (size_t j = 0; j < c[i].n; j++)
            iotc_policy__cval_free(&c[i].v[j]);
        free(c[i].v);
        free(c[i].key);
    }
    free(c);
}

/* The request's values for key: the context table first, then the values every
 * decision has (client id, thing name, certificate, the clock). */
struct cond__vals {
    const char *const *v;
    size_t n;
    const char *one;
    char buf[40];
};

static void cond__lookup(const char *key, const struct iotc_policy_ctx *ctx, struct cond__vals *out)
{
    out->v = NULL;
    out->n = 0;
    for (size_t i = 0; ctx->keys && i < ctx->nkeys; i++) {
        if (ctx->keys[i].key && cond__key_eq(ctx->keys[i].key, key)) {
            out->v = ctx->keys[i].values;
            out->n = out->v ? ctx->keys[i].n : 0;
            return;
        }
    }
    const char *one = NULL;
    if (strcmp(key, "iot:ClientId") == 0)
        one = ctx->client_id;
    else if (strcmp(key, "iot:Connection.Thing.ThingName") == 0)
        one = ctx->thing_name;
    else if (strcmp(key, "iot:Certificate.Subject.CommonName") == 0)
        one = ctx->cert_subject_cn;
    else if (strcmp(key, "iot:CertificateId") == 0)
        one = ctx->cert_id;
    else if (strcmp(key, "aws:EpochTime") == 0 || strcmp(key, "aws:CurrentTime") == 0) {
        time_t now = time(NULL);
        struct tm tm;
        if (key[4] == 'E')
            snprintf(out->buf, sizeof out->buf, "%lld", (long long)now);
        else if (gmtime_r(&now, &tm))
            strftime(out->buf, sizeof out->buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        one = out->buf;
    }
    if (one && *one) {
        out->one = one;
        out->v = &out->one;
        out->n = 1;
    }
}

/* 1 when the request value matches any policy value, 0 when none, <0 as cval_match. */
static int cond__any_pv(const struct iotc_policy__cond *c, const char *value,
                        const struct iotc_policy_ctx *ctx)
{
    for (size_t j = 0; j < c->n; j++) {
        int rc = iotc_policy__cval_match(&c->op, &c->v[j], value, ctx);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* 1 holds, 0 does not, -1 out of memory. */
static int cond__one(const struct iotc_policy__cond *c, const struct iotc_policy_ctx *ctx)
{
    struct cond__vals vals;
    cond__lookup(c->key, ctx, &vals);
    if (c->op.fam == IOTC_POLICY__CF_NULL) {
        bool present = vals.n > 0;
        for (size_t j = 0; j < c->n; j++)
            if (c->v[j].b != present) /* "true": the key must be absent */
                return 1;
        return 0;
    }
    if (vals.n == 0) {
        if (c->op.if_exists || c->op.set == IOTC_POLICY__SET_ALL)
            return 1;
        if (c->op.set == IOTC_POLICY__SET_ANY)
            return 0;
        /* IAM: an absent key fails a condition, except a negated one. */
        return c->op.negated;
    }
    bool any = false, all = true;
    for (size_t i = 0; i < vals.n; i++) {
        if (!vals.v[i]) {
            all = false;
            continue;
        }
        int rc = cond__any_pv(c, vals.v[i], ctx);
        if (rc == -2)
            return -1;
        if (rc == -1) /* a value of the wrong type (not a number, date, address) */
            return 0;
        bool hit = c->op.negated ? !rc : rc;
        any |= hit;
        all &= hit;
    }
    switch (c->op.set) {
    case IOTC_POLICY__SET_ALL:
        return all;
    case IOTC_POLICY__SET_ANY:
        return any;
    default:
        /* No qualifier: positive operators need one matching value, negated ones need
         * every value to differ (so a multi-valued key fails closed either way). */
        return c->op.negated ? all : any;
    }
}

int iotc_policy__cond_eval(const struct iotc_policy__cond *c, size_t n,
                           const struct iotc_policy_ctx *ctx)
{
    for (size_t i = 0; i < n; i++) {
        int rc = cond__one(&c[i], ctx);
        if (rc != 1)
            return rc;
    }
    return 1;
}
