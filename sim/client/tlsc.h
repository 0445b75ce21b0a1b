/*
 * Client-side TLS contexts for every driver: versions, cipher lists, ALPN, SNI
 * (including none / wrong / IP literal), optional client certificate, and a
 * record of what happened on the wire (alerts, ClientHello sent, ServerHello seen).
 */
#ifndef IOTC_CLIENT_TLSC_H
#define IOTC_CLIENT_TLSC_H

#include <jansson.h>
#include "common/errtext.h"
#include <openssl/ssl.h>
#include <stddef.h>

typedef struct iotc_tlsc_opts {
    const char *pki_dir;
    const char *cert;         /* PKI name ("device-01") or NULL for no client certificate */
    const char *key;          /* PKI name of the key, NULL = same as cert */
    const char *tls;          /* "1.0".."1.3" pins min = max; "any" or NULL = library default */
    const char *cipher;       /* TLS <= 1.2 cipher list, NULL = default */
    const char *ciphersuites; /* TLS 1.3 suites, NULL = default */
    const char *sigalgs;      /* NULL = default */
    json_t *alpn;             /* array of protocol names, or NULL / empty for none */
    const char *sni;          /* host_name to send, NULL = send no SNI */
    /* Files that replace the PKI-dir paths when set (external targets). */
    char ca_file[1024], cert_file[1024], key_file[1024];
} iotc_tlsc_opts;

/* The trust bundle, certificate and key files the options name (cert/key "" when
 * there is no client certificate). */
void iotc_tlsc_files(const iotc_tlsc_opts *o, char *ca, char *cert, char *key, size_t len);

/* Per-connection observations; the context points at it through its app data. */
typedef struct iotc_tlsc_state {
    char sni[256];
    int send_sni;
    int hello_sent;
    int server_hello_seen;
    int alert_recv;       /* first fatal alert from the peer, -1 if none */
    int alert_recv_warn;  /* last warning-level alert from the peer (close_notify), -1 */
    int alert_sent;       /* first fatal alert we sent, -1 if none */
    int app_data_seen;    /* set by drivers once application bytes arrived */
    int handshake_done;   /* the client side of the handshake completed */
    int local_port;       /* our TCP port at handshake start: the journal's key, kept even
                           * when a library closes the socket before we can ask */
    json_t *observe_into; /* when set, iotc_tlsc_observe() runs at handshake completion */
} iotc_tlsc_state;

/* Builds a context; st must outlive it. Returns NULL and fills err. */
SSL_CTX *iotc_tlsc_ctx_new(const iotc_tlsc_opts *o, iotc_tlsc_state *st, iotc_errtext *err);

/* Resets st; sni NULL = send none. */
void iotc_tlsc_state_init(iotc_tlsc_state *st, const char *sni);

/* Installs the observation hooks (alerts, SNI override, hello tracking) and
 * security level 0 on a context someone else built (libcurl's). */
void iotc_tlsc_hook(SSL_CTX *ctx, iotc_tlsc_state *st);

/* RFC 8446/5246 name of an alert code ("unrecognized_name"), "alert_<n>" if unknown. */
const char *iotc_tlsc_alert_name(int code, char *buf, size_t len);

/* Adds version, cipher, alpn, server_key, server_cert to an observed object. */
void iotc_tlsc_observe(SSL *ssl, json_t *obs);

/* Adds handshake / alert / refused_at from the state. */
void iotc_tlsc_observe_state(const iotc_tlsc_state *st, int handshake_ok, json_t *obs);

/* The SNI to send for a case setting: "endpoint" | "none" | "wrong" | "ip" | literal.
 * ip: the dialled address literal. */
const char *iotc_tlsc_sni_for(const char *setting, const char *ip, const char *endpoint);

/* Wire-format ALPN list; returns length or -1. */
int iotc_tlsc_alpn_wire(json_t *alpn, unsigned char *out, size_t outlen);

#endif
