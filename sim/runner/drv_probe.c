#define _GNU_SOURCE /* strcasestr */
/*
 * The raw probe: one TCP connection, one OpenSSL handshake with exactly the
 * case's settings, then the row's application protocol (MQTT CONNECT/CONNACK,
 * or one HTTP POST /topics) so "accepted" means the service accepted, not just TLS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "driver.h"
#include "client/mqtt_wire.h"

typedef struct probe_conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    iotc_tlsc_state st;
    int hs_ok;
    int eof;         /* peer closed (TCP FIN/RST or close_notify) */
    int timedout;    /* no answer within the case's timeout */
    const char *end; /* how the connection ended, for the report */
} probe_conn;

/* Reads up to len bytes; 0 on EOF / alert / timeout (the reason lands in pc). */
static int probe__read(probe_conn *pc, unsigned char *buf, int len)
{
    int n = SSL_read(pc->ssl, buf, len);
    if (n > 0) {
        pc->st.app_data_seen = 1;
        return n;
    }
    switch (SSL_get_error(pc->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        pc->timedout = 1;
        pc->end = "timeout";
        break;
    case SSL_ERROR_ZERO_RETURN:
        pc->eof = 1;
        pc->end = "close_notify";
        break;
    case SSL_ERROR_SYSCALL:
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            pc->timedout = 1;
            pc->end = "timeout";
        } else {
            pc->eof = 1;
            pc->end = errno == ECONNRESET ? "reset" : "eof";
        }
        break;
    default:
        pc->eof = 1;
        pc->end = "tls_error";
    }
    ERR_clear_error();
    return 0;
}

static void probe__mqtt(probe_conn *pc, const char *client_id, json_t *obs)
{
    unsigned char buf[512];
    size_t have = 0;
    int rc = -1, n;

    n = iotc_mqttw_connect(client_id, buf, sizeof(buf));
    /* A failed write (peer reset) still leaves its alert readable: read anyway. */
    if (n < 0 || SSL_write(pc->ssl, buf, n) != n)
        ERR_clear_error();
    while (!pc->eof && !pc->timedout && have < sizeof(buf)) {
        n = probe__read(pc, buf + have, (int)(sizeof(buf) - have));
        if (n <= 0)
            break;
        have += (size_t)n;
        int prc = iotc_mqttw_connack(buf, have, &rc);
        if (prc == IOTC_ERR_AGAIN)
            continue;
        if (prc == IOTC_OK)
            break;
        /* Not MQTT: the 443 door without ALPN speaks HTTP; record what came back. */
        if (have >= 12 && memcmp(buf, "HTTP/", 5) == 0)
            json_object_set_new(obs, "http_status", json_integer(atoi((char *)buf + 9)));
        json_object_set_new(obs, "unexpected_reply",
                            json_stringn((char *)buf, have > 64 ? 64 : have));
        break;
    }
    if (rc >= 0)
        json_object_set_new(obs, "connack_rc", json_integer(rc));
    json_object_set_new(obs, "connect", json_string(rc == 0 ? "accepted" : "refused"));
}

/* Percent-encodes every byte but the unreserved ones (so '/' too), appended to out:
 * the buffer grows with the topic, which is never cut short (a topic longer than any
 * fixed buffer must reach the endpoint whole, or its length rule is not what is tested). */
static int probe__urlencode(const char *in, struct iotc_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *in; in++) {
        unsigned char ch = (unsigned char)*in;
        char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
        int plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~';
        if (iotc_buf_append(out, plain ? (const char *)&ch : esc, plain ? 1 : 3) != IOTC_OK)
            return IOTC_ERR_NOMEM;
    }
    return IOTC_OK;
}

static void probe__http(probe_conn *pc, const iotc_env *env, const iotc_pubspec *ps, json_t *obs)
{
    struct iotc_buf req = {0};
    unsigned char *resp = malloc(65536);
    const size_t resp_cap = 65536;
    size_t have = 0;
    int n, status = -1;
    char *body = NULL;

    if (!resp) {
        pc->eof = 1;
        return;
    }
    /* The request is sized from its parts: topic, query and payload are sent whole. */
    int rc = iotc_buf_printf(&req, "POST /topics/");
    if (rc == IOTC_OK)
        rc = probe__urlencode(ps->topic, &req);
    if (rc == IOTC_OK && ps->query)
        rc = iotc_buf_printf(&req, "?%s", ps->query);
    else if (rc == IOTC_OK)
        rc = iotc_buf_printf(&req, "?qos=%d%s", ps->qos, ps->retain ? "&retain=true" : "");
    if (rc == IOTC_OK)
        rc = iotc_buf_printf(&req,
                             " HTTP/1.1\r\nHost: %s\r\nUser-Agent: iotconform-probe\r\n"
                             "Content-Type: application/json\r\nContent-Length: %zu\r\n%s"
                             "Connection: close\r\n\r\n%s",
                             env->endpoint, strlen(ps->payload), ps->headers ? ps->headers : "",
                             ps->payload);
    if (rc != IOTC_OK || req.len > INT_MAX) {
        /* Out of memory: nothing is sent rather than a different request. */
        pc->eof = 1;
        goto done;
    }
    if (SSL_write(pc->ssl, req.p, (int)req.len) != (int)req.len)
        ERR_clear_error(); /* read anyway: an alert may be waiting */
    /* Connection: close lets the server's close end the body; Content-Length
     * ends it sooner when present. */
    while (!pc->eof && !pc->timedout && have + 1 < resp_cap) {
        n = probe__read(pc, resp + have, (int)(resp_cap - 1 - have));
        if (n <= 0)
            break;
        have += (size_t)n;
        resp[have] = '\0';
        char *hdr_end = strstr((char *)resp, "\r\n\r\n");
        if (!hdr_end)
            continue;
        char *cl = strcasestr((char *)resp, "\r\ncontent-length:");
        if (cl && cl < hdr_end) {
            size_t want = (size_t)strtoul(cl + 17, NULL, 10);
            if ((size_t)(hdr_end + 4 - (char *)resp) + want <= have)
                break;
        }
    }
    resp[have] = '\0';
    if (have >= 12 && memcmp(resp, "HTTP/", 5) == 0) {
        status = atoi((char *)resp + 9);
        body = strstr((char *)resp, "\r\n\r\n");
        if (body)
            body += 4;
    } else if (have > 0) {
        json_object_set_new(obs, "unexpected_reply",
                            json_stringn((char *)resp, have > 64 ? 64 : have));
    }
    if (status >= 0) {
        json_object_set_new(obs, "http_status", json_integer(status));
        json_t *jb = body ? json_loads(body, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
        json_object_set_new(obs, "http_body", jb ? jb : json_string(body ? body : ""));
    }
    json_object_set_new(obs, "connect",
                        json_string(status >= 200 && status < 300 ? "accepted" : "refused"));
done:
    iotc_buf_free(&req);
    free(resp);
}

int iotc_drv_probe_ex(const iotc_env *env, const iotc_case *c, size_t idx, const iotc_pubspec *ps,
                      iotc_drv_out *out)
{
    probe_conn pc;
    iotc_tlsc_opts o;
    json_t *alpn = NULL;
    char client_id[128];
    int timeout = iotc_drv_timeout_ms(c);
    int rc = IOTC_ERR_IO;

    memset(&pc, 0, sizeof(pc));
    pc.fd = -1;
    iotc_drv_tls_opts(env, c, &o, &alpn);
    iotc_errtext e = {0};
    pc.ctx = iotc_tlsc_ctx_new(&o, &pc.st, &e);
    if (!pc.ctx) {
        iotc_errtext_copy(&e, out->error, sizeof(out->error));
        rc = IOTC_ERR_CONFIG;
        goto cleanup;
    }
    pc.fd = iotc_drv_tcp(env, c, timeout, out);
    if (pc.fd < 0)
        goto cleanup;
    pc.ssl = SSL_new(pc.ctx);
    if (!pc.ssl || SSL_set_fd(pc.ssl, pc.fd) != 1) {
        snprintf(out->error, sizeof(out->error), "SSL_new failed");
        goto cleanup;
    }
    pc.hs_ok = SSL_connect(pc.ssl) == 1;
    ERR_clear_error();
    if (!pc.st.hello_sent) {
        /* Nothing reached the server: a client-side problem, not a refusal. */
        snprintf(out->error, sizeof(out->error),
                 "the client could not send a ClientHello (settings OpenSSL cannot offer?)");
        goto cleanup;
    }
    if (pc.hs_ok) {
        iotc_tlsc_observe(pc.ssl, out->observed);
        iotc_drv_client_id(env, idx, "probe", c, client_id, sizeof(client_id));
        if (c->row->proto == IOTC_PROTO_MQTT)
            probe__mqtt(&pc, client_id, out->observed);
        else
            probe__http(&pc, env, ps, out->observed);
    } else {
        json_object_set_new(out->observed, "connect", json_string("refused"));
    }
    iotc_tlsc_observe_state(&pc.st, pc.hs_ok, out->observed);
    if (pc.end)
        json_object_set_new(out->observed, "transport_end", json_string(pc.end));
    rc = IOTC_OK;
cleanup:
    if (pc.ssl) {
        if (pc.hs_ok && !pc.eof)
            SSL_shutdown(pc.ssl);
        SSL_free(pc.ssl);
    }
    ERR_clear_error();
    if (pc.fd >= 0)
        close(pc.fd);
    SSL_CTX_free(pc.ctx);
    json_decref(alpn);
    return rc;
}

int iotc_drv_probe(const iotc_env *env, const iotc_case *c, size_t idx, iotc_drv_out *out)
{
    char topic[128];
    char payload[320];
    iotc_pubspec ps;

    iotc_drv_pubspec(env, c, idx, topic, sizeof(topic), payload, sizeof(payload), &ps);
    return iotc_drv_probe_ex(env, c, idx, &ps, out);
}
