/*
 * Authentication on the 443 door (no client certificate): SigV4 (HTTPS publish
 * with an Authorization header; WSS with a presigned URL) and custom
 * authorizers (HTTPS, WSS and MQTT with ALPN "mqtt"). A success fills the
 * connection's principal and policies and arms its connection-duration limit.
 */
#ifndef IOTC_ENDPOINT_AUTH_H
#define IOTC_ENDPOINT_AUTH_H

#include "authz/authz.h"
#include "common/errtext.h"
#include "conn.h"
#include "http/http.h"

/* Synchronous: IOTC_OK, IOTC_ERR_NOT_FOUND (no SigV4 in the request) or IOTC_ERR_DENIED. */
int iotc_auth_sigv4(struct iotc_conn *c, const struct iotc_http_req *q, bool wss,
                    iotc_errtext *why);

/* True when the request carries custom-authorizer credentials (or a default authorizer exists). */
bool iotc_auth_custom_wanted(const struct iotc_conn *c, const struct iotc_http_req *q);

/* Called once with the outcome (never from inside iotc_auth_custom_*). */
typedef void (*iotc_auth_done_fn)(struct iotc_conn *c, bool allowed, const char *why);

/* What the device presented, from the HTTP request or the MQTT CONNECT. */
struct iotc_auth_input {
    const struct iotc_http_req *http; /* HTTPS/WSS, else NULL */
    const char *mqtt_username;        /* MQTT, else NULL */
    const uint8_t *mqtt_password;
    size_t mqtt_password_len;
    bool has_password;
    const char *mqtt_client_id;
    bool connection; /* HTTP that becomes a connection (WSS): refreshed, never cached */
};

/* Starts the authorizer; IOTC_OK means done() will be called. Other codes: denied at once. */
int iotc_auth_custom_start(struct iotc_conn *c, const struct iotc_auth_input *in,
                           iotc_auth_done_fn done, iotc_errtext *why);
/* Drops a pending authorization (the connection is closing); done() will not be called. */
void iotc_auth_custom_cancel(struct iotc_conn *c);
/* Frees the authorizer gate's loop event (after every connection is closed). */
void iotc_auth_gate_free(struct iotc_endpoint *ep);

#endif
