#include "tlsc.h"
#include "tls_ctx.h"
#include "config/paths.h"

#include <netinet/in.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const struct {
    int code;
    const char *name;
} tlsc__alerts[] = {
    {0, "close_notify"},
    {10, "unexpected_message"},
    {20, "bad_record_mac"},
    {21, "decryption_failed"},
    {22, "record_overflow"},
    {30, "decompression_failure"},
    {40, "handshake_failure"},
    {41, "no_certificate"},
    {42, "bad_certificate"},
    {43, "unsupported_certificate"},
    {44, "certificate_revoked"},
    {45, "certificate_expired"},
    {46, "certificate_unknown"},
    {47, "illegal_parameter"},
    {48, "unknown_ca"},
    {49, "access_denied"},
    {50, "decode_error"},
    {51, "decrypt_error"},
    {60, "export_restriction"},
    {70, "protocol_version"},
    {71, "insufficient_security"},
    {80, "internal_error"},
    {86, "inappropriate_fallback"},
    {90, "user_canceled"},
    {100, "no_renegotiation"},
    {109, "missing_extension"},
    {110, "unsupported_extension"},
    {111, "certificate_unobtainable"},
    {112, "unrecognized_name"},
    {113, "bad_certificate_status_response"},
    {114, "bad_certificate_hash_value"},
    {115, "unknown_psk_identity"},
    {116, "certificate_required"},
    {120, "no_application_protocol"},
};

const char *iotc_tlsc_alert_name(int code, char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof(tlsc__alerts) / sizeof(tlsc__alerts[0]); i++)
        if (tlsc__alerts[i].code == code)
            return tlsc__alerts[i].name;
    snprintf(buf, len, "alert_%d", code);
    return buf;
}

static int tlsc__local_port(const SSL *ssl)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = SSL_get_fd(ssl);
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

static void tlsc__info_cb(const SSL *ssl, int where, int ret)
{
    iotc_tlsc_state *st = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (!st)
        return;
    if (where & SSL_CB_HANDSHAKE_START) {
        /* libmosquitto and libcurl set SNI from the host they dial; the case decides
         * instead, and the ClientHello is built right after this point. */
        SSL *s = (SSL *)ssl;
        if (!SSL_is_init_finished(s))
            SSL_set_tlsext_host_name(s, st->send_sni ? st->sni : NULL);
        if (!st->local_port)
            st->local_port = tlsc__local_port(ssl);
    }
    if (where & SSL_CB_HANDSHAKE_DONE) {
        st->handshake_done = 1;
        /* Libraries may drop the SSL object before we get it back: look now. */
        if (st->observe_into)
            iotc_tlsc_observe((SSL *)ssl, st->observe_into);
    }
    if (where & SSL_CB_ALERT) {
        int level = (ret >> 8) & 0xff;
        int desc = ret & 0xff;
        if (where & SSL_CB_READ) {
            if (level == 2 && st->alert_recv < 0)
                st->alert_recv = desc;
            else if (level != 2)
                st->alert_recv_warn = desc;
        } else if (level == 2 && st->alert_sent < 0) {
            st->alert_sent = desc;
        }
    }
}

static void tlsc__msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
                         SSL *ssl, void *arg)
{
    iotc_tlsc_state *st = arg;
    const unsigned char *p = buf;
    (void)version;
    (void)ssl;
    if (!st || content_type != SSL3_RT_HANDSHAKE || len < 1)
        return;
    if (write_p && p[0] == SSL3_MT_CLIENT_HELLO)
        st->hello_sent = 1;
    if (!write_p && p[0] == SSL3_MT_SERVER_HELLO)
        st->server_hello_seen = 1;
}

static int tlsc__version(const char *v)
{
    if (!v)
        return 0;
    if (strcmp(v, "1.0") == 0)
        return TLS1_VERSION;
    if (strcmp(v, "1.1") == 0)
        return TLS1_1_VERSION;
    if (strcmp(v, "1.2") == 0)
        return TLS1_2_VERSION;
    if (strcmp(v, "1.3") == 0)
        return TLS1_3_VERSION;
    return 0;
}

int iotc_tlsc_alpn_wire(json_t *alpn, unsigned char *out, size_t outlen)
{
    size_t used = 0, i;
    json_t *p;
    json_array_foreach(alpn, i, p)
    {
        const char *s = json_string_value(p);
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > 255 || used + 1 + n > outlen)
            return -1;
        out[used++] = (unsigned char)n;
        memcpy(out + used, s, n);
        used += n;
    }
    return (int)used;
}

void iotc_tlsc_state_init(iotc_tlsc_state *st, const char *sni)
{
    memset(st, 0, sizeof(*st));
    st->alert_recv = st->alert_recv_warn = st->alert_sent = -1;
    if (sni) {
        st->send_sni = 1;
        snprintf(st->sni, sizeof(st->sni), "%s", sni);
    }
}

void iotc_tlsc_hook(SSL_CTX *ctx, iotc_tlsc_state *st)
{
    /* Level 0: this is a test client that must be able to offer TLS 1.0/1.1, NULL
     * and 3DES suites to see the endpoint refuse them. */
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_app_data(ctx, st);
    SSL_CTX_set_info_callback(ctx, tlsc__info_cb);
    SSL_CTX_set_msg_callback(ctx, tlsc__msg_cb);
    SSL_CTX_set_msg_callback_arg(ctx, st);
}

void iotc_tlsc_files(const iotc_tlsc_opts *o, char *ca, char *cert, char *key, size_t len)
{
    if (o->ca_file[0])
        snprintf(ca, len, "%s", o->ca_file);
    else
        snprintf(ca, len, "%s/" IOTC_PKI_CA_BUNDLE, o->pki_dir);
    cert[0] = key[0] = '\0';
    if (!o->cert)
        return;
    if (o->cert_file[0])
        snprintf(cert, len, "%s", o->cert_file);
    else
        snprintf(cert, len, "%s/%s" IOTC_PKI_CERT_EXT, o->pki_dir, o->cert);
    if (o->key_file[0])
        snprintf(key, len, "%s", o->key_file);
    else
        snprintf(key, len, "%s/%s" IOTC_PKI_KEY_EXT, o->pki_dir, o->key ? o->key : o->cert);
}

SSL_CTX *iotc_tlsc_ctx_new(const iotc_tlsc_opts *o, iotc_tlsc_state *st, iotc_errtext *err)
{
    char ca[1024], cert[1024], key[1024];
    unsigned char wire[512];
    int ver = tlsc__version(o->tls);
    iotc_client_tls spec = {
        .ca_file = ca,
        .cert_file = cert,
        .key_file = key,
        /* Pinned: exactly that version; otherwise what a careful client offers. */
        .min_version = ver ? ver : TLS1_2_VERSION,
        .max_version = ver,
        .cipher_list = o->cipher,
        .ciphersuites = o->ciphersuites,
        .sigalgs = o->sigalgs,
        /* Level 0: this is a test client that must be able to offer TLS 1.0/1.1, NULL
         * and 3DES suites to see the endpoint refuse them. */
        .security_level = 0,
        /* Verification is judged after the handshake (server_cert): the client must not
         * abort first, or a server refusal could not be told from a client one. */
        .verify_peer = 0,
        /* Never resume: each case must do a full handshake. */
        .flags = IOTC_CLIENT_TLS_NO_RESUME | IOTC_CLIENT_TLS_CHECK_KEY,
    };
    SSL_CTX *ctx;

    iotc_tlsc_state_init(st, o->sni);
    iotc_tlsc_files(o, ca, cert, key, sizeof(ca));
    if (json_array_size(o->alpn)) {
        int n = iotc_tlsc_alpn_wire(o->alpn, wire, sizeof(wire));
        if (n <= 0) {
            iotc_errtext_set(err, 0, "invalid ALPN list");
            return NULL;
        }
        spec.alpn = wire;
        spec.alpn_len = (size_t)n;
    }
    ctx = iotc_client_tls_ctx(&spec, err);
    if (ctx)
        iotc_tlsc_hook(ctx, st);
    return ctx;
}

static const char *tlsc__version_name(int v)
{
    switch (v) {
    case TLS1_VERSION:
        return "1.0";
    case TLS1_1_VERSION:
        return "1.1";
    case TLS1_2_VERSION:
        return "1.2";
    case TLS1_3_VERSION:
        return "1.3";
    }
    return "unknown";
}

void iotc_tlsc_observe(SSL *ssl, json_t *obs)
{
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    X509 *peer;

    json_object_set_new(obs, "version", json_string(tlsc__version_name(SSL_version(ssl))));
    json_object_set_new(obs, "cipher", json_string(SSL_get_cipher_name(ssl)));
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    json_object_set_new(obs, "alpn",
                        alpn_len ? json_stringn((const char *)alpn, alpn_len) : json_null());
    peer = SSL_get0_peer_certificate(ssl);
    if (peer) {
        EVP_PKEY *pk = X509_get0_pubkey(peer);
        int id = pk ? EVP_PKEY_get_base_id(pk) : 0;
        json_object_set_new(obs, "server_key",
                            json_string(id == EVP_PKEY_RSA  ? "rsa"
                                        : id == EVP_PKEY_EC ? "ec"
                                                            : "other"));
        long vr = SSL_get_verify_result(ssl);
        if (vr == X509_V_OK) {
            json_object_set_new(obs, "server_cert", json_string("valid"));
        } else {
            char buf[256];
            snprintf(buf, sizeof(buf), "invalid: %s", X509_verify_cert_error_string(vr));
            json_object_set_new(obs, "server_cert", json_string(buf));
        }
    } else {
        json_object_set_new(obs, "server_cert", json_string("none"));
    }
}

void iotc_tlsc_observe_state(const iotc_tlsc_state *st, int handshake_ok, json_t *obs)
{
    char buf[32];
    /* A fatal alert before any application byte is a refusal even when SSL_connect
     * returned 1: in TLS 1.3 the server judges the client certificate after the
     * client has finished its side of the handshake. */
    int refused = !handshake_ok || (st->alert_recv >= 0 && !st->app_data_seen);
    json_object_set_new(obs, "handshake", json_string(refused ? "refused" : "accepted"));
    json_object_set_new(obs, "alert",
                        st->alert_recv >= 0
                            ? json_string(iotc_tlsc_alert_name(st->alert_recv, buf, sizeof(buf)))
                            : json_null());
    if (st->alert_sent >= 0)
        json_object_set_new(obs, "alert_sent",
                            json_string(iotc_tlsc_alert_name(st->alert_sent, buf, sizeof(buf))));
    if (refused)
        json_object_set_new(obs, "refused_at",
                            json_string(!st->hello_sent          ? "before_client_hello"
                                        : !st->server_hello_seen ? "client_hello"
                                        : handshake_ok           ? "after_handshake"
                                                                 : "handshake"));
    json_object_set_new(obs, "sni_sent", st->send_sni ? json_string(st->sni) : json_null());
}

const char *iotc_tlsc_sni_for(const char *setting, const char *ip, const char *endpoint)
{
    if (!setting || strcmp(setting, "endpoint") == 0)
        return endpoint;
    if (strcmp(setting, "none") == 0)
        return NULL;
    if (strcmp(setting, "wrong") == 0)
        return "wrong-endpoint.example.invalid";
    if (strcmp(setting, "ip") == 0)
        return ip;
    return setting;
}
