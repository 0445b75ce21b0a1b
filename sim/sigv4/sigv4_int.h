/*
 * Internals shared by the sigv4 files (not part of the contract). Strings from the
 * request are untrusted: every helper takes explicit lengths or NUL-terminated
 * input it scans once, and never reads past either.
 */
#ifndef IOTC_SIGV4_INT_H
#define IOTC_SIGV4_INT_H

#include "sigv4.h"
#include "common/errtext.h"

#include <stdarg.h>

#define IOTC_SIGV4__ALGORITHM  "AWS4-HMAC-SHA256"
#define IOTC_SIGV4__TERMINATOR "aws4_request"
#define IOTC_SIGV4__UNSIGNED   "UNSIGNED-PAYLOAD"
#define IOTC_SIGV4__HEX_LEN    64

/* One query parameter, percent-decoded; both buffers keep a NUL after len (a
 * decoded %00 may still sit inside, so callers that want C strings check). */
struct iotc_sigv4__param {
    struct iotc_buf key;
    struct iotc_buf val;
};

struct iotc_sigv4__params {
    struct iotc_sigv4__param *v;
    size_t n;
    size_t cap;
};

/* ---- encode.c ---- */
/* Percent-encodes n bytes, RFC 3986 unreserved set kept, upper-case hex. */
int iotc_sigv4__encode(const uint8_t *p, size_t n, bool keep_slash, struct iotc_buf *out);
/* Percent-decodes n bytes ('+' stays '+'); IOTC_ERR_MALFORMED on a bad escape.
 * Leaves a NUL after the output (not counted in len). */
int iotc_sigv4__decode(const char *p, size_t n, struct iotc_buf *out);

/* ---- query.c ---- */
/* Splits a raw query on '&' (empty pieces skipped) and decodes each name=value. */
int iotc_sigv4__query_split(const char *query, struct iotc_sigv4__params *out);
void iotc_sigv4__params_free(struct iotc_sigv4__params *ps);
int iotc_sigv4__canonical_query(const char *query, bool presigned, bool token_in_canonical_query,
                                struct iotc_buf *out);

/* ---- uri.c ---- */
int iotc_sigv4__canonical_uri(const char *path, bool normalize, struct iotc_buf *out);

/* ---- headers.c ---- */
bool iotc_sigv4__name_eq(const char *a, const char *lower);
/* First header named `lower` (case-insensitive) and how many there are. */
const char *iotc_sigv4__header_find(const struct iotc_sigv4_request *rq, const char *lower,
                                    size_t *count);
/* Appends value with surrounding whitespace trimmed and inner runs collapsed to one
 * space (line breaks of folded values count as whitespace). */
int iotc_sigv4__append_trimmed(const char *value, struct iotc_buf *out);
int iotc_sigv4__canonical_headers(const struct iotc_sigv4_request *rq, const char *signed_headers,
                                  struct iotc_buf *out);
/* Checks a SignedHeaders list: lower-case header names, ';'-separated, sorted, unique. */
bool iotc_sigv4__signed_headers_valid(const char *s, iotc_errtext *why);
/* True when `lower` appears in the ';'-separated list. */
bool iotc_sigv4__signed_has(const char *signed_headers, const char *lower);

/* ---- digest.c ---- */
int iotc_sigv4__sha256_hex(const void *p, size_t n, char hex[IOTC_SIGV4__HEX_LEN + 1]);
/* The hex body hash, or UNSIGNED-PAYLOAD when x-amz-content-sha256 says so. */
int iotc_sigv4__payload_hash(const struct iotc_sigv4_request *rq,
                             char out[IOTC_SIGV4__HEX_LEN + 1]);

/* ---- date.c ---- */
/* YYYYMMDD with a real calendar date. */
bool iotc_sigv4__date8_valid(const char *s, size_t n);
/* YYYYMMDDTHHMMSSZ -> seconds since the epoch (UTC). */
int iotc_sigv4__amz_date_parse(const char *s, time_t *t);

/* ---- why.c ---- */
void iotc_sigv4__why(iotc_errtext *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define IOTC_SIGV4__QUOTE_MAX 32
/* At most IOTC_SIGV4__QUOTE_MAX bytes of s, anything but plain printable ASCII as '?'. */
const char *iotc_sigv4__printable(const char *s, size_t n, char out[IOTC_SIGV4__QUOTE_MAX + 1]);

#endif
