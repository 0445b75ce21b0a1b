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
#include "common/x509_cache.h"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

static int x509__deny(struct iotc_conn *c, X509_STORE_CTX *store, int verr, const char *id,
                      const char *reason)
{
    X509_STORE_CTX_set_error(store, verr);
    iotc_conn_refuse_reason(c, reason);
    json_t *f = json_pack("{s:s, s:s, s:s?, s:s}", "method", "x509", "result", "deny",
                          "certificate_id", id, "reason", reason);
    iotc_conn_emit(c, IOTC_EV_AUTH, f);
    return 0;
}

/*
 * A chain verified once is remembered on the leaf (common/x509_cache.h: with the cache
 * on, a device reconnecting sends the identical object) for this endpoint's store; a
 * hit re-checks the dates, and the CA's and certificate's registry status are checked
 * below on every handshake as before. A miss is a full verification, with its exact
 * error.
 */
static int x509__chain(struct iotc_endpoint *ep, X509 *leaf, STACK_OF(X509) * untrusted, int *verr)
{
    if (iotc_x509_memo_hit(leaf, untrusted, ep->x509_gen, NULL)) {
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
        iotc_x509_memo_keep(leaf, untrusted, X509_STORE_CTX_get0_chain(v), ep->x509_gen, NULL);
cleanup:
    X509_STORE_CTX_free(v);
    return ok;
}

int iotc_x509_verify_cb(X509_STORE_CTX *store, void *arg)
{
    struct iotc_endpoint *ep = arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct iotc_conn *c = ssl ? iotc_conn_of_ssl(ssl) : NULL;
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
    c->auth.principal = rc->id; /* the registry outlives the connection */
    json_t *f = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s}", "method", "x509", "result", "allow",
                          "principal", rc->id, "thing", rc->thing, "ca", rc->ca ? rc->ca->id : NULL,
                          "status", iotc_cert_status_name(rc->status));
    iotc_conn_emit(c, IOTC_EV_AUTH, f);
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
}
