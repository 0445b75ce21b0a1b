/*
 * The certificate condition keys (iot:Certificate.*) of each registered device
 * certificate, read once at load so a decision only looks them up. Dates are ISO 8601
 * UTC (what the Date* operators take); the serial number is decimal.
 */
#include "registry.h"
#include "common/err.h"

#include <openssl/bn.h>
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *certkeys__name(const X509_NAME *n, int nid)
{
    char buf[256];
    int len = X509_NAME_get_text_by_NID((X509_NAME *)n, nid, buf, sizeof buf);
    return len > 0 ? strdup(buf) : NULL;
}

static char *certkeys__time(const ASN1_TIME *t)
{
    struct tm tm;
    char buf[32];
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return NULL;
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strdup(buf);
}

static char *certkeys__serial(X509 *x)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *dec = bn ? BN_bn2dec(bn) : NULL, *out = dec ? strdup(dec) : NULL;
    OPENSSL_free(dec);
    BN_free(bn);
    return out;
}

void iotc_registry__cert_keys(struct iotc_reg_cert *c)
{
    if (!c->cert)
        return;
    const X509_NAME *s = X509_get_subject_name(c->cert), *i = X509_get_issuer_name(c->cert);
    static const int nids[5] = {NID_organizationName, NID_organizationalUnitName, NID_countryName,
                                NID_stateOrProvinceName, NID_commonName};
    for (int k = 0; k < 4; k++)
        c->cond_vals[k] = certkeys__name(s, nids[k]);
    c->cond_vals[4] = certkeys__name(i, NID_commonName);
    for (int k = 0; k < 4; k++)
        c->cond_vals[5 + k] = certkeys__name(i, nids[k]);
    c->cond_vals[9] = certkeys__serial(c->cert);
    c->cond_vals[10] = certkeys__time(X509_get0_notBefore(c->cert));
    c->cond_vals[11] = certkeys__time(X509_get0_notAfter(c->cert));
    /* A value that failed to allocate is simply absent: Null and IfExists see that. */
}

void iotc_registry__cert_keys_free(struct iotc_reg_cert *c)
{
    for (int k = 0; k < IOTC_CERT_COND_KEYS; k++)
        free(c->cond_vals[k]);
}
