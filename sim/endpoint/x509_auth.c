/*
 * X.509 client authentication against the registry, inside the handshake so a
 * refused device gets a TLS alert rather than a silent close:
 *   not registered            -> bad_certificate (X509_V_ERR_CERT_REJECTED)
 *   chain to a registered CA fails -> unknown_ca / the chain error's alert
 *   status REVOKED            -> certificate_revoked
 *   any other non-ACTIVE status -> bad_certificate
 * A certificate registered without a CA is accepted on its own (with validity dates).
 * The principal is the certificate id (SHA-256 of the DER), as in AWS IoT.
 */
#include "conn.h"
#include "common/jevents.h"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int x509__deny(struct iotc_conn *c, X509_STORE_CTX *store, int verr, const char *id,
                      const char *reason)
{
    X509_STORE_CTX_set_error(store, verr);
    snprintf(c->tr.refuse_reason, sizeof c->tr.refuse_reason, "%s", reason);
    json_t *f = json_pack("{s:s, s:s, s:s?, s:s}", "method", "x509", "result", "deny",
                          "certificate_id", id, "reason", reason);
    iotc_conn_emit(c, IOTC_EV_AUTH, f);
    return 0;
}

/*
 * A chain verified once is remembered on the (shared, see common/x509_cache.h) leaf
 * object: which endpoint's CA store it chained to, and the trust anchor. Only the
 * common case is remembered: the device sent its certificate alone and the chain is
 * leaf + registered CA. What can change between handshakes is checked again every time:
 * the validity dates of both certificates here, the CA's and the certificate's registry
 * status by the caller. A memo that does not apply falls back to a full verification,
 * which also gives the exact error.
 */
struct x509_memo {
    uint64_t gen; /* iotc_endpoint.x509_gen: which endpoint's store */
    X509 *anchor; /* the registered CA (owned by that endpoint's registry) */
};

static void x509__memo_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                            void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}

static int x509__memo_idx(void)
{
    static int idx = -1;
    if (idx < 0)
        idx = X509_get_ex_new_index(0, "iotc_x509_memo", NULL, NULL, x509__memo_free);
    return idx;
}

static bool x509__in_dates(X509 *x)
{
    return X509_cmp_current_time(X509_get0_notBefore(x)) < 0 &&
           X509_cmp_current_time(X509_get0_notAfter(x)) > 0;
}

static bool x509__memo_hit(struct iotc_endpoint *ep, X509 *leaf, STACK_OF(X509) * untrusted)
{
    int idx = x509__memo_idx();
    if (idx < 0 || sk_X509_num(untrusted) != 1 || sk_X509_value(untrusted, 0) != leaf)
        return false;
    const struct x509_memo *m = X509_get_ex_data(leaf, idx);
    return m && m->gen == ep->x509_gen && x509__in_dates(leaf) && x509__in_dates(m->anchor);
}

static void x509__memo_keep(struct iotc_endpoint *ep, X509 *leaf, STACK_OF(X509) * untrusted,
                            X509_STORE_CTX *v)
{
    int idx = x509__memo_idx();
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(v);
    if (idx < 0 || sk_X509_num(untrusted) != 1 || sk_X509_value(untrusted, 0) != leaf ||
        sk_X509_num(chain) != 2 || sk_X509_value(chain, 0) != leaf)
        return;
    struct x509_memo *m = X509_get_ex_data(leaf, idx);
    if (!m) {
        m = malloc(sizeof *m);
        if (!m || !X509_set_ex_data(leaf, idx, m)) {
            free(m);
            return;
        }
    }
    m->gen = ep->x509_gen;
    m->anchor = sk_X509_value(chain, 1);
}

static int x509__chain(struct iotc_endpoint *ep, X509 *leaf, STACK_OF(X509) * untrusted, int *verr)
{
    if (x509__memo_hit(ep, leaf, untrusted)) {
        *verr = X509_V_OK;
        return 1;
    }
    X509_STORE_CTX *v = X509_STORE_CTX_new();
    int ok = 0;
    if (!v || !X509_STORE_CTX_init(v, ep->registry.ca_store, leaf, untrusted))
        goto cleanup;
    X509_STORE_CTX_set_purpose(v, X509_PURPOSE_SSL_CLIENT);
    ok = X509_verify_cert(v) == 1;
    *verr = ok ? X509_V_OK : X509_STORE_CTX_get_error(v);
    if (ok)
        x509__memo_keep(ep, leaf, untrusted, v);
cleanup:
    X509_STORE_CTX_free(v);
    return ok;
}

int iotc_x509_verify_cb(X509_STORE_CTX *store, void *arg)
{
    struct iotc_endpoint *ep = arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct iotc_conn *c = ssl ? SSL_get_ex_data(ssl, ep->ssl_idx) : NULL;
    X509 *leaf = X509_STORE_CTX_get0_cert(store);
    uint8_t sha[32];
    char id[65];
    if (!c || !leaf || iotc_cert_fingerprint(leaf, sha, id))
        return 0;
    const struct iotc_reg_cert *rc = iotc_registry_find_cert(&ep->registry, sha);
    if (!rc)
        return x509__deny(c, store, X509_V_ERR_CERT_REJECTED, id, "certificate is not registered");
    if (rc->ca) {
        int verr = X509_V_OK;
        if (rc->ca->status != IOTC_CERT_ACTIVE)
            return x509__deny(c, store, X509_V_ERR_CERT_REJECTED, id, "its CA is not ACTIVE");
        if (!x509__chain(ep, leaf, X509_STORE_CTX_get0_untrusted(store), &verr)) {
            char why[128];
            snprintf(why, sizeof why, "chain to registered CA %s failed: %s", rc->ca->id,
                     X509_verify_cert_error_string(verr));
            return x509__deny(c, store, verr, id, why);
        }
    } else {
        if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0)
            return x509__deny(c, store, X509_V_ERR_CERT_HAS_EXPIRED, id, "certificate expired");
        if (X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0)
            return x509__deny(c, store, X509_V_ERR_CERT_NOT_YET_VALID, id,
                              "certificate not yet valid");
    }
    if (rc->status == IOTC_CERT_REVOKED)
        return x509__deny(c, store, X509_V_ERR_CERT_REVOKED, id, "certificate status REVOKED");
    if (rc->status != IOTC_CERT_ACTIVE) {
        char why[96];
        snprintf(why, sizeof why, "certificate status %s", iotc_cert_status_name(rc->status));
        return x509__deny(c, store, X509_V_ERR_CERT_REJECTED, id, why);
    }
    c->auth.cert = rc;
    c->auth.policies = &rc->policies;
    c->auth.thing = rc->thing;
    c->auth.method = "x509";
    snprintf(c->auth.principal, sizeof c->auth.principal, "%s", rc->id);
    json_t *f = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s}", "method", "x509", "result", "allow",
                          "principal", rc->id, "thing", rc->thing, "ca", rc->ca ? rc->ca->id : NULL,
                          "status", iotc_cert_status_name(rc->status));
    iotc_conn_emit(c, IOTC_EV_AUTH, f);
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
}
