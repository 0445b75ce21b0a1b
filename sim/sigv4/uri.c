/*
 * Canonical URI. The path is taken as received (already percent-encoded by the
 * client) and encoded once more, segment by segment: that is the "double
 * encoding" every AWS service except S3 expects, so "/a%2Fb" signs as
 * "/a%252Fb" and a raw "/a b" as "/a%20b". With normalisation (the default) dot
 * segments are removed and empty segments dropped first, as RFC 3986 5.2.4 and
 * the public vectors do; "%2E" is not a dot here because nothing is decoded.
 */
#include "sigv4_int.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

struct uri__seg {
    const char *p;
    size_t n;
};

static bool uri__is_dot(const char *p, size_t n)
{
    return n == 1 && p[0] == '.';
}

static bool uri__is_dotdot(const char *p, size_t n)
{
    return n == 2 && p[0] == '.' && p[1] == '.';
}

static int uri__normalized(const char *path, size_t len, struct iotc_buf *out)
{
    /* at most one kept segment per two input bytes ("a/"), plus one */
    size_t max = len / 2 + 1, n = 0;
    struct uri__seg *segs = calloc(max, sizeof *segs);
    bool trailing = false;
    int rc = IOTC_OK;
    if (!segs)
        return IOTC_ERR_NOMEM;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        size_t sn = i - start;
        /* a trailing slash survives; so does the one implied by a final "." or ".." */
        trailing =
            i == len ? (uri__is_dot(path + start, sn) || uri__is_dotdot(path + start, sn)) : true;
        if (uri__is_dotdot(path + start, sn)) {
            if (n)
                n--;
        } else if (sn && !uri__is_dot(path + start, sn)) {
            if (n == max) { /* cannot happen with max above; refuse rather than overflow */
                rc = IOTC_ERR_TOO_LARGE;
                goto cleanup;
            }
            segs[n].p = path + start;
            segs[n++].n = sn;
        }
        if (i < len)
            i++; /* the '/' */
    }
    if ((rc = iotc_buf_u8(out, '/')))
        goto cleanup;
    for (size_t k = 0; k < n; k++) {
        if ((k && (rc = iotc_buf_u8(out, '/'))) ||
            (rc = iotc_sigv4__encode((const uint8_t *)segs[k].p, segs[k].n, false, out)))
            goto cleanup;
    }
    if (n && trailing)
        rc = iotc_buf_u8(out, '/');
cleanup:
    free(segs);
    return rc;
}

int iotc_sigv4__canonical_uri(const char *path, bool normalize, struct iotc_buf *out)
{
    size_t len = path ? strlen(path) : 0;
    if (len == 0)
        return iotc_buf_u8(out, '/');
    if (normalize)
        return uri__normalized(path, len, out);
    return iotc_sigv4__encode((const uint8_t *)path, len, true, out);
}
