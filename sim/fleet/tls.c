/* Client TLS contexts: one per (row, identity) on X.509 rows, one without a certificate
 * on a door row, one for an HTTPS row's monitor; shared by every device using it. */
#include "fleet_int.h"
#include "client/tls_ctx.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

/* identity NULL: no client certificate (the 443 door). */
SSL_CTX *iotc_fleet_tls_ctx_new(const struct iotc_fleet_target *t, const char *identity,
                                iotc_errtext *err)
{
    char crt[1200] = "", key[1200] = "";
    iotc_errtext why = {0};
    if (identity) {
        snprintf(crt, sizeof crt, "%s/%s.crt", t->pki, identity);
        snprintf(key, sizeof key, "%s/%s.key", t->pki, identity);
    }
    iotc_client_tls spec = {
        .ca_file = t->ca,
        .cert_file = crt,
        .key_file = key,
        .min_version = TLS1_2_VERSION,
        .security_level = -1,
        .verify_peer = 1,
        /* Thousands of mostly idle devices in one process: no 34 KB of buffers each.
         * A close without close_notify is a close (libevent 2.1 would call it an SSL
         * error under OpenSSL 3), so "closed by the endpoint" is told from a reset. */
        .flags = IOTC_CLIENT_TLS_NO_CACHE | IOTC_CLIENT_TLS_RELEASE_BUFFERS |
                 IOTC_CLIENT_TLS_IGNORE_EOF | IOTC_CLIENT_TLS_CHECK_KEY,
    };
    SSL_CTX *ctx = iotc_client_tls_ctx(&spec, &why);
    if (!ctx)
        iotc_errtext_set(err, 0, "TLS setup for identity %s (CA %s): %s",
                         identity ? identity : "(none)", t->ca, why.msg);
    return ctx;
}

static int tls__row(const struct iotc_fleet_target *t, struct iotc_fleet_row *row,
                    iotc_errtext *err)
{
    bool x509 = row->def->auth == IOTC_AUTH_X509;
    if (row->def->proto == IOTC_PROTO_HTTPS) {
        row->monitor_ctx = iotc_fleet_tls_ctx_new(t, row->monitor_identity, err);
        if (!row->monitor_ctx)
            return IOTC_ERR_CRYPTO;
        if (!x509)
            return IOTC_OK; /* libcurl makes the devices' own */
    }
    row->n_ctx = x509 ? row->n_identities : 1;
    row->ctx = calloc(row->n_ctx, sizeof *row->ctx);
    if (!row->ctx)
        return IOTC_ERR_NOMEM;
    for (size_t i = 0; i < row->n_ctx; i++) {
        row->ctx[i] = iotc_fleet_tls_ctx_new(t, x509 ? row->identities[i].name : NULL, err);
        if (!row->ctx[i])
            return IOTC_ERR_CRYPTO;
    }
    return IOTC_OK;
}

int iotc_fleet_tls_setup(struct iotc_fleet *fl, iotc_errtext *err)
{
    struct iotc_fleet_spec *s = fl->spec;
    for (size_t r = 0; r < s->n_rows; r++) {
        int rc = tls__row(&s->target, &s->rows[r], err);
        if (rc != IOTC_OK)
            return rc;
    }
    return IOTC_OK;
}

void iotc_fleet_tls_free(struct iotc_fleet *fl)
{
    struct iotc_fleet_spec *s = fl->spec;
    for (size_t r = 0; r < s->n_rows; r++) {
        struct iotc_fleet_row *row = &s->rows[r];
        for (size_t i = 0; row->ctx && i < row->n_ctx; i++)
            SSL_CTX_free(row->ctx[i]);
        SSL_CTX_free(row->monitor_ctx);
        free(row->ctx);
        row->ctx = NULL;
        row->monitor_ctx = NULL;
        row->n_ctx = 0;
    }
}

const struct iotc_fleet_ident *iotc_fleet_dev_ident(const struct iotc_fleet_dev *d)
{
    return &d->row->identities[d->ridx % d->row->n_identities];
}

SSL_CTX *iotc_fleet_tls_ctx_of(const struct iotc_fleet_dev *d)
{
    if (d->sync)
        return iotc_fleet_sync_ctx(d->fl);
    if (d->monitor)
        return d->row->monitor_ctx;
    return d->row->n_ctx ? d->row->ctx[d->ridx % d->row->n_ctx] : NULL;
}
