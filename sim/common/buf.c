#include "buf.h"
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool iotc_span_eq_str(struct iotc_span a, const char *s)
{
    size_t n = strlen(s);
    return a.n == n && (n == 0 || memcmp(a.p, s, n) == 0);
}

char *iotc_span_strdup(struct iotc_span s)
{
    char *out = malloc(s.n + 1);
    if (!out)
        return NULL;
    if (s.n)
        memcpy(out, s.p, s.n);
    out[s.n] = '\0';
    return out;
}

int iotc_buf_reserve(struct iotc_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len)
        return IOTC_ERR_TOO_LARGE;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return IOTC_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return IOTC_ERR_NOMEM;
    b->p = p;
    b->cap = cap;
    return IOTC_OK;
}

int iotc_buf_append(struct iotc_buf *b, const void *data, size_t n)
{
    int rc = iotc_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    return IOTC_OK;
}

int iotc_buf_u8(struct iotc_buf *b, uint8_t v)
{
    return iotc_buf_append(b, &v, 1);
}

int iotc_buf_u16(struct iotc_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return iotc_buf_append(b, x, 2);
}

int iotc_buf_u32(struct iotc_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return iotc_buf_append(b, x, 4);
}

int iotc_buf_vprintf(struct iotc_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    int rc = n < 0 ? IOTC_ERR_INVALID : iotc_buf_reserve(b, (size_t)n + 1);
    if (rc == IOTC_OK) {
        vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
    return rc;
}

int iotc_buf_printf(struct iotc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = iotc_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void iotc_buf_reset(struct iotc_buf *b)
{
    b->len = 0;
}

void iotc_buf_free(struct iotc_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
