/*
 * Accumulates every problem found (tables, mismatches) so users see them all at once.
 * It stays beside common/errtext's iotc_errtext on purpose: an iotc_errtext is the one
 * reason a call failed, an iotc_diag is the many problems of one pass (8 KB, a count),
 * and a failed call's reason joins it with iotc_diag_add_err().
 */
#ifndef IOTC_HARNESS_DIAG_H
#define IOTC_HARNESS_DIAG_H

#include <stddef.h>

#include "common/errtext.h"

typedef struct iotc_diag {
    char msg[8192]; /* newline-separated; truncated with a marker when full */
    size_t len;
    int count;
} iotc_diag;

void iotc_diag_init(iotc_diag *d);
void iotc_diag_add(iotc_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds e's text as one problem (nothing when e is NULL or empty). */
void iotc_diag_add_err(iotc_diag *d, const iotc_errtext *e);

/* The last len-1 bytes of a file (a child's log) into out, "" when it cannot be read:
 * the part of a log that explains a failure. */
void iotc_diag_file_tail(const char *path, char *out, size_t len);

#endif
