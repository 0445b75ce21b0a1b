#include "broker_link_int.h"
#include "common/err.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void blink__start_linger(struct iotc_blink *l);

void blink__release(struct iotc_blink *l)
{
    if (l->bev)
        bufferevent_free(l->bev);
    else
        blink__unix_release(l);
    free(l);
}

/* Deferred work once no callback of this link is on the stack. */
void blink__after_cb(struct iotc_blink *l)
{
    if (l->free_pending)
        blink__release(l);
    else if (l->linger_pending)
        blink__start_linger(l);
}

int iotc_read_packets(struct evbuffer *in, size_t max_packet, iotc_packet_fn fn, void *arg,
                      uint64_t *bytes_in)
{
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (avail == 0)
            return IOTC_OK;
        uint8_t head[5];
        size_t hn = avail < sizeof head ? avail : sizeof head;
        evbuffer_copyout(in, head, hn);
        struct iotc_mqtt_frame f;
        int rc = iotc_mqtt_frame_peek(head, hn, max_packet, &f);
        if (rc == IOTC_ERR_AGAIN && f.total == 0)
            return IOTC_OK;
        if (rc != IOTC_OK && rc != IOTC_ERR_AGAIN)
            return rc;
        if (avail < f.total)
            return IOTC_OK;
        const uint8_t *pkt = evbuffer_pullup(in, (ev_ssize_t)f.total);
        if (!pkt)
            return IOTC_ERR_NOMEM;
        int stop = fn(arg, &f, pkt);
        if (stop == IOTC_READ_KEEP)
            return IOTC_OK;
        if (bytes_in)
            *bytes_in += f.total;
        evbuffer_drain(in, f.total);
        if (stop)
            return IOTC_OK;
    }
}

static int blink__packet(void *arg, const struct iotc_mqtt_frame *f, const uint8_t *pkt)
{
    struct iotc_blink *l = arg;
    l->cbs.on_packet(l->cbs.arg, f, pkt);
    return l->dead || l->free_pending;
}

void blink__die(struct iotc_blink *l, const char *reason)
{
    if (l->dead)
        return;
    l->dead = true;
    if (l->bev)
        bufferevent_disable(l->bev, EV_READ | EV_WRITE);
    else
        blink__unix_arm(l);
    l->cbs.on_close(l->cbs.arg, reason);
}

static void blink__on_read(struct bufferevent *bev, void *arg)
{
    struct iotc_blink *l = arg;
    l->in_cb++;
    /* The broker is trusted, but a packet past MQTT's own bound means a broken stream. */
    int rc = iotc_read_packets(bufferevent_get_input(bev), IOTC_MQTT_MAX_REMAINING + 5,
                               blink__packet, l, NULL);
    if (rc != IOTC_OK && !l->free_pending)
        blink__die(l, "malformed packet from broker");
    if (--l->in_cb == 0)
        blink__after_cb(l);
}

static void blink__on_write(struct bufferevent *bev, void *arg)
{
    struct iotc_blink *l = arg;
    l->in_cb++;
    if (l->cbs.on_drain)
        l->cbs.on_drain(l->cbs.arg);
    if (--l->in_cb == 0)
        blink__after_cb(l);
}

static void blink__on_event(struct bufferevent *bev, short what, void *arg)
{
    struct iotc_blink *l = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    l->in_cb++;
    blink__die(l, (what & BEV_EVENT_EOF) ? "broker closed the connection"
                                         : "broker connection failed");
    if (--l->in_cb == 0)
        blink__after_cb(l);
}

int iotc_blink_open(struct iotc_flushq *fq, const char *socket_path,
                    const struct iotc_blink_cbs *cbs, struct iotc_blink **out)
{
    struct iotc_blink *l = calloc(1, sizeof *l);
    if (!l)
        return IOTC_ERR_NOMEM;
    l->cbs = *cbs;
    l->fq = fq;
    int rc = blink__unix_open(l, socket_path);
    if (rc != IOTC_OK) {
        blink__release(l);
        return rc == IOTC_ERR_INVALID ? rc : IOTC_ERR_IO;
    }
    *out = l;
    return IOTC_OK;
}

int iotc_blink_open_tls(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
                        SSL_CTX *ctx, const char *host, const struct iotc_blink_cbs *cbs,
                        struct iotc_blink **out)
{
    struct iotc_blink *l = calloc(1, sizeof *l);
    SSL *ssl = SSL_new(ctx);
    if (!l || !ssl) {
        free(l);
        SSL_free(ssl);
        return IOTC_ERR_NOMEM;
    }
    /* The broker's certificate must name the host the front door was given: its DNS name
     * (also the SNI), or its address when given one. */
    unsigned char ip[16];
    bool literal = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    if (literal ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
                : (!SSL_set_tlsext_host_name(ssl, host) || !SSL_set1_host(ssl, host))) {
        free(l);
        SSL_free(ssl);
        return IOTC_ERR_CRYPTO;
    }
    l->cbs = *cbs;
    /* Writes (the stamped CONNECT) queue until the handshake is done. */
    l->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (!l->bev) {
        SSL_free(ssl);
        free(l);
        return IOTC_ERR_NOMEM;
    }
    bufferevent_setcb(l->bev, blink__on_read, blink__on_write, blink__on_event, l);
    if (bufferevent_socket_connect(l->bev, sa, (int)salen) != 0) {
        blink__release(l);
        return IOTC_ERR_IO;
    }
    int one = 1;
    setsockopt(bufferevent_getfd(l->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bufferevent_enable(l->bev, EV_READ | EV_WRITE);
    *out = l;
    return IOTC_OK;
}

int iotc_blink_adopt(struct bufferevent *bev, const struct iotc_blink_cbs *cbs,
                     struct iotc_blink **out)
{
    struct iotc_blink *l = calloc(1, sizeof *l);
    if (!l)
        return IOTC_ERR_NOMEM;
    l->cbs = *cbs;
    l->bev = bev;
    bufferevent_setcb(l->bev, blink__on_read, blink__on_write, blink__on_event, l);
    bufferevent_enable(l->bev, EV_READ | EV_WRITE);
    *out = l;
    return IOTC_OK;
}

int iotc_blink_send(struct iotc_blink *l, const void *data, size_t len)
{
    if (l->dead)
        return IOTC_ERR_IO;
    if (!l->bev)
        return blink__unix_send(l, data, len);
    return bufferevent_write(l->bev, data, len) == 0 ? IOTC_OK : IOTC_ERR_NOMEM;
}

void iotc_blink_pause(struct iotc_blink *l, bool paused)
{
    if (l->bev) {
        if (paused)
            bufferevent_disable(l->bev, EV_READ);
        else if (!l->dead)
            bufferevent_enable(l->bev, EV_READ);
        return;
    }
    l->paused = paused;
    blink__unix_arm(l);
}

size_t iotc_blink_queued(const struct iotc_blink *l)
{
    if (l->bev)
        return evbuffer_get_length(bufferevent_get_output(l->bev));
    return l->out ? evbuffer_get_length(l->out) : 0;
}

static void blink__linger_done(struct bufferevent *bev, void *arg)
{
    blink__release(arg);
}

static void blink__linger_event(struct bufferevent *bev, short what, void *arg)
{
    blink__release(arg);
}

static void blink__start_linger(struct iotc_blink *l)
{
    if (!l->bev) {
        blink__unix_start_linger(l);
        return;
    }
    l->linger_pending = false;
    if (evbuffer_get_length(bufferevent_get_output(l->bev)) == 0) {
        blink__release(l);
        return;
    }
    bufferevent_disable(l->bev, EV_READ);
    bufferevent_setwatermark(l->bev, EV_WRITE, 0, 0);
    bufferevent_setcb(l->bev, NULL, blink__linger_done, blink__linger_event, l);
}

void iotc_blink_linger(struct iotc_blink *l, const void *final, size_t len)
{
    if (!l)
        return;
    if (l->dead) {
        iotc_blink_free(l);
        return;
    }
    if (final && len)
        iotc_blink_send(l, final, len);
    l->dead = true; /* no more callbacks to the owner */
    if (l->in_cb) {
        l->linger_pending = true;
        return;
    }
    blink__start_linger(l);
}

void iotc_blink_free(struct iotc_blink *l)
{
    if (!l)
        return;
    if (l->in_cb) {
        l->free_pending = true;
        l->dead = true;
        if (l->bev)
            bufferevent_disable(l->bev, EV_READ | EV_WRITE);
        else
            blink__unix_arm(l);
        return;
    }
    blink__release(l);
}
