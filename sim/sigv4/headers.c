/*
 * Canonical headers: for each name of SignedHeaders (already lower-case and
 * sorted), every request header of that name in the order received, each value
 * trimmed with inner whitespace runs collapsed, joined with ','. Whitespace
 * includes CR and LF so an obs-folded value ("v1\r\n  v2") reads "v1 v2", as the
 * vectors expect. Quotes get no special treatment (AWS collapses inside them too).
 */
#include "sigv4_int.h"
#include "common/err.h"

#include <string.h>

static bool headers__space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char headers__lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* RFC 9110 token characters, lower-case letters only. */
static bool headers__tchar_lower(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool iotc_sigv4__name_eq(const char *a, const char *lower)
{
    if (!a)
        return false;
    size_t i = 0;
    for (; a[i] && lower[i]; i++)
        if (headers__lower(a[i]) != lower[i])
            return false;
    return a[i] == lower[i];
}

const char *iotc_sigv4__header_find(const struct iotc_sigv4_request *rq, const char *lower,
                                    size_t *count)
{
    const char *first = NULL;
    size_t n = 0;
    for (size_t i = 0; i < rq->header_count; i++) {
        if (!iotc_sigv4__name_eq(rq->headers[i].name, lower))
            continue;
        if (!n)
            first = rq->headers[i].value ? rq->headers[i].value : "";
        n++;
    }
    if (count)
        *count = n;
    return first;
}

int iotc_sigv4__append_trimmed(const char *value, struct iotc_buf *out)
{
    const char *p = value ? value : "";
    bool pending = false; /* a run of whitespace seen after some text */
    int rc;
    while (*p && headers__space(*p))
        p++;
    for (; *p; p++) {
        if (headers__space(*p)) {
            pending = true;
            continue;
        }
        if (pending && (rc = iotc_buf_u8(out, ' ')))
            return rc;
        pending = false;
        if ((rc = iotc_buf_u8(out, (uint8_t)*p)))
            return rc;
    }
    return IOTC_OK;
}

/* Appends "name:v1,v2\n" for one signed header name [name, name+n). */
static int headers__one(const struct iotc_sigv4_request *rq, const char *name, size_t n,
                        struct iotc_buf *out)
{
    char lower[256];
    int rc;
    if (n >= sizeof lower)
        return IOTC_ERR_TOO_LARGE;
    memcpy(lower, name, n);
    lower[n] = '\0';
    if ((rc = iotc_buf_append(out, lower, n)) || (rc = iotc_buf_u8(out, ':')))
        return rc;
    bool first = true;
    for (size_t i = 0; i < rq->header_count; i++) {
        if (!iotc_sigv4__name_eq(rq->headers[i].name, lower))
            continue;
        if (!first && (rc = iotc_buf_u8(out, ',')))
            return rc;
        first = false;
        if ((rc = iotc_sigv4__append_trimmed(rq->headers[i].value, out)))
            return rc;
    }
    return iotc_buf_u8(out, '\n');
}

int iotc_sigv4__canonical_headers(const struct iotc_sigv4_request *rq, const char *signed_headers,
                                  struct iotc_buf *out)
{
    const char *p = signed_headers;
    int rc;
    while (*p) {
        size_t n = strcspn(p, ";");
        if (n && (rc = headers__one(rq, p, n, out)))
            return rc;
        p += n;
        if (*p == ';')
            p++;
    }
    return IOTC_OK;
}

bool iotc_sigv4__signed_headers_valid(const char *s, iotc_errtext *why)
{
    const char *prev = NULL;
    size_t prev_n = 0;
    const char *p = s;
    if (!*p) {
        iotc_sigv4__why(why, "SignedHeaders is empty");
        return false;
    }
    for (;;) {
        size_t n = 0;
        while (p[n] && p[n] != ';') {
            if (!headers__tchar_lower(p[n])) {
                iotc_sigv4__why(why, "SignedHeaders must list lower-case header names");
                return false;
            }
            n++;
        }
        if (n == 0 || n > 255) {
            iotc_sigv4__why(why, "SignedHeaders has an empty or too long name");
            return false;
        }
        if (prev) {
            size_t m = n < prev_n ? n : prev_n;
            int c = memcmp(prev, p, m);
            if (c > 0 || (c == 0 && prev_n >= n)) {
                iotc_sigv4__why(why, "SignedHeaders must be sorted and without duplicates");
                return false;
            }
        }
        prev = p;
        prev_n = n;
        p += n;
        if (!*p)
            return true;
        p++; /* the ';' */
        if (!*p) {
            iotc_sigv4__why(why, "SignedHeaders has an empty or too long name");
            return false;
        }
    }
}

bool iotc_sigv4__signed_has(const char *signed_headers, const char *lower)
{
    size_t want = strlen(lower);
    const char *p = signed_headers;
    while (*p) {
        size_t n = strcspn(p, ";");
        if (n == want && memcmp(p, lower, n) == 0)
            return true;
        p += n;
        if (*p == ';')
            p++;
    }
    return false;
}
