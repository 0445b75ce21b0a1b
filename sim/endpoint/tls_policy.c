/* One SSL_CTX per endpoint, configured from the profile's AWS security policy. */
#include "endpoint_int.h"
#include "common/err.h"

#include <openssl/err.h>
#include <stdio.h>

/* Seed 004: exactly these 18 TLS 1.2 suites (OpenSSL names), recommended first. */
static const char tls__ciphers_12[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                      "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:"
                                      "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:"
                                      "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                      "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:"
                                      "ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES256-SHA:"
                                      "AES128-GCM-SHA256:AES128-SHA256:AES128-SHA:"
                                      "AES256-GCM-SHA384:AES256-SHA256:AES256-SHA";
static const char tls__ciphers_13[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

const char *iotc_tls_version_name(int version)
{
    switch (version) {
    case 0x0300:
        return "SSLv3";
    case TLS1_VERSION:
        return "TLSv1.0";
    case TLS1_1_VERSION:
        return "TLSv1.1";
    case TLS1_2_VERSION:
        return "TLSv1.2";
    case TLS1_3_VERSION:
        return "TLSv1.3";
    default:
        return "unknown";
    }
}

static int tls__load_pair(SSL_CTX *ctx, const char *pki, const char *name, iotc_errtext *err)
{
    char crt[4096], key[4096];
    snprintf(crt, sizeof crt, "%s/%s.crt", pki, name);
    snprintf(key, sizeof key, "%s/%s.key", pki, name);
    if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        iotc_errtext_set(err, 0, "cannot load server certificate %s / %s: %s (is the PKI built?)",
                         crt, key, ERR_reason_error_string(ERR_peek_last_error()));
        ERR_clear_error();
        return IOTC_ERR_CONFIG;
    }
    return IOTC_OK;
}

int iotc_tls_ctx_new(struct iotc_endpoint *ep, SSL_CTX **out, iotc_errtext *err)
{
    int rc = IOTC_ERR_CRYPTO;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        goto fail;
    /* Security level 1 so the SHA-1 suites of seed 004 stay available whatever the system
     * openssl.cnf says; the cipher lists below are the real policy. */
    SSL_CTX_set_security_level(ctx, 1);
    int min = TLS1_2_VERSION, max = TLS1_3_VERSION;
    if (ep->profile.policy == IOTC_POLICY_TLS13_1_3)
        min = TLS1_3_VERSION;
    if (ep->profile.policy == IOTC_POLICY_TLS12_1_2)
        max = TLS1_2_VERSION;
    if (!SSL_CTX_set_min_proto_version(ctx, min) || !SSL_CTX_set_max_proto_version(ctx, max))
        goto fail;
    if (!SSL_CTX_set_cipher_list(ctx, tls__ciphers_12) ||
        !SSL_CTX_set_ciphersuites(ctx, tls__ciphers_13))
        goto fail;
    /* AWS IoT does not support session tickets (reference section 2); no resumption at all. */
    /* A device that just drops TCP without close_notify is a lost connection, not a TLS
     * error: OpenSSL 3 reports it as EOF only with IGNORE_UNEXPECTED_EOF. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* The server's chain is what its certificate file holds. Without NO_AUTO_CHAIN libssl
     * tries to build one from this context's (empty) store on every handshake: a failed
     * X509_verify_cert per device, for the same bytes on the wire. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
    if (!SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384:P-521"))
        goto fail;
    /* Both key types, so ECDSA and RSA suites can each be negotiated. */
    if (ep->scenario.server_cert) {
        /* Certification scenario: serve only the bad certificate the case asks for. */
        if ((rc = tls__load_pair(ctx, ep->pki_dir, ep->scenario.server_cert, err)))
            goto fail_quiet;
    } else if ((rc = tls__load_pair(ctx, ep->pki_dir, "server-rsa", err)) ||
               (rc = tls__load_pair(ctx, ep->pki_dir, "server-ec", err))) {
        goto fail_quiet;
    }
    /* Client CA names are not sent: devices may use certificates registered without a CA. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, iotc_x509_verify_cb, ep);
    SSL_CTX_set_client_hello_cb(ctx, iotc_hello_cb, ep);
    SSL_CTX_set_alpn_select_cb(ctx, iotc_alpn_select_cb, ep);
    *out = ctx;
    return IOTC_OK;
fail:
    iotc_errtext_set(err, 0, "TLS setup failed: %s",
                     ERR_reason_error_string(ERR_peek_last_error()));
    ERR_clear_error();
    rc = IOTC_ERR_CRYPTO;
fail_quiet:
    SSL_CTX_free(ctx);
    return rc;
}
