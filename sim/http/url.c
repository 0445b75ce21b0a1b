/*
 * Strict percent-decoding and query-string lookup. Topics and SigV4 parameters
 * come through here, so anything ambiguous (bad escapes, NUL, broken UTF-8) is
 * refused rather than guessed at.
 */
#include "http.h"
#include "common/textcodec.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), 0 if invalid. */
static size_t url__utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return need;
}

static bool url__utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = url__utf8_seq(p + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

static int url__decode(const char *in, size_t len, bool form, struct iotc_buf *out)
{
    size_t start = out->len;
    int rc = iotc_buf_reserve(out, len + 1);
    if (rc != IOTC_OK)
        return rc;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            if (len - i < 3) {
                rc = IOTC_ERR_MALFORMED;
                goto cleanup;
            }
            int h = iotc_hex_value((unsigned char)in[i + 1]);
            int l = iotc_hex_value((unsigned char)in[i + 2]);
            if (h < 0 || l < 0) {
                rc = IOTC_ERR_MALFORMED;
                goto cleanup;
            }
            c = (unsigned char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && form) {
            c = ' ';
        }
        if (c == '\0') {
            rc = IOTC_ERR_MALFORMED;
            goto cleanup;
        }
        out->p[out->len++] = c; /* room reserved above: output never exceeds input */
    }
    if (!url__utf8_valid(out->p + start, out->len - start)) {
        rc = IOTC_ERR_MALFORMED;
        goto cleanup;
    }
    out->p[out->len] = '\0';
    return IOTC_OK;
cleanup:
    out->len = start;
    out->p[start] = '\0';
    return rc;
}

int iotc_url_decode(const char *in, size_t len, struct iotc_buf *out)
{
    if (!out || (!in && len))
        return IOTC_ERR_INVALID;
    return url__decode(in, len, false, out);
}

int iotc_url_decode_form(const char *in, size_t len, struct iotc_buf *out)
{
    if (!out || (!in && len))
        return IOTC_ERR_INVALID;
    return url__decode(in, len, true, out);
}

/* Calls visit() for every name=value pair whose decoded name equals name. Stops
 * when visit() returns non-zero and returns that value; 0 when the end is reached.
 * A pair whose name does not decode returns IOTC_ERR_MALFORMED only if strict. */
typedef int (*url__visit_fn)(const char *value, size_t value_len, void *ctx);

static int url__each(const char *query, const char *name, bool form, bool strict,
                     url__visit_fn visit, void *ctx)
{
    struct iotc_buf key = {0};
    int rc = 0;
    const char *p = query;
    size_t want = strlen(name);

    while (p && *p) {
        size_t plen = strcspn(p, "&");
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq ? (size_t)(eq - p) : plen;
        const char *val = eq ? eq + 1 : p + plen;
        size_t vlen = eq ? plen - klen - 1 : 0;

        if (plen > 0) {
            iotc_buf_reset(&key);
            int d = url__decode(p, klen, form, &key);
            if (d == IOTC_ERR_NOMEM) {
                rc = d;
                goto cleanup;
            }
            if (d != IOTC_OK) {
                if (strict) {
                    rc = IOTC_ERR_MALFORMED;
                    goto cleanup;
                }
            } else if (key.len == want && memcmp(key.p, name, want) == 0) {
                rc = visit(val, vlen, ctx);
                if (rc != 0)
                    goto cleanup;
            }
        }
        p += plen;
        if (*p == '&')
            p++;
    }
cleanup:
    iotc_buf_free(&key);
    return rc;
}

struct url__get_ctx {
    bool form;
    char **value;
    int rc;
};

static int url__get_visit(const char *value, size_t value_len, void *vctx)
{
    struct url__get_ctx *ctx = vctx;
    struct iotc_buf out = {0};
    ctx->rc = url__decode(value, value_len, ctx->form, &out);
    if (ctx->rc == IOTC_OK && !out.p)
        ctx->rc = iotc_buf_u8(&out, 0) == IOTC_OK ? IOTC_OK : IOTC_ERR_NOMEM;
    if (ctx->rc == IOTC_OK)
        *ctx->value = (char *)out.p;
    else
        iotc_buf_free(&out);
    return 1; /* first one wins */
}

static int url__get(const char *query, const char *name, bool form, char **value)
{
    if (!name || !value)
        return IOTC_ERR_INVALID;
    *value = NULL;
    struct url__get_ctx ctx = {form, value, IOTC_ERR_NOT_FOUND};
    int rc = url__each(query, name, form, true, url__get_visit, &ctx);
    if (rc < 0)
        return rc;
    return ctx.rc;
}

int iotc_http_query_get(const char *query, const char *name, char **value)
{
    return url__get(query, name, false, value);
}

int iotc_http_query_get_form(const char *query, const char *name, char **value)
{
    return url__get(query, name, true, value);
}

static int url__count_visit(const char *value, size_t value_len, void *vctx)
{
    (*(size_t *)vctx)++;
    return 0;
}

size_t iotc_http_query_count(const char *query, const char *name)
{
    size_t n = 0;
    if (!name)
        return 0;
    url__each(query, name, false, false, url__count_visit, &n);
    return n;
}
