/* One benchmark client: TCP connect, TLS handshake, MQTT packets in and out. */
#include "bench.h"
#include "common/err.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

#define BC_COPY_MAX 4096 /* acks and CONNACKs are copied out; PUBLISH bodies never are */

static void bc__gone(struct iotc_bench_conn *c, const char *why)
{
    if (c->closed)
        return;
    iotc_bench_conn_close(c);
    if (c->cbs->on_close)
        c->cbs->on_close(c, why);
}

static void bc__on_read(struct bufferevent *bev, void *arg)
{
    struct iotc_bench_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    uint8_t copy[BC_COPY_MAX];
    /* A callback may close c and even reopen it on a new bufferevent: stop then. */
    while (!c->closed && c->bev == bev) {
        size_t avail = evbuffer_get_length(in);
        uint8_t head[5];
        size_t hn = avail < sizeof head ? avail : sizeof head;
        evbuffer_copyout(in, head, hn);
        struct iotc_mqtt_frame f;
        int rc = iotc_mqtt_frame_ready(head, hn, avail, 0, &f);
        if (rc < 0) {
            bc__gone(c, "malformed packet from server");
            return;
        }
        if (rc == 0)
            return;
        const uint8_t *pkt = NULL;
        if (f.type == IOTC_MQTT_PUBLISH) {
            c->rx_publish++;
        } else if (f.total <= sizeof copy) {
            evbuffer_copyout(in, copy, f.total);
            pkt = copy;
        }
        evbuffer_drain(in, f.total);
        if (c->cbs->on_packet)
            c->cbs->on_packet(c, &f, pkt);
    }
}

static void bc__on_write(struct bufferevent *bev, void *arg)
{
    struct iotc_bench_conn *c = arg;
    if (c->tls_up && c->cbs->on_drain)
        c->cbs->on_drain(c);
}

static void bc__on_event(struct bufferevent *bev, short what, void *arg)
{
    struct iotc_bench_conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        c->tls_up = true;
        if (c->cbs->on_tls)
            c->cbs->on_tls(c);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        char why[160];
        unsigned long e = bufferevent_get_openssl_error(bev);
        if (e)
            ERR_error_string_n(e, why, sizeof why);
        else if (what & BEV_EVENT_EOF)
            snprintf(why, sizeof why, "server closed the connection");
        else
            snprintf(why, sizeof why, "socket error: %s",
                     evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        while (bufferevent_get_openssl_error(bev))
            ;
        bc__gone(c, why);
    }
}

int iotc_bench_conn_open(struct iotc_bench_conn *c, struct event_base *base, SSL_CTX *ctx, const char *sni,
            const struct sockaddr_in *sa)
{
    int rc = IOTC_ERR_NOMEM;
    SSL *ssl = SSL_new(ctx);
    c->bev = NULL;
    c->tls_up = false;
    c->closed = false;
    c->rx_publish = 0;
    if (!ssl)
        goto cleanup;
    if (sni && !SSL_set_tlsext_host_name(ssl, sni))
        goto cleanup;
    if (sni && !SSL_set1_host(ssl, sni))
        goto cleanup;
    c->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev)
        goto cleanup;
    ssl = NULL; /* owned by the bufferevent now */
    bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    bufferevent_setcb(c->bev, bc__on_read, bc__on_write, bc__on_event, c);
    if (bufferevent_socket_connect(c->bev, (const struct sockaddr *)sa, sizeof *sa) != 0) {
        rc = IOTC_ERR_IO;
        goto cleanup;
    }
    /* Small MQTT packets must not wait for Nagle. */
    int one = 1;
    setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    return IOTC_OK;
cleanup:
    SSL_free(ssl);
    if (c->bev)
        bufferevent_free(c->bev);
    c->bev = NULL;
    c->closed = true;
    return rc;
}

int iotc_bench_conn_write(struct iotc_bench_conn *c, const void *data, size_t len)
{
    if (c->closed || !c->bev)
        return IOTC_ERR_IO;
    return bufferevent_write(c->bev, data, len) == 0 ? IOTC_OK : IOTC_ERR_NOMEM;
}

size_t iotc_bench_conn_outlen(const struct iotc_bench_conn *c)
{
    if (c->closed || !c->bev)
        return 0;
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void iotc_bench_conn_set_write_low(struct iotc_bench_conn *c, size_t low)
{
    if (!c->closed && c->bev)
        bufferevent_setwatermark(c->bev, EV_WRITE, low, 0);
}

void iotc_bench_conn_close(struct iotc_bench_conn *c)
{
    if (c->closed)
        return;
    c->closed = true;
    c->tls_up = false;
    if (c->bev)
        bufferevent_free(c->bev); /* frees the SSL and closes the socket */
    c->bev = NULL;
}

int iotc_bench_conn_send_connect(struct iotc_bench_conn *c, const char *client_id, uint16_t keepalive)
{
    struct iotc_buf out = {0};
    struct iotc_mqtt_connect cn = {
        .protocol_name = IOTC_SPAN_LIT("MQTT"),
        .version = IOTC_MQTT_V311,
        .clean_start = true,
        .keepalive = keepalive,
        .client_id = iotc_span_str(client_id),
    };
    int rc = iotc_mqtt_connect_encode(&out, &cn);
    if (rc == IOTC_OK)
        rc = iotc_bench_conn_write(c, out.p, out.len);
    iotc_buf_free(&out);
    return rc;
}

int iotc_bench_conn_send_subscribe(struct iotc_bench_conn *c, uint16_t packet_id, const char *filter)
{
    struct iotc_buf out = {0};
    struct iotc_mqtt_subscribe sub = {.packet_id = packet_id, .count = 1};
    sub.filters[0].filter = iotc_span_str(filter);
    sub.filters[0].options = 0;
    int rc = iotc_mqtt_subscribe_encode(&out, IOTC_MQTT_V311, &sub);
    if (rc == IOTC_OK)
        rc = iotc_bench_conn_write(c, out.p, out.len);
    iotc_buf_free(&out);
    return rc;
}

void iotc_bench_conn_describe(const struct iotc_bench_conn *c, char *out, size_t len)
{
    SSL *ssl = c->bev ? bufferevent_openssl_get_ssl(c->bev) : NULL;
    if (!ssl) {
        snprintf(out, len, "?");
        return;
    }
    snprintf(out, len, "%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
}
