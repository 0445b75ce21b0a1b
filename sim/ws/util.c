/* Small string helpers for the opening handshake (header lists, reasons). */
#include "ws_int.h"

#include <stdio.h>
#include <string.h>

int iotc_ws__fail(int err, iotc_errtext *why, const char *msg)
{
    if (why)
        iotc_errtext_set(why, 0, "%s", msg);
    return err;
}

static char ws__lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool iotc_ws__ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (ws__lower(a[i]) != ws__lower(b[i]))
            return false;
    return true;
}

bool iotc_ws__list_has(const char *value, const char *token, bool exact)
{
    const char *p = value;
    size_t tlen = strlen(token);
    while (p && *p) {
        size_t n = strcspn(p, ",");
        const char *s = p, *e = p + n;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        size_t len = (size_t)(e - s);
        if (exact ? (len == tlen && memcmp(s, token, tlen) == 0) : iotc_ws__ieq(s, len, token))
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}
