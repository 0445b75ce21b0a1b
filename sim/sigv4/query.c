/*
 * Canonical query string: every parameter decoded from the wire, re-encoded with
 * the unreserved set, sorted by encoded name then encoded value, joined with '&'
 * and '=' even for empty values. Decoding first matters: a client may send "~"
 * or "%7E", "ሴ" raw or escaped, and must get the same signature either way.
 */
#include "sigv4_int.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

/* Encoded forms, sorted as plain byte strings (the signer sorts the same way). */
struct query__enc {
    struct iotc_buf key;
    struct iotc_buf val;
};

void iotc_sigv4__params_free(struct iotc_sigv4__params *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        iotc_buf_free(&ps->v[i].key);
        iotc_buf_free(&ps->v[i].val);
    }
    free(ps->v);
    ps->v = NULL;
    ps->n = ps->cap = 0;
}

static int query__push(struct iotc_sigv4__params *ps, struct iotc_sigv4__param **slot)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 8;
        if (cap > SIZE_MAX / sizeof *ps->v)
            return IOTC_ERR_TOO_LARGE;
        struct iotc_sigv4__param *v = realloc(ps->v, cap * sizeof *v);
        if (!v)
            return IOTC_ERR_NOMEM;
        ps->v = v;
        ps->cap = cap;
    }
    *slot = &ps->v[ps->n++];
    memset(*slot, 0, sizeof **slot);
    return IOTC_OK;
}

int iotc_sigv4__query_split(const char *query, struct iotc_sigv4__params *out)
{
    int rc = IOTC_OK;
    const char *p = query;
    while (p && *p) {
        size_t plen = strcspn(p, "&");
        if (plen > 0) {
            const char *eq = memchr(p, '=', plen);
            size_t klen = eq ? (size_t)(eq - p) : plen;
            struct iotc_sigv4__param *prm;
            if ((rc = query__push(out, &prm)))
                goto cleanup;
            if ((rc = iotc_sigv4__decode(p, klen, &prm->key)))
                goto cleanup;
            if (eq && (rc = iotc_sigv4__decode(eq + 1, plen - klen - 1, &prm->val)))
                goto cleanup;
            if (!eq && (rc = iotc_buf_reserve(&prm->val, 1)) == IOTC_OK)
                prm->val.p[0] = '\0'; /* keep the "NUL after len" promise for "a" without '=' */
            if (rc)
                goto cleanup;
        }
        p += plen;
        if (*p == '&')
            p++;
    }
    return IOTC_OK;
cleanup:
    iotc_sigv4__params_free(out);
    return rc;
}

static int query__cmp_buf(const struct iotc_buf *a, const struct iotc_buf *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    if (c)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static int query__cmp(const void *x, const void *y)
{
    const struct query__enc *a = x, *b = y;
    int c = query__cmp_buf(&a->key, &b->key);
    return c ? c : query__cmp_buf(&a->val, &b->val);
}

static bool query__is(const struct iotc_sigv4__param *prm, const char *name)
{
    size_t n = strlen(name);
    return prm->key.len == n && memcmp(prm->key.p, name, n) == 0;
}

/* Parameters that are not part of what was signed. */
static bool query__skip(const struct iotc_sigv4__param *prm, bool presigned, bool token_in)
{
    if (!presigned)
        return false;
    if (query__is(prm, "X-Amz-Signature"))
        return true;
    return !token_in && query__is(prm, "X-Amz-Security-Token");
}

int iotc_sigv4__canonical_query(const char *query, bool presigned, bool token_in_canonical_query,
                           struct iotc_buf *out)
{
    struct iotc_sigv4__params ps = {0};
    struct query__enc *enc = NULL;
    size_t used = 0;
    int rc = iotc_sigv4__query_split(query, &ps);
    if (rc)
        return rc;
    if (ps.n) {
        enc = calloc(ps.n, sizeof *enc);
        if (!enc) {
            rc = IOTC_ERR_NOMEM;
            goto cleanup;
        }
    }
    for (size_t i = 0; i < ps.n; i++) {
        if (query__skip(&ps.v[i], presigned, token_in_canonical_query))
            continue;
        struct query__enc *e = &enc[used++];
        if ((rc = iotc_sigv4__encode(ps.v[i].key.p, ps.v[i].key.len, false, &e->key)) ||
            (rc = iotc_sigv4__encode(ps.v[i].val.p, ps.v[i].val.len, false, &e->val)))
            goto cleanup;
    }
    if (used > 1)
        qsort(enc, used, sizeof *enc, query__cmp);
    for (size_t i = 0; i < used; i++) {
        if ((i && (rc = iotc_buf_u8(out, '&'))) ||
            (rc = iotc_buf_append(out, enc[i].key.p, enc[i].key.len)) ||
            (rc = iotc_buf_u8(out, '=')) ||
            (rc = iotc_buf_append(out, enc[i].val.p, enc[i].val.len)))
            goto cleanup;
    }
cleanup:
    for (size_t i = 0; i < used; i++) {
        iotc_buf_free(&enc[i].key);
        iotc_buf_free(&enc[i].val);
    }
    free(enc);
    iotc_sigv4__params_free(&ps);
    return rc;
}
