/*
 * What an HTTPS device presents, set once on its libcurl handle: a client
 * certificate (X.509 rows), libcurl's own SigV4 signer (https-sigv4-443: an
 * implementation independent of the endpoint's verifier), or custom-auth headers
 * (https-custom-443). The door rows send no certificate.
 */
#include "fleet_int.h"
#include "common/err.h"

#include <openssl/crypto.h>
#include <string.h>

static int ha__x509(struct iotc_fleet_dev *d, CURL *e)
{
    const struct iotc_fleet_target *t = &d->fl->spec->target;
    char crt[1200], key[1200];
    const char *ident = iotc_fleet_dev_ident(d)->name;
    snprintf(crt, sizeof crt, "%s/%s.crt", t->pki, ident);
    snprintf(key, sizeof key, "%s/%s.key", t->pki, ident);
    if (curl_easy_setopt(e, CURLOPT_SSLCERT, crt) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_SSLKEY, key) != CURLE_OK)
        return IOTC_ERR_NOMEM;
    return IOTC_OK;
}

static int ha__header(struct iotc_fleet_dev *d, const char *line)
{
    struct curl_slist *h = curl_slist_append(d->headers, line);
    if (!h)
        return IOTC_ERR_NOMEM;
    d->headers = h;
    return IOTC_OK;
}

static int ha__sigv4(struct iotc_fleet_dev *d, CURL *e)
{
    const struct iotc_fleet_ident *id = iotc_fleet_dev_ident(d);
    char userpwd[600], line[1200];
    if (!id->secret)
        return IOTC_ERR_INVALID;
    if (snprintf(userpwd, sizeof userpwd, "%s:%s", id->name, id->secret) >= (int)sizeof userpwd)
        return IOTC_ERR_TOO_LARGE;
    /* curl copies both strings; the secret on the stack is wiped. */
    CURLcode cc = curl_easy_setopt(e, CURLOPT_AWS_SIGV4,
                                   "aws:amz:" IOTC_FLEET_SIGV4_REGION ":" IOTC_FLEET_SIGV4_SVC_HTTPS);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(e, CURLOPT_USERPWD, userpwd);
    OPENSSL_cleanse(userpwd, sizeof userpwd);
    if (cc != CURLE_OK)
        return cc == CURLE_UNKNOWN_OPTION ? IOTC_ERR_UNSUPPORTED : IOTC_ERR_NOMEM;
    if (!id->session_token || !*id->session_token)
        return IOTC_OK;
    /* libcurl 7.88 has no token option; an x-amz-* header it sends is signed with the rest. */
    if (snprintf(line, sizeof line, "x-amz-security-token: %s", id->session_token) >=
        (int)sizeof line)
        return IOTC_ERR_TOO_LARGE;
    return ha__header(d, line);
}

static int ha__custom(struct iotc_fleet_dev *d)
{
    char line[2048];
    for (unsigned k = 0;; k++) {
        int rc = iotc_fleet_ident_custom_header(iotc_fleet_dev_ident(d), k, line, sizeof line);
        if (rc == IOTC_ERR_NOT_FOUND)
            return IOTC_OK;
        if (rc == IOTC_OK)
            rc = ha__header(d, line);
        if (rc != IOTC_OK)
            return rc;
    }
}

int iotc_fleet_https_auth(struct iotc_fleet_dev *d, CURL *e)
{
    int rc;
    switch (d->row->def->auth) {
    case IOTC_AUTH_X509:
        return ha__x509(d, e);
    case IOTC_AUTH_SIGV4:
        rc = ha__sigv4(d, e);
        break;
    case IOTC_AUTH_CUSTOM:
        rc = ha__custom(d);
        break;
    default:
        return IOTC_ERR_INVALID;
    }
    /* The list must outlive every transfer of the handle: freed with the device. */
    if (rc == IOTC_OK && d->headers &&
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->headers) != CURLE_OK)
        rc = IOTC_ERR_NOMEM;
    return rc;
}
