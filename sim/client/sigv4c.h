/*
 * A client-side SigV4 signer for the door drivers (Authorization header and
 * presigned query). Written apart from sim/sigv4 on purpose: the endpoint
 * verifies with that code, so signing with it too would let one shared mistake
 * pass both ways. The unit test checks this signer on the public vectors.
 *
 * Scope: what a device sends. The path is taken as sent on the wire and
 * encoded once more for the canonical URI (AWS's rule for every service but
 * S3); no dot-segment normalisation. Signed headers are host, x-amz-date and,
 * in the header form, x-amz-security-token when a token is given.
 */
#ifndef IOTC_CLIENT_SIGV4C_H
#define IOTC_CLIENT_SIGV4C_H

#include <stddef.h>
#include <time.h>

#define IOTC_SIGV4C_MAX_PARAMS 16
#define IOTC_SIGV4C_DATE_LEN   17 /* "20150830T123600Z" + NUL */

typedef struct iotc_sigv4c_param {
    const char *key; /* not encoded */
    const char *value;
} iotc_sigv4c_param;

typedef struct iotc_sigv4c {
    const char *access_key;
    const char *secret;
    const char *region;
    const char *service;
    time_t when;
    const char *method;
    const char *path; /* as sent, e.g. "/mqtt" or "/topics/a/b" */
    const char *host; /* the Host header value */
    const iotc_sigv4c_param *params;
    size_t n_params;
    const char *token; /* header form only: signed x-amz-security-token; NULL = none */
    const void *body;  /* header form only: hashed payload */
    size_t body_len;
} iotc_sigv4c;

/* X-Amz-Date value and the Authorization header value (without the name). */
int iotc_sigv4c_header(const iotc_sigv4c *s, char amz_date[IOTC_SIGV4C_DATE_LEN], char *auth,
                       size_t authlen);

/* The whole presigned query (s->params plus the X-Amz-* parameters, sorted,
 * encoded), ending with X-Amz-Signature. expires <= 0 leaves X-Amz-Expires out. */
int iotc_sigv4c_presign(const iotc_sigv4c *s, long expires, char *query, size_t qlen);

/* RFC 3986 percent-encoding of everything but unreserved characters (and '/'
 * when keep_slash). IOTC_ERR_TOO_LARGE when out is too small. */
int iotc_sigv4c_encode(const char *in, int keep_slash, char *out, size_t outlen);

#endif
