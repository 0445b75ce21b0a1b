/*
 * The link to the front door's own mosquitto over its private unix socket, on a bare
 * event instead of a bufferevent. Every connected device holds one of these for as long
 * as it is connected, and a bufferevent with its two evbuffers cost ~1.4 KB of each idle
 * device's memory (heaptrack, 1,000 idle devices; issue 13's budget is 16 KB for front
 * door and broker together). libevent has no lighter stream, so this keeps per link only
 * a small struct: bytes are read into one buffer shared by every link of the process
 * (one event loop, and a packet is handed out only for the length of its callback), and
 * only the start of an incomplete packet, or bytes the socket did not take yet, are kept
 * per link, for as long as they exist.
 */
#include "broker_link_int.h"
#include "ev_watch.h"
#include "common/err.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Larger than any packet an idle or ordinary device exchanges (AWS's 128 KB payload is
 * the exception, read into its own buffer below). */
#define BLINK_SCRATCH (64 * 1024)
static uint8_t blink__scratch[BLINK_SCRATCH];

/* The broker is trusted, but a packet past MQTT's own bound means a broken stream. */
#define BLINK_MAX_PACKET (IOTC_MQTT_MAX_REMAINING + 5)

/*
 * mosquitto listens on its unix socket with a small backlog; a burst of devices
 * fills it and a non-blocking connect() then fails with EAGAIN instead of waiting.
 * That is "try again", not "broker down": retry with a short backoff.
 */
#define BLINK_RETRY_FIRST_MS  2
#define BLINK_RETRY_MAX_MS    50
#define BLINK_RETRY_BUDGET_MS 5000

struct blink__retry {
    struct event *timer;
    struct sockaddr_un addr;
    long ms, spent_ms;
};

static void unix__on_io(evutil_socket_t fd, short what, void *arg);

void blink__unix_arm(struct iotc_blink *l)
{
    if (l->fd < 0)
        return;
    short want = 0;
    if (!l->dead && !l->paused)
        want |= EV_READ;
    if ((!l->dead || l->lingering) && l->out && evbuffer_get_length(l->out) && !l->flush_queued)
        want |= EV_WRITE;
    iotc_ev_watch(&l->ev, &l->ev_want, want, l->fq->base, l->fd, unix__on_io, l);
}

static void unix__read_failed(struct iotc_blink *l, ssize_t r)
{
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    blink__die(l, r == 0 ? "broker closed the connection" : "broker connection failed");
}

/* Keeps what follows the last whole packet until more arrives. */
static int unix__keep_rest(struct iotc_blink *l, const uint8_t *rest, size_t n)
{
    struct iotc_mqtt_frame f;
    size_t cap = n;
    /* A packet that cannot fit the shared buffer gets its own, read into directly. */
    if (iotc_mqtt_frame_peek(rest, n, BLINK_MAX_PACKET, &f) == IOTC_ERR_AGAIN &&
        f.total > BLINK_SCRATCH)
        cap = f.total;
    l->part = malloc(cap);
    if (!l->part)
        return IOTC_ERR_NOMEM;
    memcpy(l->part, rest, n);
    l->part_len = n;
    l->part_cap = cap;
    return IOTC_OK;
}

static void unix__read_large(struct iotc_blink *l)
{
    ssize_t r = read(l->fd, l->part + l->part_len, l->part_cap - l->part_len);
    if (r <= 0) {
        unix__read_failed(l, r);
        return;
    }
    l->part_len += (size_t)r;
    if (l->part_len < l->part_cap)
        return;
    struct iotc_mqtt_frame f;
    uint8_t *pkt = l->part;
    size_t n = l->part_len;
    l->part = NULL;
    l->part_len = l->part_cap = 0;
    if (iotc_mqtt_frame_peek(pkt, n, BLINK_MAX_PACKET, &f) == IOTC_OK && f.total == n)
        l->cbs.on_packet(l->cbs.arg, &f, pkt);
    else
        blink__die(l, "malformed packet from broker");
    free(pkt);
}

static void unix__read(struct iotc_blink *l)
{
    if (l->part && l->part_cap > BLINK_SCRATCH) {
        unix__read_large(l);
        return;
    }
    size_t have = l->part_len;
    if (have)
        memcpy(blink__scratch, l->part, have);
    ssize_t r = read(l->fd, blink__scratch + have, BLINK_SCRATCH - have);
    if (r <= 0) {
        unix__read_failed(l, r); /* what was kept stays kept */
        return;
    }
    free(l->part);
    l->part = NULL;
    l->part_len = l->part_cap = 0;
    size_t avail = have + (size_t)r, pos = 0;
    while (pos < avail && !l->dead && !l->free_pending) {
        struct iotc_mqtt_frame f;
        int rc = iotc_mqtt_frame_peek(blink__scratch + pos, avail - pos, BLINK_MAX_PACKET, &f);
        if (rc == IOTC_ERR_AGAIN)
            break;
        if (rc != IOTC_OK) {
            blink__die(l, "malformed packet from broker");
            return;
        }
        l->cbs.on_packet(l->cbs.arg, &f, blink__scratch + pos);
        pos += f.total;
    }
    if (pos < avail && !l->dead && !l->free_pending &&
        unix__keep_rest(l, blink__scratch + pos, avail - pos) != IOTC_OK)
        blink__die(l, "out of memory reading from broker");
}

static void unix__flush(struct iotc_blink *l)
{
    if (evbuffer_write(l->out, l->fd) < 0 && errno != EAGAIN && errno != EINTR) {
        if (l->lingering)
            l->free_pending = true;
        else
            blink__die(l, "broker connection failed");
        return;
    }
    if (evbuffer_get_length(l->out))
        return;
    evbuffer_free(l->out);
    l->out = NULL;
    if (l->lingering) {
        l->free_pending = true;
        return;
    }
    blink__unix_arm(l);
    if (!l->dead && l->cbs.on_drain)
        l->cbs.on_drain(l->cbs.arg);
}

static void unix__on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct iotc_blink *l = arg;
    l->in_cb++;
    if ((what & EV_WRITE) && l->out && !l->free_pending)
        unix__flush(l);
    if ((what & EV_READ) && !l->dead && !l->free_pending)
        unix__read(l);
    if (--l->in_cb == 0)
        blink__after_cb(l);
}

/* flushq.h: what this turn queued, written now; what the socket refuses waits for
 * EV_WRITE. */
static void unix__turn_flush(void *arg)
{
    struct iotc_blink *l = arg;
    l->flush_queued = false;
    if (l->fd < 0 || !l->out || l->free_pending || (l->dead && !l->lingering))
        return;
    l->in_cb++;
    unix__flush(l);
    blink__unix_arm(l);
    if (--l->in_cb == 0)
        blink__after_cb(l);
}

int blink__unix_send(struct iotc_blink *l, const void *data, size_t len)
{
    /* Queued and written at the end of the loop turn: the packets of one turn (a
     * publisher's burst, a fan-out) leave in one writev instead of a send() each. The
     * queue is freed once written, so an idle link keeps none. */
    if (!l->out && !(l->out = evbuffer_new()))
        return IOTC_ERR_NOMEM;
    if (evbuffer_add(l->out, data, len) != 0)
        return IOTC_ERR_NOMEM;
    if (l->fd >= 0 && !l->flush_queued && !(l->ev_want & EV_WRITE) &&
        iotc_flushq_add(l->fq, unix__turn_flush, l) == IOTC_OK)
        l->flush_queued = true;
    blink__unix_arm(l);
    return IOTC_OK;
}

void blink__unix_start_linger(struct iotc_blink *l)
{
    l->linger_pending = false;
    if (!l->out || evbuffer_get_length(l->out) == 0) {
        blink__release(l);
        return;
    }
    l->lingering = true;
    blink__unix_arm(l);
}

static int unix__try_connect(struct iotc_blink *l, const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return IOTC_ERR_IO;
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) == 0) {
        l->fd = fd;
        blink__unix_arm(l);
        return IOTC_OK;
    }
    int e = errno;
    close(fd);
    return e == EAGAIN ? IOTC_ERR_AGAIN : IOTC_ERR_IO;
}

static void unix__retry_free(struct iotc_blink *l)
{
    if (!l->retry)
        return;
    event_free(l->retry->timer);
    free(l->retry);
    l->retry = NULL;
}

static void unix__on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct iotc_blink *l = arg;
    struct blink__retry *t = l->retry;
    int rc = unix__try_connect(l, &t->addr);
    if (rc == IOTC_OK) {
        unix__retry_free(l);
        return;
    }
    t->spent_ms += t->ms;
    if (rc != IOTC_ERR_AGAIN || t->spent_ms > BLINK_RETRY_BUDGET_MS) {
        l->in_cb++;
        if (l->lingering)
            l->free_pending = true;
        else
            blink__die(l, rc == IOTC_ERR_AGAIN ? "broker socket backlog stayed full"
                                               : "broker connection failed");
        if (--l->in_cb == 0)
            blink__after_cb(l);
        return;
    }
    t->ms = t->ms * 2 > BLINK_RETRY_MAX_MS ? BLINK_RETRY_MAX_MS : t->ms * 2;
    struct timeval tv = {0, t->ms * 1000};
    evtimer_add(t->timer, &tv);
}

int blink__unix_open(struct iotc_blink *l, const char *socket_path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    l->fd = -1;
    if (strlen(socket_path) >= sizeof addr.sun_path)
        return IOTC_ERR_INVALID;
    strcpy(addr.sun_path, socket_path);
    int rc = unix__try_connect(l, &addr);
    if (rc != IOTC_ERR_AGAIN)
        return rc;
    /* Writes queue in out until the connect succeeds. */
    l->retry = calloc(1, sizeof *l->retry);
    if (!l->retry)
        return IOTC_ERR_NOMEM;
    l->retry->addr = addr;
    l->retry->ms = BLINK_RETRY_FIRST_MS;
    l->retry->timer = evtimer_new(l->fq->base, unix__on_retry, l);
    struct timeval tv = {0, l->retry->ms * 1000};
    if (!l->retry->timer || evtimer_add(l->retry->timer, &tv) != 0) {
        if (l->retry->timer)
            event_free(l->retry->timer);
        free(l->retry);
        l->retry = NULL;
        return IOTC_ERR_NOMEM;
    }
    return IOTC_OK;
}

void blink__unix_release(struct iotc_blink *l)
{
    if (l->flush_queued)
        iotc_flushq_cancel(l->fq, l);
    l->flush_queued = false;
    if (l->ev_want)
        event_del(&l->ev);
    l->ev_want = 0;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    if (l->out)
        evbuffer_free(l->out);
    free(l->part);
    unix__retry_free(l);
}
