/* Client TLS contexts: one per (row, identity), shared by every device using it. */
#include "fleet_int.h"
#include "common/err.h"

#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

static SSL_CTX *tls__ctx(const struct fleet_target *t, const char *identity, char *err,
                         size_t errlen)
{
    char crt[1200], key[1200];
    snprintf(crt, sizeof crt, "%s/%s.crt", t->pki, identity);
    snprintf(key, sizeof key, "%s/%s.key", t->pki, identity);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        goto fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Thousands of mostly idle devices in one process: no 34 KB of buffers each. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* A close without close_notify is a close (libevent 2.1 would call it an SSL
     * error under OpenSSL 3), so "closed by the endpoint" is told from a reset. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1)
        goto fail;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        goto fail;
    return ctx;
fail:
    snprintf(err, errlen, "TLS setup for identity %s (%s, CA %s): %s", identity, crt, t->ca,
             ERR_reason_error_string(ERR_peek_last_error()));
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

int fleet_tls_setup(struct fleet *fl, char *err, size_t errlen)
{
    struct fleet_spec *s = fl->spec;
    for (size_t r = 0; r < s->n_rows; r++) {
        struct fleet_row *row = &s->rows[r];
        row->ctx = calloc(row->n_identities, sizeof *row->ctx);
        if (!row->ctx)
            return IOTC_ERR_NOMEM;
        for (size_t i = 0; i < row->n_identities; i++) {
            row->ctx[i] = tls__ctx(&s->target, row->identities[i], err, errlen);
            if (!row->ctx[i])
                return IOTC_ERR_CRYPTO;
        }
    }
    return IOTC_OK;
}

void fleet_tls_free(struct fleet *fl)
{
    struct fleet_spec *s = fl->spec;
    for (size_t r = 0; r < s->n_rows; r++) {
        struct fleet_row *row = &s->rows[r];
        for (size_t i = 0; row->ctx && i < row->n_identities; i++)
            SSL_CTX_free(row->ctx[i]);
        free(row->ctx);
        row->ctx = NULL;
    }
}
