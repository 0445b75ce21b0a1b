#include "broker_link.h"
#include "common/err.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

struct iotc_blink {
    struct bufferevent *bev;
    struct iotc_blink_cbs cbs;
    bool dead;
    int in_cb; /* inside a callback: a free must wait until it returns */
    bool free_pending;
    bool linger_pending; /* linger asked for inside a callback */
};

static void blink__start_linger(struct iotc_blink *l);

static void blink__release(struct iotc_blink *l)
{
    bufferevent_free(l->bev);
    free(l);
}

/* Deferred work once no callback of this link is on the stack. */
static void blink__after_cb(struct iotc_blink *l)
{
    if (l->free_pending)
        blink__release(l);
    else if (l->linger_pending)
        blink__start_linger(l);
}

int iotc_read_packets(struct bufferevent *bev, size_t max_packet, iotc_packet_fn fn, void *arg,
                      uint64_t *bytes_in)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (avail == 0)
            return IOTC_OK;
        uint8_t head[5];
        size_t hn = avail < sizeof head ? avail : sizeof head;
        evbuffer_copyout(in, head, hn);
        struct mqtt_frame f;
        int rc = mqtt_frame_peek(head, hn, max_packet, &f);
        if (rc == IOTC_ERR_AGAIN && f.total == 0)
            return IOTC_OK;
        if (rc != IOTC_OK && rc != IOTC_ERR_AGAIN)
            return rc;
        if (avail < f.total)
            return IOTC_OK;
        const uint8_t *pkt = evbuffer_pullup(in, (ev_ssize_t)f.total);
        if (!pkt)
            return IOTC_ERR_NOMEM;
        if (bytes_in)
            *bytes_in += f.total;
        int stop = fn(arg, &f, pkt);
        evbuffer_drain(in, f.total);
        if (stop)
            return IOTC_OK;
    }
}

static int blink__packet(void *arg, const struct mqtt_frame *f, const uint8_t *pkt)
{
    struct iotc_blink *l = arg;
    l->cbs.on_packet(l->cbs.arg, f, pkt);
    return l->dead || l->free_pending;
}

static void blink__die(struct iotc_blink *l, const char *reason)
{
    if (l->dead)
        return;
    l->dead = true;
    bufferevent_disable(l->bev, EV_READ | EV_WRITE);
    l->cbs.on_close(l->cbs.arg, reason);
}

static void blink__on_read(struct bufferevent *bev, void *arg)
{
    struct iotc_blink *l = arg;
    l->in_cb++;
    /* The broker is trusted, but a packet past MQTT's own bound means a broken stream. */
    int rc = iotc_read_packets(bev, MQTT_MAX_REMAINING + 5, blink__packet, l, NULL);
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

int iotc_blink_open(struct event_base *base, const char *socket_path,
                    const struct iotc_blink_cbs *cbs, struct iotc_blink **out)
{
    struct sockaddr_un sun;
    if (strlen(socket_path) >= sizeof sun.sun_path)
        return IOTC_ERR_INVALID;
    struct iotc_blink *l = calloc(1, sizeof *l);
    if (!l)
        return IOTC_ERR_NOMEM;
    l->cbs = *cbs;
    l->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!l->bev) {
        free(l);
        return IOTC_ERR_NOMEM;
    }
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, socket_path);
    bufferevent_setcb(l->bev, blink__on_read, blink__on_write, blink__on_event, l);
    if (bufferevent_socket_connect(l->bev, (struct sockaddr *)&sun, sizeof sun) != 0) {
        bufferevent_free(l->bev);
        free(l);
        return IOTC_ERR_IO;
    }
    bufferevent_enable(l->bev, EV_READ | EV_WRITE);
    *out = l;
    return IOTC_OK;
}

int iotc_blink_send(struct iotc_blink *l, const void *data, size_t len)
{
    if (l->dead)
        return IOTC_ERR_IO;
    return bufferevent_write(l->bev, data, len) == 0 ? IOTC_OK : IOTC_ERR_NOMEM;
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
        bufferevent_write(l->bev, final, len);
    l->dead = true; /* no more callbacks to the owner */
    if (l->in_cb) {
        l->linger_pending = true;
        return;
    }
    blink__start_linger(l);
}

struct bufferevent *iotc_blink_bev(struct iotc_blink *l)
{
    return l->bev;
}

void iotc_blink_free(struct iotc_blink *l)
{
    if (!l)
        return;
    if (l->in_cb) {
        l->free_pending = true;
        l->dead = true;
        bufferevent_disable(l->bev, EV_READ | EV_WRITE);
        return;
    }
    blink__release(l);
}
