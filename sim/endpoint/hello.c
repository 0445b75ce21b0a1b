/*
 * ClientHello inspection: records SNI, ALPN, versions and suites for the
 * journal, refuses a missing or unknown SNI, and routes port 443 by ALPN.
 *
 * Choices (not documented by AWS, documented here and in the README):
 * - SNI missing or not an endpoint/domain name: alert unrecognized_name (112).
 * - 443 with only unknown ALPN names: alert no_application_protocol (120).
 * - 443 with several known names: the client's first known name wins.
 * - 443 with http/1.1 (and no AWS name) or no ALPN: the SigV4/custom-auth/WSS door.
 */
#include "conn.h"
#include "common/jevents.h"
#include "common/rows.h"

#include <openssl/tls1.h>
#include <stdlib.h>
#include <string.h>

/* The mode a connection on 443 takes when its ALPN names a matrix row (common/rows.h). */
static enum iotc_conn_mode hello__row_mode(const iotc_row *r)
{
    if (r->proto == IOTC_PROTO_MQTT && r->auth == IOTC_AUTH_X509)
        return IOTC_MODE_MQTT_X509;
    if (r->proto == IOTC_PROTO_HTTPS && r->auth == IOTC_AUTH_X509)
        return IOTC_MODE_HTTP_X509;
    if (r->proto == IOTC_PROTO_MQTT && r->auth == IOTC_AUTH_CUSTOM)
        return IOTC_MODE_MQTT_CUSTOM;
    return IOTC_MODE_NONE;
}

/* GREASE values (RFC 8701) are noise in the journal. */
static bool hello__grease(unsigned v)
{
    return (v & 0x0f0f) == 0x0a0a && ((v >> 8) == (v & 0xff));
}

static char *hello__sni(SSL *ssl)
{
    const unsigned char *p;
    size_t len;
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) || len < 5)
        return NULL;
    size_t list = (size_t)p[0] << 8 | p[1];
    if (list + 2 > len || p[2] != TLSEXT_NAMETYPE_host_name)
        return NULL;
    size_t n = (size_t)p[3] << 8 | p[4];
    if (n == 0 || n + 5 > len || memchr(p + 5, 0, n))
        return NULL;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p + 5, n);
        s[n] = '\0';
    }
    return s;
}

/* Fills names (JSON array) and returns the route for 443. */
static enum iotc_conn_mode hello__alpn(SSL *ssl, json_t *names, bool *present, bool *http11,
                                       const char **selected)
{
    const unsigned char *p;
    size_t len;
    enum iotc_conn_mode mode = IOTC_MODE_NONE;
    *present = false;
    *http11 = false;
    *selected = NULL;
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
                                   &len) ||
        len < 2)
        return mode;
    *present = true;
    size_t list = (size_t)p[0] << 8 | p[1];
    if (list + 2 > len)
        return mode;
    for (size_t off = 2; off < list + 2;) {
        size_t n = p[off];
        if (n == 0 || off + 1 + n > list + 2)
            break;
        json_array_append_new(names, json_stringn((const char *)p + off + 1, n));
        const iotc_row *r;
        for (int i = 0; (r = iotc_row_at(i)) != NULL; i++) {
            if (mode != IOTC_MODE_NONE || r->port != 443 || !r->alpn)
                continue;
            if (strlen(r->alpn) == n && memcmp(r->alpn, p + off + 1, n) == 0) {
                mode = hello__row_mode(r);
                *selected = r->alpn;
            }
        }
        if (n == 8 && memcmp(p + off + 1, "http/1.1", 8) == 0)
            *http11 = true;
        off += 1 + n;
    }
    return mode;
}

static json_t *hello__versions(SSL *ssl)
{
    json_t *a = json_array();
    const unsigned char *p;
    size_t len;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &p, &len) && len >= 1) {
        size_t n = p[0];
        for (size_t i = 1; i + 1 < len && i < n + 1; i += 2) {
            unsigned v = (unsigned)p[i] << 8 | p[i + 1];
            if (!hello__grease(v))
                json_array_append_new(a, json_string(iotc_tls_version_name((int)v)));
        }
    } else {
        json_array_append_new(
            a, json_string(iotc_tls_version_name((int)SSL_client_hello_get0_legacy_version(ssl))));
    }
    return a;
}

static json_t *hello__ciphers(SSL *ssl)
{
    json_t *a = json_array();
    const unsigned char *p;
    size_t len = SSL_client_hello_get0_ciphers(ssl, &p);
    for (size_t i = 0; i + 1 < len; i += 2) {
        unsigned v = (unsigned)p[i] << 8 | p[i + 1];
        if (hello__grease(v) || v == 0x00ff)
            continue;
        const SSL_CIPHER *c = SSL_CIPHER_find(ssl, p + i);
        char hex[8];
        snprintf(hex, sizeof hex, "0x%04X", v);
        json_array_append_new(a, json_string(c ? SSL_CIPHER_get_name(c) : hex));
    }
    return a;
}

static int hello__refuse(struct iotc_conn *c, int *alert, int code, const char *reason)
{
    iotc_conn_refuse_reason(c, reason);
    *alert = code;
    return SSL_CLIENT_HELLO_ERROR;
}

int iotc_hello_cb(SSL *ssl, int *alert, void *arg)
{
    struct iotc_endpoint *ep = arg;
    struct iotc_conn *c = iotc_conn_of_ssl(ssl);
    if (!c)
        return SSL_CLIENT_HELLO_ERROR;
    /* A TLS 1.3 HelloRetryRequest brings a second ClientHello: decide once. */
    if (c->tr.hello_seen++)
        return SSL_CLIENT_HELLO_SUCCESS;

    free(c->tr.sni);
    c->tr.sni = hello__sni(ssl);
    json_t *alpn_names = json_array();
    bool alpn_present, http11;
    const char *route_alpn;
    enum iotc_conn_mode route = hello__alpn(ssl, alpn_names, &alpn_present, &http11, &route_alpn);
    json_t *f = json_object();
    json_object_set_new(f, "sni", c->tr.sni ? json_string(c->tr.sni) : json_null());
    json_object_set_new(f, "alpn", alpn_names);
    json_object_set_new(f, "versions", hello__versions(ssl));
    json_object_set_new(f, "ciphers", hello__ciphers(ssl));
    iotc_conn_emit(c, IOTC_EV_TLS_CLIENT_HELLO, f);

    if (!c->tr.sni && ep->profile.sni_required)
        return hello__refuse(c, alert, SSL_AD_UNRECOGNIZED_NAME,
                             "SNI missing: AWS IoT requires the endpoint name in SNI");
    if (c->tr.sni && !iotc_profile_name_known(&ep->profile, c->tr.sni))
        return hello__refuse(c, alert, SSL_AD_UNRECOGNIZED_NAME,
                             "SNI is not an endpoint or domain name of this endpoint");

    c->tr.alpn = NULL;
    switch (c->lport) {
    case IOTC_PORT_8883:
        c->tr.mode = IOTC_MODE_MQTT_X509;
        break;
    case IOTC_PORT_8443:
        c->tr.mode = IOTC_MODE_HTTP_X509;
        c->tr.alpn = http11 ? "http/1.1" : NULL;
        break;
    case IOTC_PORT_443:
        if (route != IOTC_MODE_NONE) {
            c->tr.mode = route;
            c->tr.alpn = route_alpn;
        } else if (!alpn_present || http11) {
            c->tr.mode = IOTC_MODE_DOOR_443;
            c->tr.alpn = http11 ? "http/1.1" : NULL;
        } else {
            return hello__refuse(c, alert, SSL_AD_NO_APPLICATION_PROTOCOL,
                                 "no supported ALPN protocol on 443 (x-amzn-mqtt-ca, "
                                 "x-amzn-http-ca, mqtt, http/1.1)");
        }
        break;
    default:
        return hello__refuse(c, alert, SSL_AD_INTERNAL_ERROR, "unknown port");
    }
    /* X.509 rows need a client certificate; the others must not be asked for one. */
    if (c->tr.mode == IOTC_MODE_MQTT_X509 || c->tr.mode == IOTC_MODE_HTTP_X509)
        SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    else
        SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    return SSL_CLIENT_HELLO_SUCCESS;
}

int iotc_alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                        const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)arg;
    struct iotc_conn *c = iotc_conn_of_ssl(ssl);
    if (!c || !c->tr.alpn)
        return SSL_TLSEXT_ERR_NOACK;
    size_t want = strlen(c->tr.alpn);
    for (unsigned off = 0; off < inlen;) {
        unsigned n = in[off];
        if (off + 1 + n > inlen)
            break;
        if (n == want && memcmp(in + off + 1, c->tr.alpn, n) == 0) {
            *out = in + off + 1;
            *outlen = (unsigned char)n;
            return SSL_TLSEXT_ERR_OK;
        }
        off += 1 + n;
    }
    return SSL_TLSEXT_ERR_NOACK;
}
