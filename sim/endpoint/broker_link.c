#include "broker_link.h"
#include "common/err.h"

#include <errno.h>
#include <event2/buffer.h>
#include <unistd.h>
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
    struct sockaddr_un addr;
    struct event *retry; /* connect retry while the broker's backlog is full */
    long retry_ms, retry_spent_ms;
};

static const struct sockaddr_un l__addr_size_probe;

static void blink__start_linger(struct iotc_blink *l);

static void blink__release(struct iotc_blink *l)
{
    if (l->retry)
        event_free(l->retry);
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
        if (bytes_in)
            *bytes_in += f.total;
        int stop = fn(arg, &f, pkt);
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
    int rc = iotc_read_packets(bufferevent_get_input(bev), IOTC_MQTT_MAX_REMAINING + 5, blink__packet, l,
                               NULL);
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

/*
 * mosquitto listens on its unix socket with a small backlog; a burst of devices
 * fills it and a non-blocking connect() then fails with EAGAIN instead of waiting.
 * That is "try again", not "broker down": retry with a short backoff.
 */
#define BLINK_RETRY_FIRST_MS  2
#define BLINK_RETRY_MAX_MS    50
#define BLINK_RETRY_BUDGET_MS 5000

static int blink__try_connect(struct iotc_blink *l)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return IOTC_ERR_IO;
    if (connect(fd, (struct sockaddr *)&l->addr, sizeof l->addr) == 0) {
        bufferevent_setfd(l->bev, fd);
        bufferevent_enable(l->bev, EV_READ | EV_WRITE);
        return IOTC_OK;
    }
    int e = errno;
    close(fd);
    return e == EAGAIN ? IOTC_ERR_AGAIN : IOTC_ERR_IO;
}

static void blink__on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_blink *l = arg;
    int rc = blink__try_connect(l);
    if (rc == IOTC_OK)
        return;
    l->retry_spent_ms += l->retry_ms;
    if (rc != IOTC_ERR_AGAIN || l->retry_spent_ms > BLINK_RETRY_BUDGET_MS) {
        l->in_cb++;
        blink__die(l, rc == IOTC_ERR_AGAIN ? "broker socket backlog stayed full"
                                           : "broker connection failed");
        if (--l->in_cb == 0)
            blink__after_cb(l);
        return;
    }
    l->retry_ms = l->retry_ms * 2 > BLINK_RETRY_MAX_MS ? BLINK_RETRY_MAX_MS : l->retry_ms * 2;
    struct timeval tv = {0, l->retry_ms * 1000};
    evtimer_add(l->retry, &tv);
}

int iotc_blink_open(struct event_base *base, const char *socket_path,
                    const struct iotc_blink_cbs *cbs, struct iotc_blink **out)
{
    if (strlen(socket_path) >= sizeof l__addr_size_probe.sun_path)
        return IOTC_ERR_INVALID;
    struct iotc_blink *l = calloc(1, sizeof *l);
    if (!l)
        return IOTC_ERR_NOMEM;
    l->cbs = *cbs;
    l->addr.sun_family = AF_UNIX;
    strcpy(l->addr.sun_path, socket_path);
    /* Created without a socket: writes queue in its output until the connect succeeds. */
    l->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!l->bev) {
        free(l);
        return IOTC_ERR_NOMEM;
    }
    bufferevent_setcb(l->bev, blink__on_read, blink__on_write, blink__on_event, l);
    int rc = blink__try_connect(l);
    if (rc == IOTC_ERR_AGAIN) {
        l->retry = evtimer_new(base, blink__on_retry, l);
        l->retry_ms = BLINK_RETRY_FIRST_MS;
        struct timeval tv = {0, l->retry_ms * 1000};
        if (l->retry && evtimer_add(l->retry, &tv) == 0)
            rc = IOTC_OK;
    }
    if (rc != IOTC_OK) {
        blink__release(l);
        return IOTC_ERR_IO;
    }
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
