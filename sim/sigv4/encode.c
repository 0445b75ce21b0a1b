/*
 * Percent-encoding both ways. SigV4 re-encodes everything it signs with the
 * RFC 3986 unreserved set and upper-case hex, whatever the client put on the wire,
 * so two spellings of the same byte ("%7e", "~") canonicalise alike.
 */
#include "sigv4_int.h"
#include "common/textcodec.h"
#include "common/err.h"

static bool encode__unreserved(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int iotc_sigv4__encode(const uint8_t *p, size_t n, bool keep_slash, struct iotc_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n > SIZE_MAX / 3)
        return IOTC_ERR_TOO_LARGE;
    int rc = iotc_buf_reserve(out, n * 3);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (encode__unreserved(c) || (keep_slash && c == '/')) {
            out->p[out->len++] = c;
        } else {
            out->p[out->len++] = '%';
            out->p[out->len++] = (uint8_t)hex[c >> 4];
            out->p[out->len++] = (uint8_t)hex[c & 15];
        }
    }
    return IOTC_OK;
}

int iotc_sigv4__decode(const char *p, size_t n, struct iotc_buf *out)
{
    size_t start = out->len;
    int rc = iotc_buf_reserve(out, n + 1);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)p[i];
        if (c == '%') {
            int h = n - i >= 3 ? iotc_hex_value((unsigned char)p[i + 1]) : -1;
            int l = n - i >= 3 ? iotc_hex_value((unsigned char)p[i + 2]) : -1;
            if (h < 0 || l < 0) {
                out->len = start;
                out->p[start] = '\0';
                return IOTC_ERR_MALFORMED;
            }
            c = (uint8_t)(h * 16 + l);
            i += 2;
        }
        out->p[out->len++] = c; /* output never longer than input: room reserved above */
    }
    out->p[out->len] = '\0';
    return IOTC_OK;
}
