/*
 * What a request claims: the Authorization header form or the presigned query
 * form, never both (AWS refuses "more than one auth mechanism" too). Everything
 * is checked for shape here so that verification only has to judge, and every
 * refusal names the field at fault.
 */
#include "sigv4_int.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

/* Query parameters that make a request a presigned one. */
static const char *const parse__query_markers[] = {"X-Amz-Algorithm", "X-Amz-Credential",
                                                   "X-Amz-Signature", "X-Amz-SignedHeaders"};

static bool parse__ws(char c)
{
    return c == ' ' || c == '\t';
}

static bool parse__in(char c, const char *lo_set)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c && strchr(lo_set, c));
}

/* Copies [s, s+n) into dst[dstlen] when it fits and every byte passes ok(). */
static bool parse__copy(char *dst, size_t dstlen, const char *s, size_t n, bool (*ok)(char))
{
    if (n == 0 || n >= dstlen)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!ok(s[i]))
            return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

static bool parse__key_char(char c)
{
    return (c >= 'A' && c <= 'Z') || parse__in(c, "_-.");
}

static bool parse__scope_char(char c)
{
    return parse__in(c, "-");
}

static bool parse__hex_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool parse__any_char(char c)
{
    return c != '\0';
}

/* AKID/YYYYMMDD/region/service/aws4_request */
static int parse__credential(const char *s, size_t n, struct iotc_sigv4_parsed *out,
                             iotc_errtext *why)
{
    const char *part[5];
    size_t len[5], k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '/')
            continue;
        if (k == 5) {
            k = 6;
            break;
        }
        part[k] = s + start;
        len[k++] = i - start;
        start = i + 1;
    }
    if (k != 5) {
        iotc_sigv4__why(why, "Credential must be <key>/<date>/<region>/<service>/aws4_request");
        return IOTC_ERR_MALFORMED;
    }
    if (!parse__copy(out->access_key, sizeof out->access_key, part[0], len[0], parse__key_char)) {
        iotc_sigv4__why(why, "Credential has an invalid access key id");
        return IOTC_ERR_MALFORMED;
    }
    if (!iotc_sigv4__date8_valid(part[1], len[1])) {
        iotc_sigv4__why(why, "Credential scope date is not YYYYMMDD");
        return IOTC_ERR_MALFORMED;
    }
    memcpy(out->date, part[1], 8);
    out->date[8] = '\0';
    if (!parse__copy(out->region, sizeof out->region, part[2], len[2], parse__scope_char)) {
        iotc_sigv4__why(why, "Credential has an invalid region");
        return IOTC_ERR_MALFORMED;
    }
    if (!parse__copy(out->service, sizeof out->service, part[3], len[3], parse__scope_char)) {
        iotc_sigv4__why(why, "Credential has an invalid service");
        return IOTC_ERR_MALFORMED;
    }
    if (len[4] != strlen(IOTC_SIGV4__TERMINATOR) ||
        memcmp(part[4], IOTC_SIGV4__TERMINATOR, len[4]) != 0) {
        iotc_sigv4__why(why, "Credential scope must end with aws4_request");
        return IOTC_ERR_MALFORMED;
    }
    return IOTC_OK;
}

static int parse__signed_headers(const char *s, size_t n, struct iotc_sigv4_parsed *out,
                                 iotc_errtext *why)
{
    if (!parse__copy(out->signed_headers, sizeof out->signed_headers, s, n, parse__any_char)) {
        iotc_sigv4__why(why, "SignedHeaders is empty or too long");
        return IOTC_ERR_MALFORMED;
    }
    return iotc_sigv4__signed_headers_valid(out->signed_headers, why) ? IOTC_OK
                                                                      : IOTC_ERR_MALFORMED;
}

static int parse__signature(const char *s, size_t n, struct iotc_sigv4_parsed *out,
                            iotc_errtext *why)
{
    if (n != IOTC_SIGV4__HEX_LEN ||
        !parse__copy(out->signature, sizeof out->signature, s, n, parse__hex_char)) {
        iotc_sigv4__why(why, "Signature must be 64 lower-case hex digits");
        return IOTC_ERR_MALFORMED;
    }
    return IOTC_OK;
}

static int parse__amz_date(const char *s, size_t n, struct iotc_sigv4_parsed *out,
                           iotc_errtext *why)
{
    time_t t;
    if (n != 16 || !parse__copy(out->amz_date, sizeof out->amz_date, s, n, parse__any_char) ||
        iotc_sigv4__amz_date_parse(out->amz_date, &t) != IOTC_OK) {
        out->amz_date[0] = '\0';
        iotc_sigv4__why(why, "X-Amz-Date is not YYYYMMDDTHHMMSSZ");
        return IOTC_ERR_MALFORMED;
    }
    return IOTC_OK;
}

static int parse__token(const char *s, size_t n, struct iotc_sigv4_parsed *out, iotc_errtext *why)
{
    if (n == 0 || memchr(s, '\0', n)) {
        iotc_sigv4__why(why, "X-Amz-Security-Token is empty");
        return IOTC_ERR_MALFORMED;
    }
    out->security_token = malloc(n + 1);
    if (!out->security_token)
        return IOTC_ERR_NOMEM;
    memcpy(out->security_token, s, n);
    out->security_token[n] = '\0';
    return IOTC_OK;
}

/* ---- Authorization header ---- */

enum { PARSE__CRED, PARSE__SH, PARSE__SIG, PARSE__NCOMP };

static int parse__component(const char *name, size_t nn, const char *v, size_t vn, bool seen[],
                            struct iotc_sigv4_parsed *out, iotc_errtext *why)
{
    static const char *const names[PARSE__NCOMP] = {"Credential", "SignedHeaders", "Signature"};
    int which = -1;
    for (int i = 0; i < PARSE__NCOMP; i++)
        if (nn == strlen(names[i]) && memcmp(name, names[i], nn) == 0)
            which = i;
    if (which < 0) {
        char q[IOTC_SIGV4__QUOTE_MAX + 1];
        iotc_sigv4__why(why, "Authorization has an unknown component '%s'",
                        iotc_sigv4__printable(name, nn, q));
        return IOTC_ERR_MALFORMED;
    }
    if (seen[which]) {
        iotc_sigv4__why(why, "Authorization repeats %s", names[which]);
        return IOTC_ERR_MALFORMED;
    }
    seen[which] = true;
    if (which == PARSE__CRED)
        return parse__credential(v, vn, out, why);
    if (which == PARSE__SH)
        return parse__signed_headers(v, vn, out, why);
    return parse__signature(v, vn, out, why);
}

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." in any order. */
static int parse__authorization(const char *rest, struct iotc_sigv4_parsed *out, iotc_errtext *why)
{
    bool seen[PARSE__NCOMP] = {false};
    const char *p = rest;
    int rc;
    for (;;) {
        while (parse__ws(*p))
            p++;
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        size_t vn = eq ? n - (size_t)(eq - p) - 1 : 0;
        if (!eq || eq == p) {
            iotc_sigv4__why(why, "Authorization component is not name=value");
            return IOTC_ERR_MALFORMED;
        }
        while (vn && parse__ws(eq[vn])) /* trailing blanks before ',' or the end */
            vn--;
        rc = parse__component(p, (size_t)(eq - p), eq + 1, vn, seen, out, why);
        if (rc)
            return rc;
        p += n;
        if (*p == '\0')
            break;
        p++; /* ',' */
    }
    static const char *const missing[PARSE__NCOMP] = {"Credential", "SignedHeaders", "Signature"};
    for (int i = 0; i < PARSE__NCOMP; i++) {
        if (!seen[i]) {
            iotc_sigv4__why(why, "Authorization lacks %s", missing[i]);
            return IOTC_ERR_MALFORMED;
        }
    }
    return IOTC_OK;
}

/* Exactly one header named lower; its trimmed value is left in *val. */
static int parse__one_header(const struct iotc_sigv4_request *rq, const char *lower,
                             const char *label, bool required, struct iotc_buf *val,
                             iotc_errtext *why)
{
    size_t count = 0;
    const char *v = iotc_sigv4__header_find(rq, lower, &count);
    int rc;
    if (count > 1) {
        iotc_sigv4__why(why, "more than one %s header", label);
        return IOTC_ERR_MALFORMED;
    }
    if (count == 0) {
        if (!required)
            return IOTC_ERR_NOT_FOUND;
        iotc_sigv4__why(why, "%s header is missing", label);
        return IOTC_ERR_MALFORMED;
    }
    if ((rc = iotc_sigv4__append_trimmed(v, val)) || (rc = iotc_buf_u8(val, '\0')))
        return rc;
    val->len--; /* the NUL stays after len */
    return IOTC_OK;
}

static int parse__header_form(const struct iotc_sigv4_request *rq, const char *auth,
                              struct iotc_sigv4_parsed *out, iotc_errtext *why)
{
    struct iotc_buf v = {0};
    int rc;
    const char *p = auth;
    while (parse__ws(*p))
        p++;
    size_t alg = strcspn(p, " \t");
    if (alg != strlen(IOTC_SIGV4__ALGORITHM) || memcmp(p, IOTC_SIGV4__ALGORITHM, alg) != 0) {
        char q[IOTC_SIGV4__QUOTE_MAX + 1];
        iotc_sigv4__why(why, "unsupported algorithm '%s'", iotc_sigv4__printable(p, alg, q));
        return IOTC_ERR_MALFORMED;
    }
    if (!parse__ws(p[alg])) {
        iotc_sigv4__why(why, "Authorization has no parameters");
        return IOTC_ERR_MALFORMED;
    }
    if ((rc = parse__authorization(p + alg, out, why)))
        return rc;
    if ((rc = parse__one_header(rq, "x-amz-date", "X-Amz-Date", true, &v, why)) ||
        (rc = parse__amz_date((const char *)v.p, v.len, out, why)))
        goto cleanup;
    iotc_buf_reset(&v);
    rc = parse__one_header(rq, "x-amz-security-token", "X-Amz-Security-Token", false, &v, why);
    if (rc == IOTC_OK)
        rc = parse__token((const char *)v.p, v.len, out, why);
    else if (rc == IOTC_ERR_NOT_FOUND)
        rc = IOTC_OK;
cleanup:
    iotc_buf_free(&v);
    return rc;
}

/* ---- presigned query ---- */

/* The only parameter named name; NULL when absent, IOTC_ERR_MALFORMED when repeated. */
static int parse__qget(const struct iotc_sigv4__params *ps, const char *name,
                       const struct iotc_buf **v, iotc_errtext *why)
{
    size_t n = strlen(name);
    *v = NULL;
    for (size_t i = 0; i < ps->n; i++) {
        if (ps->v[i].key.len != n || memcmp(ps->v[i].key.p, name, n) != 0)
            continue;
        if (*v) {
            iotc_sigv4__why(why, "duplicate query parameter %s", name);
            return IOTC_ERR_MALFORMED;
        }
        *v = &ps->v[i].val;
    }
    if (*v && memchr((*v)->p, '\0', (*v)->len)) {
        iotc_sigv4__why(why, "query parameter %s contains NUL", name);
        return IOTC_ERR_MALFORMED;
    }
    return IOTC_OK;
}

static int parse__expires(const struct iotc_buf *v, struct iotc_sigv4_parsed *out,
                          iotc_errtext *why)
{
    long x = 0;
    bool ok = v->len >= 1 && v->len <= 7;
    for (size_t i = 0; ok && i < v->len; i++) {
        ok = v->p[i] >= '0' && v->p[i] <= '9';
        x = x * 10 + (v->p[i] - '0');
    }
    if (!ok || x < 1 || x > IOTC_SIGV4_MAX_EXPIRES) {
        iotc_sigv4__why(why, "X-Amz-Expires must be 1..%ld seconds", IOTC_SIGV4_MAX_EXPIRES);
        return IOTC_ERR_MALFORMED;
    }
    out->expires = x;
    return IOTC_OK;
}

static int parse__query_form(const struct iotc_sigv4__params *ps, struct iotc_sigv4_parsed *out,
                             iotc_errtext *why)
{
    static const char *const names[] = {"X-Amz-Algorithm",     "X-Amz-Credential", "X-Amz-Date",
                                        "X-Amz-SignedHeaders", "X-Amz-Signature",  "X-Amz-Expires",
                                        "X-Amz-Security-Token"};
    const struct iotc_buf *v[7];
    int rc;
    for (size_t i = 0; i < 7; i++) {
        if ((rc = parse__qget(ps, names[i], &v[i], why)))
            return rc;
        if (i < 5 && !v[i]) {
            iotc_sigv4__why(why, "query parameter %s is missing", names[i]);
            return IOTC_ERR_MALFORMED;
        }
    }
    if (v[0]->len != strlen(IOTC_SIGV4__ALGORITHM) ||
        memcmp(v[0]->p, IOTC_SIGV4__ALGORITHM, v[0]->len)) {
        char q[IOTC_SIGV4__QUOTE_MAX + 1];
        iotc_sigv4__why(why, "unsupported algorithm '%s'",
                        iotc_sigv4__printable((const char *)v[0]->p, v[0]->len, q));
        return IOTC_ERR_MALFORMED;
    }
    if ((rc = parse__credential((const char *)v[1]->p, v[1]->len, out, why)) ||
        (rc = parse__amz_date((const char *)v[2]->p, v[2]->len, out, why)) ||
        (rc = parse__signed_headers((const char *)v[3]->p, v[3]->len, out, why)) ||
        (rc = parse__signature((const char *)v[4]->p, v[4]->len, out, why)))
        return rc;
    if (v[5] && (rc = parse__expires(v[5], out, why)))
        return rc;
    if (v[6] && (rc = parse__token((const char *)v[6]->p, v[6]->len, out, why)))
        return rc;
    out->presigned = true;
    return IOTC_OK;
}

static bool parse__has_marker(const struct iotc_sigv4__params *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        for (size_t k = 0; k < sizeof parse__query_markers / sizeof parse__query_markers[0]; k++)
            if (ps->v[i].key.len == strlen(parse__query_markers[k]) &&
                memcmp(ps->v[i].key.p, parse__query_markers[k], ps->v[i].key.len) == 0)
                return true;
    return false;
}

int iotc_sigv4_parse(const struct iotc_sigv4_request *rq, struct iotc_sigv4_parsed *out,
                     iotc_errtext *why)
{
    struct iotc_sigv4__params ps = {0};
    size_t nauth = 0;
    const char *auth;
    int rc;
    if (!rq || !out || (rq->header_count && !rq->headers))
        return IOTC_ERR_INVALID;
    memset(out, 0, sizeof *out);
    out->expires = -1;
    iotc_sigv4__why(why, "%s", "");

    auth = iotc_sigv4__header_find(rq, "authorization", &nauth);
    if (nauth > 1) {
        iotc_sigv4__why(why, "more than one Authorization header");
        return IOTC_ERR_MALFORMED;
    }
    rc = iotc_sigv4__query_split(rq->query, &ps);
    if (rc == IOTC_ERR_MALFORMED)
        iotc_sigv4__why(why, "query has an invalid percent escape");
    if (rc)
        return rc;
    const char *a = auth;
    while (a && parse__ws(*a))
        a++;
    /* Other schemes (a custom authorizer's token, say) are not ours to judge. */
    bool header_form = a && strncmp(a, "AWS4", 4) == 0;
    bool query_form = parse__has_marker(&ps);
    if (header_form && query_form) {
        iotc_sigv4__why(why, "both an Authorization header and X-Amz-* query parameters");
        rc = IOTC_ERR_MALFORMED;
    } else if (header_form) {
        rc = parse__header_form(rq, auth, out, why);
    } else if (query_form) {
        rc = parse__query_form(&ps, out, why);
    } else {
        iotc_sigv4__why(why, "no SigV4 Authorization header or presigned query");
        rc = IOTC_ERR_NOT_FOUND;
    }
    iotc_sigv4__params_free(&ps);
    if (rc && rc != IOTC_ERR_NOT_FOUND) {
        /* nothing half-parsed survives a failure */
        iotc_sigv4_parsed_free(out);
        memset(out, 0, sizeof *out);
        out->expires = -1;
    }
    return rc;
}

void iotc_sigv4_parsed_free(struct iotc_sigv4_parsed *p)
{
    if (!p)
        return;
    free(p->security_token);
    p->security_token = NULL;
}
