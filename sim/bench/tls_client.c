/* The clients' SSL_CTX: device certificate, server verification, version pinning. */
#include "bench.h"
#include "common/err.h"
#include "config/paths.h"

#include <openssl/err.h>
#include <stdio.h>

int bench_tls_ctx_new(const struct bench_tls_opts *o, SSL_CTX **out, char *err, size_t errlen)
{
    char ca[1024], crt[1024], key[1024];
    snprintf(ca, sizeof ca, "%s/" IOTC_PKI_CA_BUNDLE, o->pki);
    snprintf(crt, sizeof crt, "%s/%s.crt", o->pki, o->cert);
    snprintf(key, sizeof key, "%s/%s.key", o->pki, o->cert);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        goto fail;
    if (!SSL_CTX_set_min_proto_version(ctx, o->version) ||
        !SSL_CTX_set_max_proto_version(ctx, o->version))
        goto fail;
    /* One suite on both servers, so the throughput ratio compares relays, not ciphers. */
    if (!SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256"))
        goto fail;
    if (!SSL_CTX_set_cipher_list(ctx, o->ecdsa_only ? "ECDHE-ECDSA-AES128-GCM-SHA256"
                                                    : "ECDHE-ECDSA-AES128-GCM-SHA256:"
                                                      "ECDHE-RSA-AES128-GCM-SHA256"))
        goto fail;
    /* Under TLS 1.3 the suite does not name the key type: the signature list does. */
    if (o->ecdsa_only && !SSL_CTX_set1_sigalgs_list(ctx, "ECDSA+SHA256:ECDSA+SHA384"))
        goto fail;
    /* Every handshake must be a full one: no session cache, no tickets. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    /* Thousands of idle clients in this process: no 34 KB of buffers each. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
        goto fail;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        goto fail;
    *out = ctx;
    return IOTC_OK;
fail:
    snprintf(err, errlen, "client TLS setup (%s, %s): %s", o->pki, o->cert,
             ERR_reason_error_string(ERR_peek_last_error()));
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return IOTC_ERR_CRYPTO;
}
