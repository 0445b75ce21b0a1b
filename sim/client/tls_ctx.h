/*
 * The one client TLS context builder: every client in the tree (the runner's
 * drivers, fleet devices, the reference device, bench) describes what it wants
 * here and gets an SSL_CTX back. Blocking or event-driven use is the caller's:
 * the same context serves an SSL on a blocking fd or a libevent bufferevent.
 */
#ifndef IOTC_CLIENT_TLS_CTX_H
#define IOTC_CLIENT_TLS_CTX_H

#include <openssl/ssl.h>
#include "common/errtext.h"
#include <stddef.h>

enum {
    IOTC_CLIENT_TLS_NO_CACHE = 1u << 0,        /* no client session cache */
    IOTC_CLIENT_TLS_NO_TICKET = 1u << 1,       /* ask for no session tickets */
    IOTC_CLIENT_TLS_RELEASE_BUFFERS = 1u << 2, /* idle connections drop their buffers */
    IOTC_CLIENT_TLS_IGNORE_EOF = 1u << 3,      /* a close without close_notify is a close */
    IOTC_CLIENT_TLS_CHECK_KEY = 1u << 4,       /* SSL_CTX_check_private_key after loading */
    /* With verify_peer and no verify_cb: a server chain verified once on this context is
     * not verified again while the same certificates come back for the same host name
     * (common/x509_cache.h; dates re-checked every time). For clients that reconnect in
     * bulk (bench, fleet) with the process's certificate cache on. */
    IOTC_CLIENT_TLS_REMEMBER_CHAIN = 1u << 5,
    /* The client certificate's chain (from the trust bundle) is built once on this context
     * instead of by libssl on every handshake; the same certificates are sent. For clients
     * that connect in bulk with a valid certificate (bench, fleet). */
    IOTC_CLIENT_TLS_CHAIN_ONCE = 1u << 6,
};

/* A full handshake every time: no cache, no tickets. */
#define IOTC_CLIENT_TLS_NO_RESUME (IOTC_CLIENT_TLS_NO_CACHE | IOTC_CLIENT_TLS_NO_TICKET)

typedef struct iotc_client_tls {
    const char *ca_file;       /* trust bundle (required) */
    const char *cert_file;     /* client certificate chain, NULL or "" = none */
    const char *key_file;      /* its private key (required with cert_file) */
    int min_version;           /* TLS1_x_VERSION, 0 = the library's */
    int max_version;           /* TLS1_x_VERSION, 0 = the library's */
    const char *cipher_list;   /* TLS <= 1.2, NULL = default */
    const char *ciphersuites;  /* TLS 1.3, NULL = default */
    const char *sigalgs;       /* NULL = default */
    const unsigned char *alpn; /* wire-format protocol list, NULL = offer none */
    size_t alpn_len;
    int security_level;      /* applied before anything is loaded; -1 = the library's */
    int verify_peer;         /* 0: SSL_VERIFY_NONE (judged later), 1: SSL_VERIFY_PEER */
    SSL_verify_cb verify_cb; /* with verify_peer, NULL = OpenSSL's verdict */
    unsigned flags;          /* IOTC_CLIENT_TLS_* */
} iotc_client_tls;

/* Builds the context; NULL with err naming the setting that failed (the OpenSSL
 * error queue is cleared). */
SSL_CTX *iotc_client_tls_ctx(const iotc_client_tls *o, iotc_errtext *err);

/* Wire-format ALPN list of one protocol name; its length, or -1 when the name is
 * empty or does not fit outlen. */
int iotc_client_tls_alpn_one(const char *name, unsigned char *out, size_t outlen);

#endif
