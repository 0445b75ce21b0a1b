/*
 * HTTP/1.x requests for the endpoint's front door: HTTPS publish
 * (POST /topics/<topic>?qos=..) and the WebSocket upgrade (GET /mqtt?X-Amz-..).
 * Parsing is delegated to nodejs http-parser; this layer adds hard limits,
 * one-request-at-a-time delivery for pipelined input, strict percent-decoding
 * and the response side.
 */
#ifndef IOTC_HTTP_H
#define IOTC_HTTP_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IOTC_HTTP_DEFAULT_MAX_HEADER_BYTES (16u * 1024u)
#define IOTC_HTTP_DEFAULT_MAX_HEADERS      64u
/* AWS caps the publish payload at 128 KiB; one byte more lets the caller tell
 * "exactly at the limit" from "over it" and answer the way AWS does. */
#define IOTC_HTTP_DEFAULT_MAX_BODY (128u * 1024u + 1u)

struct iotc_http_limits {
    size_t max_header_bytes; /* request line + headers + blank line; 0 = default */
    size_t max_headers;      /* 0 = default */
    size_t max_body;         /* decoded body bytes (after de-chunking); 0 = default */
};

struct iotc_http_header {
    char *name;  /* lower-cased */
    char *value; /* surrounding whitespace removed */
};

struct iotc_http_req {
    char method[16];
    char *target; /* raw request target */
    char *path;   /* percent-decoded path, NULL if decoding failed or not origin/absolute form */
    char *query;  /* raw query (without '?') or NULL */
    int http_major, http_minor;
    bool keep_alive;
    bool upgrade; /* Upgrade + "Connection: upgrade" (or CONNECT): the rest is another protocol */
    /* True once the blank line after the headers was read: from then on method,
     * target, path, query, version, keep_alive and headers are valid, even while
     * feed() still returns IOTC_ERR_AGAIN for the body (to answer
     * "Expect: 100-continue") or after feed() failed with "body too large". */
    bool head_complete;
    struct iotc_http_header *headers;
    size_t header_count;
    struct iotc_buf body; /* NUL kept after the last byte, not counted in len */
};

struct iotc_http_reader; /* opaque */

struct iotc_http_reader *iotc_http_reader_new(const struct iotc_http_limits *limits);
void iotc_http_reader_free(struct iotc_http_reader *r);
/*
 * Feeds bytes. IOTC_OK: one whole request is ready; *consumed tells how many bytes
 * were used (the rest belongs to the next request or, after an upgrade, to the new
 * protocol). IOTC_ERR_AGAIN: more is needed (*consumed == len).
 * IOTC_ERR_MALFORMED / IOTC_ERR_TOO_LARGE / IOTC_ERR_UNSUPPORTED (HTTP version other
 * than 1.x): bad input, iotc_http_reader_error() gives a short reason; the error is
 * sticky until iotc_http_reader_next(). IOTC_ERR_INVALID: a request is already
 * ready and next() was not called.
 */
int iotc_http_reader_feed(struct iotc_http_reader *r, const uint8_t *data, size_t len,
                          size_t *consumed);
/* Valid until next() or free(). */
const struct iotc_http_req *iotc_http_reader_request(const struct iotc_http_reader *r);
/* Short reason for the last error ("header too large", "invalid method"), "" if none. */
const char *iotc_http_reader_error(const struct iotc_http_reader *r);
/* True if the sticky error is a body over max_body (declared or sent): HTTP 413. */
bool iotc_http_reader_body_too_large(const struct iotc_http_reader *r);
/* Resets for the next request on a keep-alive connection (also clears an error). */
void iotc_http_reader_next(struct iotc_http_reader *r);

/* First header with that (lower-case) name, or NULL. */
const char *iotc_http_header_get(const struct iotc_http_req *q, const char *lower_name);
/* Number of headers with that (lower-case) name. */
size_t iotc_http_header_count(const struct iotc_http_req *q, const char *lower_name);

/*
 * Query parameter lookup: percent-decodes name and value ('+' stays '+'; the _form
 * variant reads it as a space). Returns IOTC_OK, IOTC_ERR_NOT_FOUND or
 * IOTC_ERR_MALFORMED (a name before the match, or the value found, does not
 * decode); *value is malloc'ed. Duplicate keys: first wins, but
 * iotc_http_query_count() tells how many there are (names that do not decode are
 * not counted). A NULL query has no parameters.
 */
int iotc_http_query_get(const char *query, const char *name, char **value);
int iotc_http_query_get_form(const char *query, const char *name, char **value);
size_t iotc_http_query_count(const char *query, const char *name);

/*
 * Strict percent-decoding, appended to out (a NUL is kept after the data, not
 * counted in len). A bad %XY escape, %00 (or a raw NUL) and output that is not
 * valid UTF-8 give IOTC_ERR_MALFORMED, with out left as it was. '+' stays '+'.
 */
int iotc_url_decode(const char *in, size_t len, struct iotc_buf *out);
/* Same, but '+' decodes to a space (application/x-www-form-urlencoded). */
int iotc_url_decode_form(const char *in, size_t len, struct iotc_buf *out);

/* Reason phrase for a status code ("Payload Too Large"), "Unknown" if none. */
const char *iotc_http_reason(int status);
/*
 * Appends a complete response to out: status line (reason phrase from the code),
 * Content-Type (omitted if NULL), Content-Length, Connection: keep-alive|close,
 * optional extra header lines ("Name: value\r\n" concatenated, may be NULL), body.
 * IOTC_ERR_INVALID if status is outside 100..999 or extra_headers does not end in CRLF.
 */
int iotc_http_response(struct iotc_buf *out, int status, const char *content_type, const char *body,
                       size_t body_len, bool keep_alive, const char *extra_headers);
/*
 * The AWS error type (restJson1 shape name) a data-plane answer with this status
 * carries in x-amzn-ErrorType: 403 "ForbiddenException", 413
 * "RequestEntityTooLargeException", ...; other 4xx/5xx "InternalFailureException";
 * NULL below 400.
 */
const char *iotc_http_aws_error_type(int status);
/*
 * Appends a JSON response in the AWS shape {"message":"...","traceId":"<uuid>"}
 * (content-type application/json) with the headers AWS SDKs read:
 * x-amzn-RequestId (the traceId) always, x-amzn-ErrorType from status 400 on.
 * Also right for the 200 {"message":"OK",..} answer. request_id: NULL, or gets
 * the id (for the journal).
 */
int iotc_http_json_error(struct iotc_buf *out, int status, const char *message, bool keep_alive,
                         char request_id[37]);
/* Random (RFC 4122 version 4) UUID, lower-case, NUL-terminated. */
void iotc_uuid4(char out[37]);

#endif
