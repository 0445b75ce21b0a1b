/* Internals shared by the handshake files of sim/ws. */
#ifndef IOTC_WS_INT_H
#define IOTC_WS_INT_H

#include "ws.h"
#include "common/errtext.h"

#include <stdbool.h>
#include <stddef.h>

/* Writes a message into why (if any room); always returns err, for one-line failures. */
int iotc_ws__fail(int err, iotc_errtext *why, const char *msg);
/* ASCII case-insensitive equality of [a, a + alen) and NUL-terminated b. */
bool iotc_ws__ieq(const char *a, size_t alen, const char *b);
/*
 * True if the comma-separated list value (RFC 7230 #rule: optional whitespace,
 * empty elements allowed) holds token; case-insensitive unless exact.
 */
bool iotc_ws__list_has(const char *value, const char *token, bool exact);

#endif
