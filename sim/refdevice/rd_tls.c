/* TLS for the reference device: what a careful device does, minus what --misbehave drops. */
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/dial.h"
#include "client/tls_ctx.h"
#include "common/err.h"
#include "refdevice.h"

/* The two suites AWS recommends first, then the other AEAD suites it supports. */
#define TLS__GOOD_12                                                                               \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384"
/* DHE and CHACHA20 under TLS 1.2 are not in AWS IoT's list. */
#define TLS__BAD_12 "DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:"

static int tls__ex_idx = -1;

/* Only the errors a misbehaviour forgives are forgiven; everything else still fails. */
static int tls__verify_cb(int ok, X509_STORE_CTX *x)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    const struct iotc_refdevice_opts *o = ssl ? SSL_get_ex_data(ssl, tls__ex_idx) : NULL;
    int e = X509_STORE_CTX_get_error(x);
    if (ok || !o)
        return ok;
    if ((o->misbehave & IOTC_REFDEVICE_ACCEPT_EXPIRED) && e == X509_V_ERR_CERT_HAS_EXPIRED)
        return 1;
    if ((o->misbehave & IOTC_REFDEVICE_ACCEPT_UNTRUSTED) &&
        (e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
         e == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE || e == X509_V_ERR_CERT_UNTRUSTED ||
         e == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN || e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
         e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT))
        return 1;
    return 0;
}

SSL_CTX *iotc_refdevice_tls_ctx(const struct iotc_refdevice_opts *o)
{
    char list[512];
    iotc_errtext err = {0};
    unsigned char wire[251];
    int n = 0;
    SSL_CTX *ctx;

    if (tls__ex_idx < 0)
        tls__ex_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    snprintf(list, sizeof(list), "%s%s%s",
             (o->misbehave & IOTC_REFDEVICE_UNSUPPORTED_SUITES) ? TLS__BAD_12 : "", TLS__GOOD_12,
             (o->misbehave & IOTC_REFDEVICE_OLD_TLS) ? ":ECDHE-RSA-AES128-SHA:AES128-SHA" : "");
    if (o->alpn && !(o->misbehave & IOTC_REFDEVICE_NO_ALPN)) {
        n = iotc_client_tls_alpn_one(o->alpn, wire, sizeof(wire));
        if (n < 0)
            return NULL;
    }
    iotc_client_tls spec = {
        .ca_file = o->ca,
        .cert_file = o->cert,
        .key_file = o->key,
        .min_version = (o->misbehave & IOTC_REFDEVICE_OLD_TLS) ? TLS1_VERSION : TLS1_2_VERSION,
        .cipher_list = list,
        /* OpenSSL 3 only offers TLS < 1.2 at security level 0. */
        .security_level = (o->misbehave & IOTC_REFDEVICE_OLD_TLS) ? 0 : -1,
        .verify_peer = 1,
        .verify_cb = tls__verify_cb,
        .alpn = n > 0 ? wire : NULL,
        .alpn_len = (size_t)n,
    };
    ctx = iotc_client_tls_ctx(&spec, &err);
    if (!ctx)
        fprintf(stderr, "iotc_refdevice: %s\n", err.msg);
    return ctx;
}

SSL *iotc_refdevice_tls_connect(SSL_CTX *ctx, const struct iotc_refdevice_opts *o, int *fd_out)
{
    int timeout_ms = (int)(IOTC_REFDEVICE_CONNACK_TIMEOUT_MS * o->time_scale);
    const char *name = o->sni ? o->sni : o->host;
    iotc_errtext err = {0};
    SSL *ssl = NULL;
    int fd;

    if (timeout_ms < 500)
        timeout_ms = 500;
    iotc_dial_opts d = {.host = o->host,
                        .port = o->port,
                        .family = AF_UNSPEC,
                        .connect_timeout_ms = timeout_ms,
                        .io_timeout_ms = timeout_ms};
    if (iotc_client_dial(&d, &fd, &err) != IOTC_OK) {
        iotc_refdevice_log(o, "tcp connect to %s:%d failed", o->host, o->port);
        return NULL;
    }
    ssl = SSL_new(ctx);
    if (!ssl)
        goto fail;
    SSL_set_ex_data(ssl, tls__ex_idx, (void *)o);
    SSL_set_fd(ssl, fd);
    if (!(o->misbehave & IOTC_REFDEVICE_NO_SNI))
        SSL_set_tlsext_host_name(ssl, name);
    if (!(o->misbehave & IOTC_REFDEVICE_NO_HOSTNAME_VERIFY))
        SSL_set1_host(ssl, name);
    if (SSL_connect(ssl) != 1) {
        unsigned long e = ERR_peek_last_error();
        char msg[256];
        ERR_error_string_n(e, msg, sizeof(msg));
        iotc_refdevice_log(o, "TLS handshake failed: %s (verify: %s)", msg,
                           X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
        ERR_clear_error();
        goto fail;
    }
    iotc_refdevice_log(o, "TLS %s %s", SSL_get_version(ssl), SSL_get_cipher(ssl));
    *fd_out = fd;
    return ssl;
fail:
    SSL_free(ssl);
    close(fd);
    return NULL;
}
