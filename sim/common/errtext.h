/*
 * One error-text type: a function that can fail with a reason a person reads takes
 * `iotc_errtext *err` (NULL when the caller does not want the text) and returns an
 * iotc_err code, so the failure path is one line:
 *
 *     return iotc_errtext_set(err, IOTC_ERR_CONFIG, "%s: unknown key '%s'", file, key);
 *
 * It replaces the `char *err, size_t errlen` / `char *why, size_t whylen` pairs and
 * config's `struct iotc_cfg_err`. A caller-sized text that is not an error (a
 * description, a report's reason line) stays a plain buffer. Many problems found in
 * one pass (a case table's every unknown key) go to harness/diag's `iotc_diag`,
 * which takes an iotc_errtext with iotc_diag_add_err().
 */
#ifndef IOTC_COMMON_ERRTEXT_H
#define IOTC_COMMON_ERRTEXT_H

#include <stdarg.h>
#include <stddef.h>

/* Room for the longest message any caller kept before this type: serve's start
 * failure carries the endpoint's last 1,500 bytes of stderr after the command line,
 * and the runner held it in 4,096 bytes (fleet used 600, report 1,024; 512 would
 * truncate more than they did). In per-packet paths clear instead of `= {0}`. */
#define IOTC_ERRTEXT_MAX 4096

typedef struct iotc_errtext {
    char msg[IOTC_ERRTEXT_MAX]; /* "" when nothing failed; truncated (never overrun) when longer */
} iotc_errtext;

/* Empties e (NULL-safe). */
void iotc_errtext_clear(iotc_errtext *e);
/* Replaces e's text (NULL-safe) and returns code. */
int iotc_errtext_set(iotc_errtext *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int iotc_errtext_vset(iotc_errtext *e, int code, const char *fmt, va_list ap);
/* Puts "<fmt>: " before e's text (the context a lower layer did not know); returns code. */
int iotc_errtext_prefix(iotc_errtext *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds to the end of e's text; returns code. */
int iotc_errtext_append(iotc_errtext *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Copies e's text, when it has one, into a caller-sized record field (a case's
 * "error" column, a journal reason): the bridge to texts that are not error
 * parameters. Leaves buf as it was when e is empty; returns buf. */
char *iotc_errtext_copy(const iotc_errtext *e, char *buf, size_t len);
/* e's text, "" for NULL. */
const char *iotc_errtext_msg(const iotc_errtext *e);

#endif
