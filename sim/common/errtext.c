/* The one error-text type (errtext.h): bounded formatting, NULL-safe. */
#include "errtext.h"

#include <stdio.h>
#include <string.h>

void iotc_errtext_clear(iotc_errtext *e)
{
    if (e)
        e->msg[0] = '\0';
}

int iotc_errtext_vset(iotc_errtext *e, int code, const char *fmt, va_list ap)
{
    if (e)
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    return code;
}

int iotc_errtext_set(iotc_errtext *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    iotc_errtext_vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

int iotc_errtext_prefix(iotc_errtext *e, int code, const char *fmt, ...)
{
    if (!e)
        return code;
    char old[sizeof(e->msg)];
    memcpy(old, e->msg, sizeof(old));
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : (size_t)n < sizeof(e->msg) ? (size_t)n : sizeof(e->msg) - 1;
    e->msg[used] = '\0';
    return iotc_errtext_append(e, code, ": %s", old);
}

int iotc_errtext_append(iotc_errtext *e, int code, const char *fmt, ...)
{
    if (!e)
        return code;
    size_t n = strnlen(e->msg, sizeof(e->msg) - 1);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + n, sizeof(e->msg) - n, fmt, ap);
    va_end(ap);
    return code;
}

char *iotc_errtext_copy(const iotc_errtext *e, char *buf, size_t len)
{
    if (e && e->msg[0] && buf && len) {
        size_t n = strnlen(e->msg, len - 1);
        memcpy(buf, e->msg, n);
        buf[n] = '\0';
    }
    return buf;
}

const char *iotc_errtext_msg(const iotc_errtext *e)
{
    return e ? e->msg : "";
}
