/* One relayed connection: bytes both ways, with the fault of the moment applied. */
#include "faults_int.h"
#include "common/err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void relay__forward(struct iotc_faults_pconn *c, int d);

/* Does the fault touch direction d (0 up, 1 down)? */
static bool relay__hits(const struct iotc_fault *f, int d)
{
    return f->dir == IOTC_DIR_BOTH || (f->dir == IOTC_DIR_UP && d == 0) ||
           (f->dir == IOTC_DIR_DOWN && d == 1);
}

static void relay__dq_clear(struct iotc_faults_delayq *q)
{
    while (q->head) {
        struct iotc_faults_dchunk *k = q->head;
        q->head = k->next;
        evbuffer_free(k->buf);
        free(k);
    }
    q->tail = NULL;
}

void iotc_faults__relay_free(struct iotc_faults_pconn *c, bool reset)
{
    struct iotc_proxy *p = c->p;
    for (int i = 0; i < 2; i++) {
        if (!c->side[i])
            continue;
        if (reset) {
            /* Linger 0: close() sends RST instead of FIN, as a middlebox reset would. */
            struct linger lg = {1, 0};
            setsockopt(bufferevent_getfd(c->side[i]), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        bufferevent_free(c->side[i]);
    }
    for (int d = 0; d < 2; d++) {
        relay__dq_clear(&c->dq[d]);
        if (c->rate[d])
            ev_token_bucket_cfg_free(c->rate[d]);
    }
    if (c->delay_tm)
        event_free(c->delay_tm);
    if (p->slots[c->client_port].conn == c) {
        p->slots[c->client_port].conn = NULL;
        p->slots[c->client_port].has_rule = false;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->st.open--;
    p->st.closed++;
    if (reset)
        p->st.resets++;
    free(c);
}

/* Both directions finished (FIN seen and forwarded, nothing queued): done. */
static void relay__maybe_done(struct iotc_faults_pconn *c)
{
    for (int d = 0; d < 2; d++) {
        struct bufferevent *dst = c->side[1 - d];
        if (!c->eof[d] || c->dq[d].head || evbuffer_get_length(bufferevent_get_output(dst)))
            return;
    }
    iotc_faults__relay_free(c, false);
}

/* After direction d's source said EOF and everything went out: FIN the other side. */
static void relay__half_close(struct iotc_faults_pconn *c, int d)
{
    struct bufferevent *dst = c->side[1 - d];
    if (c->eof[d] && !c->dq[d].head && evbuffer_get_length(bufferevent_get_output(dst)) == 0)
        shutdown(bufferevent_getfd(dst), SHUT_WR);
}

static void relay__arm_delay(struct iotc_faults_pconn *c)
{
    uint64_t due = UINT64_MAX;
    for (int d = 0; d < 2; d++)
        if (c->dq[d].head && c->dq[d].head->due_ms < due)
            due = c->dq[d].head->due_ms;
    if (due == UINT64_MAX)
        return;
    uint64_t now = iotc_clock_ms();
    uint64_t wait = due > now ? due - now : 0;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    evtimer_add(c->delay_tm, &tv);
}

static void relay__on_delay(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_faults_pconn *c = arg;
    uint64_t now = iotc_clock_ms();
    for (int d = 0; d < 2; d++) {
        struct iotc_faults_delayq *q = &c->dq[d];
        /* FIFO per direction: a later chunk never overtakes an earlier one. */
        while (q->head && q->head->due_ms <= now) {
            struct iotc_faults_dchunk *k = q->head;
            q->head = k->next;
            if (!q->head)
                q->tail = NULL;
            c->p->st.bytes_up += d == 0 ? evbuffer_get_length(k->buf) : 0;
            c->p->st.bytes_down += d == 1 ? evbuffer_get_length(k->buf) : 0;
            bufferevent_write_buffer(c->side[1 - d], k->buf);
            evbuffer_free(k->buf);
            free(k);
        }
        relay__half_close(c, d);
    }
    relay__arm_delay(c);
}

static int relay__enqueue(struct iotc_faults_pconn *c, int d, struct evbuffer *in)
{
    struct iotc_faults_dchunk *k = calloc(1, sizeof *k);
    if (!k || !(k->buf = evbuffer_new())) {
        free(k);
        return IOTC_ERR_NOMEM;
    }
    uint32_t delay =
        c->fault.kind == IOTC_FAULT_DELAY && relay__hits(&c->fault, d) ? c->fault.delay_ms : 0;
    k->due_ms = iotc_clock_ms() + delay;
    evbuffer_add_buffer(k->buf, in);
    if (c->dq[d].tail)
        c->dq[d].tail->next = k;
    else
        c->dq[d].head = k;
    c->dq[d].tail = k;
    if (!evtimer_pending(c->delay_tm, NULL))
        relay__arm_delay(c);
    return IOTC_OK;
}

static void relay__forward(struct iotc_faults_pconn *c, int d)
{
    struct bufferevent *src = c->side[d], *dst = c->side[1 - d];
    struct evbuffer *in = bufferevent_get_input(src);
    size_t n = evbuffer_get_length(in);
    if (c->fault.kind == IOTC_FAULT_BLACKHOLE && relay__hits(&c->fault, d)) {
        /* Left unread: the kernel holds it, as a partition holds retransmissions. */
        bufferevent_disable(src, EV_READ);
        return;
    }
    if (c->shut[d]) {
        evbuffer_drain(in, n);
        return;
    }
    if (n == 0)
        return;
    bool delayed = c->fault.kind == IOTC_FAULT_DELAY && relay__hits(&c->fault, d);
    if (delayed || c->dq[d].head) {
        if (relay__enqueue(c, d, in) != IOTC_OK)
            evbuffer_drain(in, n);
        return;
    }
    if (d == 0)
        c->p->st.bytes_up += n;
    else
        c->p->st.bytes_down += n;
    bufferevent_write_buffer(dst, in);
    if (evbuffer_get_length(bufferevent_get_output(dst)) > IOTC_FAULTS_PROXY_HIGH_WATER)
        bufferevent_disable(src, EV_READ); /* resumed by dst's write callback */
}

static int relay__dir_of(struct iotc_faults_pconn *c, struct bufferevent *bev)
{
    return bev == c->side[0] ? 0 : 1;
}

static void relay__on_read(struct bufferevent *bev, void *arg)
{
    struct iotc_faults_pconn *c = arg;
    relay__forward(c, relay__dir_of(c, bev));
}

static bool relay__reading_allowed(struct iotc_faults_pconn *c, int d)
{
    return !(c->fault.kind == IOTC_FAULT_BLACKHOLE && relay__hits(&c->fault, d)) && !c->eof[d];
}

static void relay__on_write(struct bufferevent *bev, void *arg)
{
    struct iotc_faults_pconn *c = arg;
    int d = 1 - relay__dir_of(c, bev); /* the direction that writes into bev */
    if (relay__reading_allowed(c, d))
        bufferevent_enable(c->side[d], EV_READ);
    relay__half_close(c, d);
    relay__maybe_done(c);
}

static void relay__on_event(struct bufferevent *bev, short what, void *arg)
{
    struct iotc_faults_pconn *c = arg;
    int d = relay__dir_of(c, bev);
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        /* A reset or refusal on one side becomes a reset on the other. */
        iotc_faults__relay_free(c, true);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        relay__forward(c, d);
        c->eof[d] = true;
        bufferevent_disable(bev, EV_READ);
        relay__half_close(c, d);
        relay__maybe_done(c);
    }
}

static void relay__set_rate(struct iotc_faults_pconn *c, const struct iotc_fault *f)
{
    for (int d = 0; d < 2; d++) {
        struct ev_token_bucket_cfg *cfg = NULL;
        if (f->kind == IOTC_FAULT_BANDWIDTH && relay__hits(f, d) && f->rate_bps > 0) {
            /* A burst of one tick's worth keeps the rate honest at small sizes. */
            struct timeval tick = {0, 100000};
            size_t per_tick = f->rate_bps / 10 ? f->rate_bps / 10 : 1;
            cfg = ev_token_bucket_cfg_new(per_tick, per_tick, EV_RATE_LIMIT_MAX, EV_RATE_LIMIT_MAX,
                                          &tick);
        }
        bufferevent_set_rate_limit(c->side[d], cfg);
        /* libevent does not copy the bucket config: it lives as long as it is set. */
        if (c->rate[d])
            ev_token_bucket_cfg_free(c->rate[d]);
        c->rate[d] = cfg;
    }
}

void iotc_faults__relay_apply(struct iotc_faults_pconn *c, const struct iotc_fault *f)
{
    struct iotc_fault old = c->fault;
    if (f->kind == IOTC_FAULT_RESET) {
        iotc_faults__relay_free(c, true);
        return;
    }
    c->fault = *f;
    if (old.kind == IOTC_FAULT_BANDWIDTH || f->kind == IOTC_FAULT_BANDWIDTH)
        relay__set_rate(c, f);
    if (f->kind == IOTC_FAULT_HALF_OPEN) {
        for (int d = 0; d < 2; d++) {
            if (!relay__hits(f, d) || c->shut[d])
                continue;
            c->shut[d] = true;
            relay__dq_clear(&c->dq[d]);
            evbuffer_drain(bufferevent_get_input(c->side[d]),
                           evbuffer_get_length(bufferevent_get_input(c->side[d])));
            shutdown(bufferevent_getfd(c->side[1 - d]), SHUT_WR);
        }
    }
    /* Leaving a blackhole: read again and pass on what waited in the input buffers. */
    for (int d = 0; d < 2; d++) {
        if (relay__reading_allowed(c, d)) {
            bufferevent_enable(c->side[d], EV_READ);
            relay__forward(c, d);
        } else if (c->fault.kind == IOTC_FAULT_BLACKHOLE) {
            bufferevent_disable(c->side[d], EV_READ);
        }
    }
}

int iotc_faults__relay_open(struct iotc_proxy *p, evutil_socket_t fd, uint16_t client_port,
                const struct iotc_fault *f)
{
    struct iotc_faults_pconn *c = calloc(1, sizeof *c);
    if (!c)
        return IOTC_ERR_NOMEM;
    c->p = p;
    c->client_port = client_port;
    evutil_make_socket_nonblocking(fd);
    c->side[0] = bufferevent_socket_new(p->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->side[0]) {
        free(c);
        return IOTC_ERR_NOMEM; /* fd closed by the caller */
    }
    c->side[1] = bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE);
    c->delay_tm = evtimer_new(p->base, relay__on_delay, c);
    c->next = p->conns;
    if (p->conns)
        p->conns->prev = c;
    p->conns = c;
    p->st.open++;
    p->slots[client_port].conn = c;
    if (!c->side[1] || !c->delay_tm)
        goto fail;
    struct sockaddr_storage ss = {0};
    socklen_t len;
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, p->up_host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)p->up_port);
        len = sizeof *in;
    } else if (inet_pton(AF_INET6, p->up_host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)p->up_port);
        len = sizeof *in6;
    } else {
        goto fail;
    }
    for (int i = 0; i < 2; i++) {
        bufferevent_setcb(c->side[i], relay__on_read, relay__on_write, relay__on_event, c);
        bufferevent_setwatermark(c->side[i], EV_WRITE, IOTC_FAULTS_PROXY_HIGH_WATER / 2, 0);
    }
    if (bufferevent_socket_connect(c->side[1], (struct sockaddr *)&ss, (int)len) != 0)
        goto fail;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bufferevent_enable(c->side[0], EV_READ | EV_WRITE);
    bufferevent_enable(c->side[1], EV_READ | EV_WRITE);
    if (f && f->kind != IOTC_FAULT_NONE)
        iotc_faults__relay_apply(c, f); /* may free c (reset at accept) */
    return IOTC_OK;
fail:
    /* The client socket is owned by side[0] now: closing it here, not in the caller. */
    iotc_faults__relay_free(c, true);
    return IOTC_OK;
}
