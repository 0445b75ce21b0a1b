/*
 * What a client presents at the 443 door without a certificate: SigV4
 * credentials, or custom-authorizer values (name, token, RSA-SHA256 token
 * signature), turned into HTTP headers, a query string or an MQTT username.
 * The caller fills iotc_door_auth (the runner from a case and its registry).
 */
#ifndef IOTC_CLIENT_DOOR_AUTH_H
#define IOTC_CLIENT_DOOR_AUTH_H

#include <stddef.h>
#include "common/errtext.h"
#include <time.h>

#include "client/sigv4c.h"
#include "common/buf.h"

typedef enum iotc_da_kind {
    IOTC_DA_NONE,
    IOTC_DA_SIGV4,
    IOTC_DA_CUSTOM,
} iotc_da_kind;

typedef struct iotc_door_auth {
    iotc_da_kind kind;
    /* SigV4 */
    char access_key[256];
    char secret[512];
    char region[64];
    char service[64];
    char token[2048]; /* "" = send none */
    int own_signer;   /* 0: libcurl's CURLOPT_AWS_SIGV4 (HTTPS only) */
    char tamper[16];  /* "" | "signature" | "date" | "payload" */
    long expires;     /* presigned X-Amz-Expires, 0 = leave out */
    long date_offset_s;
    /* custom authorizer */
    char authorizer[256]; /* "" = name none: the default authorizer applies */
    char token_key[256];
    char ctoken[2048]; /* "" with has_ctoken 0 = send no token */
    int has_ctoken;
    char signature[1024]; /* base64, "" = none */
    int via_query;        /* HTTP: query parameters instead of headers */
} iotc_door_auth;

/* Base64 RSA-SHA256 signature of token with the PEM private key at key_path (what
 * x-amz-customauthorizer-signature carries). */
int iotc_door_auth_sign_token(const char *key_path, const char *token, char *out, size_t outlen,
                              iotc_errtext *err);

/*
 * HTTP request material for r: appends "k=v&..." to query (without '?') and
 * "Name: value\r\n" lines to headers. A presigned query already holds r's own
 * parameters; otherwise the caller writes those itself, before these. SigV4 uses the own
 * signer: presigned query when presign, else the Authorization header form.
 * Tampering (a->tamper) is applied after signing.
 */
typedef struct iotc_door_req {
    const char *method;
    const char *path; /* as sent */
    const char *host;
    const iotc_sigv4c_param *params; /* the request's own query (signed too) */
    size_t n_params;
    const void *body;
    size_t body_len;
    int presign;
    time_t when; /* signing time, 0 = now (both plus a->date_offset_s) */
} iotc_door_req;

int iotc_door_auth_http(const iotc_door_auth *a, const iotc_door_req *r, struct iotc_buf *query,
                        struct iotc_buf *headers, iotc_errtext *err);

/* MQTT username carrying the custom-authorizer values after user and '?'
 * (reference section 7). */
int iotc_door_auth_username(const iotc_door_auth *a, const char *user, char *out, size_t len);

/* The payload actually sent when a->tamper is "payload" (differs from the signed one). */
const char *iotc_door_auth_sent_body(const iotc_door_auth *a, const char *signed_body);

#endif
