/* The client TLS context builder (see tls_ctx.h). */
#include "tls_ctx.h"
#include "common/x509_cache.h"

#include <openssl/err.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

static int tls_ctx__versions(SSL_CTX *ctx, const iotc_client_tls *o, iotc_errtext *err)
{
    if ((o->min_version && SSL_CTX_set_min_proto_version(ctx, o->min_version) != 1) ||
        (o->max_version && SSL_CTX_set_max_proto_version(ctx, o->max_version) != 1)) {
        return iotc_errtext_set(err, -1, "TLS version range 0x%x..0x%x unsupported", o->min_version,
                                o->max_version);
    }
    return 0;
}

static int tls_ctx__suites(SSL_CTX *ctx, const iotc_client_tls *o, iotc_errtext *err)
{
    if (o->cipher_list && SSL_CTX_set_cipher_list(ctx, o->cipher_list) != 1) {
        return iotc_errtext_set(err, -1, "cipher list \"%s\" unknown to OpenSSL", o->cipher_list);
    }
    if (o->ciphersuites && SSL_CTX_set_ciphersuites(ctx, o->ciphersuites) != 1) {
        return iotc_errtext_set(err, -1, "TLS 1.3 ciphersuites \"%s\" unknown to OpenSSL",
                                o->ciphersuites);
    }
    if (o->sigalgs && SSL_CTX_set1_sigalgs_list(ctx, o->sigalgs) != 1) {
        return iotc_errtext_set(err, -1, "sigalgs \"%s\" unknown to OpenSSL", o->sigalgs);
    }
    return 0;
}

static int tls_ctx__files(SSL_CTX *ctx, const iotc_client_tls *o, iotc_errtext *err)
{
    if (!o->ca_file || SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
        return iotc_errtext_set(err, -1, "cannot load trust bundle %s",
                                o->ca_file ? o->ca_file : "(none)");
    }
    if (!o->cert_file || !o->cert_file[0])
        return 0;
    if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
        return iotc_errtext_set(err, -1, "cannot load client certificate %s", o->cert_file);
    }
    if (!o->key_file || SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1 ||
        ((o->flags & IOTC_CLIENT_TLS_CHECK_KEY) && SSL_CTX_check_private_key(ctx) != 1)) {
        return iotc_errtext_set(err, -1, "cannot load client key %s",
                                o->key_file ? o->key_file : "(none)");
    }
    /* A certificate file without its chain makes libssl build the chain from the trust
     * store for every handshake, X509_verify_cert and its signature checks included. Built
     * here once, the same certificates go out; a chain that cannot be built is left to
     * libssl as before (it then sends what it finds). */
    if ((o->flags & IOTC_CLIENT_TLS_CHAIN_ONCE) && SSL_CTX_build_cert_chain(ctx, 0) != 1)
        ERR_clear_error();
    return 0;
}

static void tls_ctx__modes(SSL_CTX *ctx, unsigned flags)
{
    if (flags & IOTC_CLIENT_TLS_NO_CACHE)
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (flags & IOTC_CLIENT_TLS_NO_TICKET)
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (flags & IOTC_CLIENT_TLS_RELEASE_BUFFERS)
        SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (flags & IOTC_CLIENT_TLS_IGNORE_EOF)
        SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
}

/* OpenSSL's own verification, skipped when the same chain verified before (flag
 * IOTC_CLIENT_TLS_REMEMBER_CHAIN); arg is the context's memo id. */
static int tls_ctx__remembered_verify(X509_STORE_CTX *v, void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    X509 *leaf = X509_STORE_CTX_get0_cert(v);
    STACK_OF(X509) *sent = X509_STORE_CTX_get0_untrusted(v);
    const char *host = X509_VERIFY_PARAM_get0_host(X509_STORE_CTX_get0_param(v), 0);
    if (iotc_x509_memo_hit(leaf, sent, id, host)) {
        X509_STORE_CTX_set_error(v, X509_V_OK);
        return 1;
    }
    int ok = X509_verify_cert(v);
    if (ok == 1)
        iotc_x509_memo_keep(leaf, sent, X509_STORE_CTX_get0_chain(v), id, host);
    return ok;
}

SSL_CTX *iotc_client_tls_ctx(const iotc_client_tls *o, iotc_errtext *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        iotc_errtext_set(err, 0, "SSL_CTX_new failed");
        goto fail;
    }
    /* Before any certificate is loaded: the level also judges the client's own key. */
    if (o->security_level >= 0)
        SSL_CTX_set_security_level(ctx, o->security_level);
    tls_ctx__modes(ctx, o->flags);
    if (tls_ctx__versions(ctx, o, err) || tls_ctx__suites(ctx, o, err) ||
        tls_ctx__files(ctx, o, err))
        goto fail;
    SSL_CTX_set_verify(ctx, o->verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                       o->verify_peer ? o->verify_cb : NULL);
    if (o->verify_peer && !o->verify_cb && (o->flags & IOTC_CLIENT_TLS_REMEMBER_CHAIN))
        SSL_CTX_set_cert_verify_callback(ctx, tls_ctx__remembered_verify,
                                         (void *)(uintptr_t)iotc_x509_memo_context());
    if (o->alpn && (o->alpn_len == 0 || o->alpn_len > 0xffff ||
                    SSL_CTX_set_alpn_protos(ctx, o->alpn, (unsigned)o->alpn_len) != 0)) {
        iotc_errtext_set(err, 0, "invalid ALPN list");
        goto fail;
    }
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

int iotc_client_tls_alpn_one(const char *name, unsigned char *out, size_t outlen)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 255 || n + 1 > outlen)
        return -1;
    out[0] = (unsigned char)n;
    memcpy(out + 1, name, n);
    return (int)n + 1;
}
