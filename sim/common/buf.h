/* Byte spans (borrowed views) and growable buffers used by every codec. */
#ifndef IOTC_BUF_H
#define IOTC_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

struct iotc_span {
    const uint8_t *p;
    size_t n;
};

struct iotc_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
};

#define IOTC_SPAN_LIT(s) ((struct iotc_span){(const uint8_t *)(s), sizeof(s) - 1})

static inline struct iotc_span iotc_span_str(const char *s);
bool iotc_span_eq_str(struct iotc_span a, const char *s);
/* Copies a span into a new NUL-terminated string (NULL on allocation failure). */
char *iotc_span_strdup(struct iotc_span s);

int iotc_buf_reserve(struct iotc_buf *b, size_t extra);
int iotc_buf_append(struct iotc_buf *b, const void *data, size_t n);
int iotc_buf_u8(struct iotc_buf *b, uint8_t v);
int iotc_buf_u16(struct iotc_buf *b, uint16_t v); /* big endian */
int iotc_buf_u32(struct iotc_buf *b, uint32_t v); /* big endian */
/* Appends formatted text (not NUL-counted; a NUL is kept after the data). */
int iotc_buf_printf(struct iotc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int iotc_buf_vprintf(struct iotc_buf *b, const char *fmt, va_list ap);
void iotc_buf_reset(struct iotc_buf *b);
void iotc_buf_free(struct iotc_buf *b);

#include <string.h>
static inline struct iotc_span iotc_span_str(const char *s)
{
    struct iotc_span sp = {(const uint8_t *)s, s ? strlen(s) : 0};
    return sp;
}

#endif
