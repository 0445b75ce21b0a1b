/* Reasons for refusals: always NUL-terminated, silently truncated to the caller's room. */
#include "sigv4_int.h"

#include <stdio.h>

void sigv4__why(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || whylen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}
