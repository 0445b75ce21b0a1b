#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void iotc_diag_init(iotc_diag *d)
{
    d->msg[0] = '\0';
    d->len = 0;
    d->count = 0;
}

void iotc_diag_add(iotc_diag *d, const char *fmt, ...)
{
    static const char trunc[] = "...(more)\n";
    size_t room;
    va_list ap;
    int n;

    d->count++;
    if (d->len + sizeof(trunc) >= sizeof(d->msg))
        return;
    room = sizeof(d->msg) - sizeof(trunc) - d->len;
    va_start(ap, fmt);
    n = vsnprintf(d->msg + d->len, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n + 1 >= room) {
        /* Keep the tail marker so a cut message is never mistaken for a whole one. */
        d->len = sizeof(d->msg) - sizeof(trunc);
        memcpy(d->msg + d->len, trunc, sizeof(trunc));
        d->len += sizeof(trunc) - 1;
        return;
    }
    d->len += (size_t)n;
    d->msg[d->len++] = '\n';
    d->msg[d->len] = '\0';
}

void iotc_diag_file_tail(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    long size;
    size_t n;
    out[0] = '\0';
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    if (size > (long)len - 1)
        fseek(f, size - (long)len + 1, SEEK_SET);
    else
        fseek(f, 0, SEEK_SET);
    n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
}

void iotc_diag_add_err(iotc_diag *d, const iotc_errtext *e)
{
    if (e && e->msg[0])
        iotc_diag_add(d, "%s", e->msg);
}
