/*
 * One MQTT device's connection lifecycle: wait for a connect slot, TCP + TLS,
 * (WSS: the WebSocket upgrade, wss.c), CONNECT, up, lost, backoff, again. The
 * packets themselves are in device_mqtt.c.
 */
#include "fleet_int.h"
#include "common/err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static void dev__arm(struct iotc_fleet_dev *d, double ms)
{
    if (ms < 0)
        ms = 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((long long)(ms * 1000) % 1000000)};
    evtimer_add(d->tm, &tv);
}

/* Keep-alive: ping at 3/4 of the (time-scaled) interval; a PINGRESP missing at the
 * next tick means the path is dead, which is how a blackhole is noticed at all. */
static double dev__ping_ms(const struct iotc_fleet_dev *d)
{
    double ms = (double)d->row->b.keepalive_s * 1000.0 * d->fl->spec->target.time_scale * 0.75;
    return ms < 20 ? 20 : ms;
}

static int dev__lport_index(int lport)
{
    return lport == 8883 ? 0 : lport == 8443 ? 1 : 2;
}

void iotc_fleet_ramp_release(struct iotc_fleet_dev *d)
{
    if (!d->in_ramp)
        return;
    d->in_ramp = false;
    d->fl->in_flight--;
}

static bool dev__wss(const struct iotc_fleet_dev *d)
{
    return d->row->def->proto == IOTC_PROTO_WSS && !d->monitor;
}

static void dev__free_conn(struct iotc_fleet_dev *d)
{
    if (d->wss)
        iotc_fleet_wss_drop(d);
    if (d->bev)
        bufferevent_free(d->bev); /* frees the SSL and closes the socket */
    d->bev = NULL;
    d->local_port = 0;
}

/*
 * AWS IoT Core takes one CONNECT per second per client ID, and the AWS SDKs never
 * reconnect sooner than 1 s (aws-c-mqtt AWS_MQTT5_DEFAULT_MIN_RECONNECT_DELAY_MS,
 * aws-crt-nodejs DEFAULT_MIN_RECONNECT_DELAY_MS): a row's backoff, however short, waits
 * until a second (on the target's clock) after the last CONNECT was answered. Counting
 * from the answer, not the send, keeps the gap the endpoint sees at a second or more.
 */
static double dev__paced_ms(const struct iotc_fleet_dev *d, long long wait)
{
    if (!d->t_connect_end_us)
        return (double)wait;
    double earliest =
        (double)d->t_connect_end_us / 1000.0 + 1000.0 * d->fl->spec->target.time_scale;
    double left = earliest - (double)iotc_clock_us() / 1000.0;
    return left > (double)wait ? left : (double)wait;
}

void iotc_fleet_dev_lost(struct iotc_fleet_dev *d, int cause)
{
    struct iotc_fleet *fl = d->fl;
    if (d->state == IOTC_FLEET_DEV_MQTT_WAIT)
        d->t_connect_end_us = iotc_clock_us(); /* refused, or gone before its CONNACK */
    if (d->state == IOTC_FLEET_DEV_UP) {
        fl->c.disconnects[cause]++;
        fl->up_now -= !d->monitor;
        d->down_cause = (uint8_t)cause;
    } else if (d->state == IOTC_FLEET_DEV_CONNECTING || d->state == IOTC_FLEET_DEV_UPGRADE ||
               d->state == IOTC_FLEET_DEV_MQTT_WAIT) {
        fl->c.connect_failures[cause]++;
    }
    iotc_fleet_ramp_release(d);
    dev__free_conn(d);
    evtimer_del(d->tm);
    d->last_cause = (uint8_t)cause;
    d->ping_out = false;
    d->subscribed = false;
    d->inflight = 0;
    for (uint32_t i = 0; i < d->q_len; i++)
        d->q[i].sent = false; /* republished on the next connection */
    if (fl->stopping) {
        d->state = IOTC_FLEET_DEV_DONE;
        iotc_fleet_ramp_pump(fl);
        return;
    }
    long long wait = iotc_fleet_backoff_delay(&d->row->b.backoff, ++d->attempt, &fl->rng);
    if (wait < 0) {
        d->state = IOTC_FLEET_DEV_DONE;
    } else {
        d->state = IOTC_FLEET_DEV_WAIT;
        dev__arm(d, dev__paced_ms(d, wait));
    }
    iotc_fleet_ramp_pump(fl);
}

bool iotc_fleet_dev_enqueue(struct iotc_fleet_dev *d, uint32_t seq, uint64_t t_us)
{
    struct iotc_fleet *fl = d->fl;
    if (d->q_len >= (uint32_t)d->row->b.max_queued) {
        fl->c.queue_dropped++;
        return false;
    }
    if (d->q_len == d->q_cap) {
        uint32_t cap = d->q_cap ? d->q_cap * 2 : 4;
        struct iotc_fleet_pending *q = realloc(d->q, cap * sizeof *q);
        if (!q) {
            fl->c.queue_dropped++;
            return false;
        }
        d->q = q;
        d->q_cap = cap;
    }
    d->q[d->q_len++] = (struct iotc_fleet_pending){.seq = seq, .t_us = t_us};
    return true;
}

void iotc_fleet_dev_close(struct iotc_fleet_dev *d, bool graceful)
{
    if (d->state == IOTC_FLEET_DEV_UP) {
        if (graceful)
            iotc_fleet_mqtt_send_disconnect(d);
        d->fl->up_now -= !d->monitor;
    }
    iotc_fleet_ramp_release(d);
    dev__free_conn(d);
    if (d->tm)
        evtimer_del(d->tm);
    if (d->pub)
        evtimer_del(d->pub);
    d->state = IOTC_FLEET_DEV_DONE;
}

static int dev__cause_of(struct iotc_fleet_dev *d, short what, int err, unsigned long ssl_err)
{
    /* The socket's errno first: a reset reaches OpenSSL as a failed read too. */
    if (err == ECONNREFUSED && d->state == IOTC_FLEET_DEV_CONNECTING)
        return IOTC_FLEET_CAUSE_REFUSED;
    if (err == ECONNRESET || err == EPIPE)
        return IOTC_FLEET_CAUSE_RESET;
    if (d->state == IOTC_FLEET_DEV_CONNECTING)
        return IOTC_FLEET_CAUSE_TLS; /* refused or cut during the handshake */
    if (ssl_err)
        return IOTC_FLEET_CAUSE_PROTOCOL;
    if (what & BEV_EVENT_EOF)
        return IOTC_FLEET_CAUSE_CLOSED;
    return IOTC_FLEET_CAUSE_SOCKET;
}

static void dev__on_event(struct bufferevent *bev, short what, void *arg)
{
    struct iotc_fleet_dev *d = arg;
    int err = EVUTIL_SOCKET_ERROR();
    if (what & BEV_EVENT_CONNECTED) {
        if (dev__wss(d)) {
            if (iotc_fleet_wss_upgrade(d) != IOTC_OK)
                iotc_fleet_dev_lost(d, IOTC_FLEET_CAUSE_SOCKET);
            return;
        }
        d->state = IOTC_FLEET_DEV_MQTT_WAIT;
        if (iotc_fleet_mqtt_send_connect(d) != IOTC_OK)
            iotc_fleet_dev_lost(d, IOTC_FLEET_CAUSE_SOCKET);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        unsigned long ssl_err = bufferevent_get_openssl_error(bev);
        while (bufferevent_get_openssl_error(bev))
            ;
        iotc_fleet_dev_lost(d, dev__cause_of(d, what, err, ssl_err));
    }
}

static void dev__start(struct iotc_fleet_dev *d)
{
    struct iotc_fleet *fl = d->fl;
    struct iotc_fleet_target *t = &fl->spec->target;
    const iotc_row *def = d->row->def;
    SSL_CTX *ctx = iotc_fleet_tls_ctx_of(d);
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    int li = d->monitor ? 0 : dev__lport_index(def->port);
    int port = d->monitor ? t->ports[0] : fl->conn_port[li];
    const char *host = d->monitor ? t->host : fl->conn_host;
    d->state = IOTC_FLEET_DEV_CONNECTING;
    d->in_ramp = true;
    fl->in_flight++;
    d->t_attempt_us = iotc_clock_us();
    dev__arm(d, (double)d->row->b.connect_timeout_ms);
    if (!ssl || !SSL_set_tlsext_host_name(ssl, t->sni) || !SSL_set1_host(ssl, t->sni))
        goto fail;
    if (def->alpn && !d->monitor) {
        unsigned char wire[64];
        size_t n = strlen(def->alpn);
        wire[0] = (unsigned char)n;
        memcpy(wire + 1, def->alpn, n);
        if (SSL_set_alpn_protos(ssl, wire, (unsigned)n + 1) != 0)
            goto fail;
    }
    d->bev = bufferevent_openssl_socket_new(fl->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    ssl = NULL;
    if (!d->bev)
        goto fail;
    bufferevent_openssl_set_allow_dirty_shutdown(d->bev, 1);
    bufferevent_setcb(d->bev, dev__wss(d) ? iotc_fleet_wss_on_read : iotc_fleet_mqtt_on_read, NULL,
                      dev__on_event, d);
    struct sockaddr_storage ss = {0};
    socklen_t len;
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        len = sizeof *in;
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        len = sizeof *in6;
    } else {
        goto fail;
    }
    if (bufferevent_socket_connect(d->bev, (struct sockaddr *)&ss, (int)len) != 0)
        goto fail;
    evutil_socket_t fd = bufferevent_getfd(d->bev);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        d->local_port = ss.ss_family == AF_INET ? ntohs(in->sin_port) : ntohs(in6->sin6_port);
    /* The proxy has not accepted yet: the rule waits for this source port. */
    if (iotc_fleet_dev_fault_active(d))
        iotc_fleet_dev_apply_fault(d);
    bufferevent_enable(d->bev, EV_READ | EV_WRITE);
    return;
fail:
    SSL_free(ssl);
    iotc_fleet_dev_lost(d, IOTC_FLEET_CAUSE_SOCKET);
}

void iotc_fleet_ramp_on_timer(evutil_socket_t fd, short what, void *arg)
{
    iotc_fleet_ramp_pump(arg);
}

void iotc_fleet_ramp_pump(struct iotc_fleet *fl)
{
    struct iotc_fleet_spec *s = fl->spec;
    uint64_t now = iotc_clock_us();
    if (s->ramp_per_s > 0) {
        /* Token bucket of one second's worth: a bounded connect rate. */
        fl->ramp_tokens += (double)(now - fl->ramp_last_us) / 1e6 * (double)s->ramp_per_s;
        if (fl->ramp_tokens > (double)s->ramp_per_s)
            fl->ramp_tokens = (double)s->ramp_per_s;
    }
    fl->ramp_last_us = now;
    while (fl->qhead && fl->in_flight < (uint32_t)s->ramp_in_flight) {
        if (s->ramp_per_s > 0 && fl->ramp_tokens < 1.0) {
            if (!evtimer_pending(fl->ramp_tm, NULL)) {
                struct timeval tv = {0, (suseconds_t)(1e6 / (double)s->ramp_per_s) + 1};
                evtimer_add(fl->ramp_tm, &tv);
            }
            return;
        }
        fl->ramp_tokens -= 1.0;
        struct iotc_fleet_dev *d = fl->qhead;
        fl->qhead = d->queue_next;
        if (!fl->qhead)
            fl->qtail = NULL;
        d->queue_next = NULL;
        d->in_queue = false;
        if (d->state == IOTC_FLEET_DEV_WAIT)
            dev__start(d);
    }
}

void iotc_fleet_dev_want_connect(struct iotc_fleet_dev *d)
{
    struct iotc_fleet *fl = d->fl;
    if (d->in_queue || fl->stopping)
        return;
    d->state = IOTC_FLEET_DEV_WAIT;
    d->in_queue = true;
    if (fl->qtail)
        fl->qtail->queue_next = d;
    else
        fl->qhead = d;
    fl->qtail = d;
    iotc_fleet_ramp_pump(fl);
}

static void dev__on_tm(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_fleet_dev *d = arg;
    if (d->row->def->proto == IOTC_PROTO_HTTPS && !d->monitor) {
        iotc_fleet_https_kick(d); /* backoff over: retry the request */
        return;
    }
    switch (d->state) {
    case IOTC_FLEET_DEV_WAIT:
        iotc_fleet_dev_want_connect(d);
        break;
    case IOTC_FLEET_DEV_CONNECTING:
    case IOTC_FLEET_DEV_UPGRADE:
    case IOTC_FLEET_DEV_MQTT_WAIT:
        iotc_fleet_dev_lost(d, IOTC_FLEET_CAUSE_CONNECT_TIMEOUT);
        break;
    case IOTC_FLEET_DEV_UP:
        if (d->ping_out) {
            iotc_fleet_dev_lost(d, IOTC_FLEET_CAUSE_KEEPALIVE);
            return;
        }
        if (iotc_fleet_mqtt_ping(d) != IOTC_OK) {
            iotc_fleet_dev_lost(d, IOTC_FLEET_CAUSE_SOCKET);
            return;
        }
        d->ping_out = true;
        dev__arm(d, dev__ping_ms(d));
        break;
    default:
        break;
    }
}

/* Called by device_mqtt.c on an accepting CONNACK. */
void iotc_fleet_dev_up(struct iotc_fleet_dev *d)
{
    struct iotc_fleet *fl = d->fl;
    uint64_t now = iotc_clock_us();
    d->t_connect_end_us = now;
    iotc_fleet_ramp_release(d);
    iotc_fleet_hist_add(&fl->connect_lat, now - d->t_attempt_us);
    fl->c.connects++;
    bool first = !d->ever_up;
    if (d->ever_up)
        fl->c.reconnects[d->down_cause]++;
    else if (!d->monitor && ++fl->ever_up_n == fl->n_devs)
        fl->t_all_up_us = now;
    d->ever_up = true;
    /* A device publishes from its first connection on, at a random phase. */
    if (first && fl->publishing && !d->monitor) {
        double spread = fl->spec->start_spread_s >= 0 ? fl->spec->start_spread_s * 1000.0
                                                      : (double)d->row->b.publish_interval_ms;
        iotc_fleet_dev_start_publishing(d, spread);
    }
    d->state = IOTC_FLEET_DEV_UP;
    d->attempt = 0;
    d->ping_out = false;
    fl->up_now += !d->monitor;
    dev__arm(d, dev__ping_ms(d));
    iotc_fleet_ramp_pump(fl);
}

static void dev__on_pub(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_fleet_dev *d = arg;
    if (!d->fl->publishing)
        return;
    long long max = d->row->b.max_messages;
    if (max > 0 && d->fl->ledger[d->idx].sent >= (uint64_t)max)
        return; /* its share is sent: the schedule ends */
    double ms = (double)d->row->b.publish_interval_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((long long)(ms * 1000) % 1000000)};
    evtimer_add(d->pub, &tv);
    if (d->row->def->proto == IOTC_PROTO_HTTPS)
        iotc_fleet_https_publish_tick(d);
    else
        iotc_fleet_dev_publish_tick(d);
}

static char *dev__expand(const char *pat, const struct iotc_fleet_dev *d)
{
    char out[512], num[32];
    size_t o = 0;
    for (const char *p = pat; *p && o < sizeof out - 1;) {
        const char *rep = NULL;
        size_t skip = 1;
        if (strncmp(p, "{run}", 5) == 0) {
            rep = d->fl->run_tag;
            skip = 5;
        } else if (strncmp(p, "{row}", 5) == 0) {
            rep = d->row->def->id;
            skip = 5;
        } else if (strncmp(p, "{i}", 3) == 0) {
            snprintf(num, sizeof num, "%u", d->ridx);
            rep = num;
            skip = 3;
        } else if (strncmp(p, "{n}", 3) == 0) {
            snprintf(num, sizeof num, "%u", d->idx);
            rep = num;
            skip = 3;
        }
        if (rep) {
            size_t n = strlen(rep);
            if (o + n >= sizeof out)
                return NULL;
            memcpy(out + o, rep, n);
            o += n;
        } else {
            out[o++] = *p;
        }
        p += skip;
    }
    out[o] = '\0';
    return strdup(out);
}

int iotc_fleet_dev_init(struct iotc_fleet *fl, struct iotc_fleet_dev *d)
{
    d->fl = fl;
    d->next_pid = 1;
    d->tm = evtimer_new(fl->base, dev__on_tm, d);
    d->pub = evtimer_new(fl->base, dev__on_pub, d);
    if (!d->tm || !d->pub)
        return IOTC_ERR_NOMEM;
    if (d->sync)
        return IOTC_OK; /* sync.c names it */
    char cid[256], topic[256];
    if (d->monitor) {
        snprintf(cid, sizeof cid, "fleet-mon-%s-%s", fl->run_tag, d->row->def->id);
        snprintf(topic, sizeof topic, "fleet/%s/%s/#", fl->run_tag, d->row->def->id);
        d->client_id = strdup(cid);
        d->topic = strdup(topic);
    } else {
        snprintf(topic, sizeof topic, "fleet/%s/%s/%u", fl->run_tag, d->row->def->id, d->ridx);
        d->client_id = dev__expand(d->row->client_id, d);
        d->topic = strdup(topic);
        if (d->row->peer_offset && d->row->devices > 0) {
            uint32_t peer =
                (uint32_t)((d->ridx + (uint64_t)d->row->peer_offset) % (uint64_t)d->row->devices);
            snprintf(topic, sizeof topic, "fleet/%s/%s/%u", fl->run_tag, d->row->def->id, peer);
        }
    }
    d->sub_topic = strdup(topic);
    if (!d->client_id || !d->topic || !d->sub_topic)
        return IOTC_ERR_NOMEM;
    if (strlen(d->client_id) == 0 || strlen(d->client_id) > IOTC_FLEET_CLIENTID_MAX ||
        d->client_id[0] == '$')
        return IOTC_ERR_LIMIT;
    if (d->row->def->proto == IOTC_PROTO_HTTPS && !d->monitor)
        return iotc_fleet_https_dev_init(d);
    if (dev__wss(d))
        return iotc_fleet_wss_dev_init(d);
    return IOTC_OK;
}

void iotc_fleet_dev_free(struct iotc_fleet_dev *d)
{
    dev__free_conn(d);
    if (d->tm)
        event_free(d->tm);
    if (d->pub)
        event_free(d->pub);
    if (d->easy) {
        if (d->req_busy)
            curl_multi_remove_handle(d->fl->multi, d->easy);
        curl_easy_cleanup(d->easy);
    }
    curl_slist_free_all(d->resolve);
    curl_slist_free_all(d->headers);
    iotc_fleet_wss_dev_free(d);
    free(d->q);
    free(d->client_id);
    free(d->topic);
    free(d->sub_topic);
    memset(d, 0, sizeof *d);
}

/* Starts the publish schedule at a spread offset so a fleet does not publish in step. */
void iotc_fleet_dev_start_publishing(struct iotc_fleet_dev *d, double spread_ms)
{
    /* The phase depends on the device only, so a sharded run has the whole run's schedule. */
    double ms = spread_ms > 0 ? iotc_fleet_dev_phase01(d->idx, 0) * spread_ms : 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((long long)(ms * 1000) % 1000000)};
    evtimer_add(d->pub, &tv);
}

void iotc_fleet_dev_apply_fault(struct iotc_fleet_dev *d)
{
    if (d->monitor || !d->local_port)
        return;
    struct iotc_proxy *p = iotc_fleet_proxy_for(d->fl, d->row->def->port);
    if (!p)
        return;
    struct iotc_fault none = {0};
    iotc_proxy_fault_port(p, d->local_port, iotc_fleet_dev_fault_active(d) ? &d->fault : &none);
}

/* splitmix64 of (idx, salt): a fixed pseudo-random place per device. */
double iotc_fleet_dev_phase01(uint32_t idx, uint32_t salt)
{
    uint64_t z = ((uint64_t)salt << 32 | idx) + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / (double)(1ull << 53);
}
