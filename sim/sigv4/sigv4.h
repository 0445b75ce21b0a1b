/*
 * AWS Signature Version 4 verification for the emulated endpoint: HTTPS publish
 * signed with an Authorization header, and the presigned GET /mqtt query used by
 * MQTT over WebSocket. The server side of SigV4: parse what the request claims,
 * rebuild the canonical request from the bytes as received, re-sign with the
 * caller's secret and compare in constant time.
 */
#ifndef IOTC_SIGV4_H
#define IOTC_SIGV4_H

#include "common/buf.h"
#include "common/errtext.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define IOTC_SIGV4_DEFAULT_SKEW_S 300L
#define IOTC_SIGV4_MAX_EXPIRES    604800L /* seven days, as AWS */

struct iotc_sigv4_header {
    const char *name;
    const char *value;
}; /* as received */

struct iotc_sigv4_request {
    const char *method;
    const char *path;  /* raw path as received, not decoded */
    const char *query; /* raw query without '?', or NULL */
    const struct iotc_sigv4_header *headers;
    size_t header_count;
    const uint8_t *body;
    size_t body_len;
    /* false (the default, and what AWS IoT does): remove dot segments and collapse
     * repeated slashes before encoding the path. true: encode the path as received
     * (the public vectors with "normalize": false, S3-style). */
    bool no_path_normalize;
};

struct iotc_sigv4_parsed { /* what the request claims, before verification */
    char access_key[129];
    char date[9];
    char region[64];
    char service[64];
    char amz_date[17]; /* 20150830T123600Z */
    char signed_headers[1024];
    char signature[65];
    long expires;         /* presigned: X-Amz-Expires, -1 if absent */
    char *security_token; /* malloc'ed or NULL */
    bool presigned;
};

/* Extracts the SigV4 parameters from the Authorization header or the query
 * (IOTC_ERR_NOT_FOUND when neither is present, IOTC_ERR_MALFORMED with a reason
 * when present but bad). */
int iotc_sigv4_parse(const struct iotc_sigv4_request *rq, struct iotc_sigv4_parsed *out,
                     iotc_errtext *why);
void iotc_sigv4_parsed_free(struct iotc_sigv4_parsed *p);

/* Building blocks (exposed for the vector tests). Each appends to out. */
int iotc_sigv4_canonical_request(const struct iotc_sigv4_request *rq,
                                 const struct iotc_sigv4_parsed *p, bool token_in_canonical_query,
                                 struct iotc_buf *out);
int iotc_sigv4_string_to_sign(const struct iotc_sigv4_parsed *p,
                              const struct iotc_buf *canonical_request, struct iotc_buf *out);
int iotc_sigv4_signature(const char *secret_key, const struct iotc_sigv4_parsed *p,
                         const struct iotc_buf *string_to_sign, char hex_out[65]);

/*
 * Full verification: secret looked up by the caller from p->access_key. Checks the
 * signature, that `host` is signed, date/scope consistency (scope date ==
 * X-Amz-Date's date), the clock-skew window (|now - X-Amz-Date| <= skew_s),
 * presigned expiry (now <= X-Amz-Date + X-Amz-Expires, expires 1..604800), and
 * allowed services and region. Returns IOTC_OK or IOTC_ERR_DENIED with a precise
 * reason in why ("signature mismatch", "request expired", "date outside the allowed
 * clock skew", "service 'x' not accepted here", "region 'x' is not this endpoint's",
 * "host is not signed", ...). IOTC_ERR_INVALID / IOTC_ERR_NOMEM / IOTC_ERR_CRYPTO
 * for failures that say nothing about the request.
 */
struct iotc_sigv4_policy {
    const char *const *services; /* e.g. {"iotdata", "iotdevicegateway"} */
    size_t service_count;
    const char *region;            /* NULL: any region */
    long skew_s;                   /* <= 0: IOTC_SIGV4_DEFAULT_SKEW_S (AWS itself allows 900) */
    bool token_in_canonical_query; /* false for AWS IoT WSS: the token is appended after signing */
    time_t now;                    /* 0 = time(NULL) */
};

int iotc_sigv4_verify(const struct iotc_sigv4_request *rq, const struct iotc_sigv4_parsed *p,
                      const char *secret_key, const struct iotc_sigv4_policy *pol,
                      iotc_errtext *why);

#endif
