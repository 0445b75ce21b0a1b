/*
 * Reasons for refusals: always NUL-terminated, silently truncated to iotc_errtext's
 * room. They reach journals and HTTP error bodies, so request bytes quoted in
 * them are tamed first.
 */
#include "sigv4_int.h"

#include <stdio.h>

void iotc_sigv4__why(iotc_errtext *why, const char *fmt, ...)
{
    if (!why)
        return;
    va_list ap;
    va_start(ap, fmt);
    iotc_errtext_vset(why, 0, fmt, ap);
    va_end(ap);
}

const char *iotc_sigv4__printable(const char *s, size_t n, char out[IOTC_SIGV4__QUOTE_MAX + 1])
{
    size_t k = n < IOTC_SIGV4__QUOTE_MAX ? n : IOTC_SIGV4__QUOTE_MAX;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c > 0x20 && c < 0x7F && c != '\'' && c != '"' && c != '\\' ? (char)c : '?';
    }
    out[k] = '\0';
    return out;
}
