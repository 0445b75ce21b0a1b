/*
 * QoS 0 throughput, fan-out: every publisher publishes on its own topic
 * bench/<tag>/p<i>, every subscriber subscribes to bench/<tag>/+ and so receives
 * every message once. The figure is messages delivered to subscribers per second
 * (publisher rate x subscribers when nothing is lost).
 *
 * Publishers are paced two ways, both event driven: a publisher stops writing
 * while its TLS output buffer holds LOAD_OUT_HIGH bytes and resumes at the low
 * watermark; and all publishers together keep at most cfg->window messages not
 * yet delivered to every subscriber, so the broker's per-client queue (10000 QoS 0
 * messages, then silent drops) is never the thing being measured.
 */
#include "bench.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_OUT_HIGH        (256u << 10)
#define LOAD_OUT_LOW         (64u << 10)
#define LOAD_BATCH           32 /* PUBLISH packets per write: one TLS record of about 9 KB */
#define LOAD_SETUP_TIMEOUT_S 30.0
#define LOAD_DRAIN_S         2.0
#define LOAD_KEEPALIVE       1200

enum load_phase { LP_SETUP, LP_WARMUP, LP_MEASURE, LP_DRAIN, LP_DONE };

struct load;
struct load_peer {
    struct iotc_bench_conn c;
    struct load *l;
    bool sub;
    int i;
    bool starved; /* waiting for window credit */
    struct iotc_buf batch;
};

struct load {
    struct event_base *base;
    const struct iotc_bench_load_cfg *cfg;
    struct iotc_bench_load_result *res;
    struct load_peer *peers; /* subscribers first, then publishers */
    int npeers;
    int ready;
    int starved;
    enum load_phase phase;
    struct event *timer;
    struct sockaddr_in sa;
    uint64_t sent, delivered;
    uint64_t sent0, delivered0;
    double t0;
    struct iotc_bench_cpu_probe cpu;
};

static void load__fail(struct load *l, const char *why)
{
    if (l->phase == LP_DONE)
        return;
    snprintf(l->res->error, sizeof l->res->error, "%s", why);
    l->res->ok = false;
    l->phase = LP_DONE;
    iotc_bench_arm(l->timer, 0);
}

static bool load__publishing(const struct load *l)
{
    return l->phase == LP_WARMUP || l->phase == LP_MEASURE;
}

/* Messages sent but not yet seen by every subscriber, in deliveries. */
static uint64_t load__inflight(const struct load *l)
{
    uint64_t expect = l->sent * (uint64_t)l->cfg->subscribers;
    return expect > l->delivered ? expect - l->delivered : 0;
}

static void load__fill(struct load *l, struct load_peer *p)
{
    uint64_t limit = (uint64_t)l->cfg->window * (uint64_t)l->cfg->subscribers;
    uint64_t batch = (uint64_t)LOAD_BATCH * (uint64_t)l->cfg->subscribers;
    while (load__publishing(l) && !p->c.closed && iotc_bench_conn_outlen(&p->c) < LOAD_OUT_HIGH) {
        if (load__inflight(l) + batch > limit) {
            if (!p->starved) {
                p->starved = true;
                l->starved++;
            }
            return;
        }
        if (iotc_bench_conn_write(&p->c, p->batch.p, p->batch.len) != IOTC_OK)
            return;
        l->sent += LOAD_BATCH;
    }
}

/* Hysteresis: resume starved publishers once half the window is free again. */
static void load__credit(struct load *l)
{
    uint64_t half = (uint64_t)l->cfg->window * (uint64_t)l->cfg->subscribers / 2;
    if (!l->starved || load__inflight(l) > half)
        return;
    for (int i = 0; i < l->npeers; i++) {
        struct load_peer *p = &l->peers[i];
        if (!p->starved)
            continue;
        p->starved = false;
        l->starved--;
        load__fill(l, p);
    }
}

static int load__build_batch(struct load *l, struct load_peer *p)
{
    char topic[128];
    uint8_t *payload = malloc(l->cfg->payload ? l->cfg->payload : 1);
    int rc = IOTC_ERR_NOMEM;
    if (!payload)
        return rc;
    for (size_t k = 0; k < l->cfg->payload; k++)
        payload[k] = (uint8_t)('a' + k % 26);
    snprintf(topic, sizeof topic, "bench/%s/p%d", l->cfg->tag, p->i);
    struct iotc_mqtt_publish pub = {
        .qos = 0, .topic = iotc_span_str(topic), .payload = {payload, l->cfg->payload}};
    for (int k = 0; k < LOAD_BATCH; k++)
        if ((rc = iotc_mqtt_publish_encode(&p->batch, IOTC_MQTT_V311, &pub)) != IOTC_OK)
            break;
    free(payload);
    return rc;
}

static void load__start(struct load *l)
{
    iotc_bench_conn_describe(&l->peers[0].c, l->res->tls, sizeof l->res->tls);
    l->phase = LP_WARMUP;
    iotc_bench_arm(l->timer, l->cfg->warmup_s);
    for (int i = l->cfg->subscribers; i < l->npeers; i++)
        load__fill(l, &l->peers[i]);
}

static void load__on_tls(struct iotc_bench_conn *c)
{
    struct load_peer *p = c->arg;
    char id[96];
    snprintf(id, sizeof id, "bench-%s-%c%d", p->l->cfg->tag, p->sub ? 's' : 'p', p->i);
    if (!p->sub)
        iotc_bench_conn_set_write_low(c, LOAD_OUT_LOW);
    if (iotc_bench_conn_send_connect(c, id, LOAD_KEEPALIVE) != IOTC_OK)
        load__fail(p->l, "cannot send CONNECT");
}

static void load__peer_ready(struct load *l)
{
    l->ready++;
    if (l->ready == l->cfg->subscribers) {
        /* Subscriptions are in place: now the publishers, so nothing is sent unseen. */
        for (int i = l->cfg->subscribers; i < l->npeers; i++)
            if (iotc_bench_conn_open(&l->peers[i].c, l->base, l->cfg->ctx, "localhost", &l->sa) != IOTC_OK)
                load__fail(l, "cannot open a publisher connection");
    }
    if (l->ready == l->npeers)
        load__start(l);
}

static void load__on_packet(struct iotc_bench_conn *c, const struct iotc_mqtt_frame *f, const uint8_t *pkt)
{
    struct load_peer *p = c->arg;
    struct load *l = p->l;
    switch (f->type) {
    case IOTC_MQTT_PUBLISH:
        l->delivered++;
        load__credit(l);
        if (l->phase == LP_DRAIN && l->delivered >= l->sent * (uint64_t)l->cfg->subscribers) {
            l->phase = LP_DONE;
            iotc_bench_arm(l->timer, 0);
        }
        return;
    case IOTC_MQTT_CONNACK: {
        struct iotc_mqtt_connack ca;
        if (!pkt || iotc_mqtt_connack_parse(pkt, f->total, IOTC_MQTT_V311, &ca) != IOTC_OK || ca.code) {
            load__fail(l, "CONNECT refused");
            return;
        }
        if (!p->sub) {
            load__peer_ready(l);
            return;
        }
        char filter[128];
        snprintf(filter, sizeof filter, "bench/%s/+", l->cfg->tag);
        if (iotc_bench_conn_send_subscribe(c, 1, filter) != IOTC_OK)
            load__fail(l, "cannot send SUBSCRIBE");
        return;
    }
    case IOTC_MQTT_SUBACK: {
        struct iotc_mqtt_suback sa;
        if (!pkt || iotc_mqtt_suback_parse(pkt, f->total, IOTC_MQTT_V311, &sa) != IOTC_OK || sa.count != 1 ||
            sa.codes[0] > 1) {
            load__fail(l, "SUBSCRIBE refused");
            return;
        }
        load__peer_ready(l);
        return;
    }
    default:
        return;
    }
}

static void load__on_drain(struct iotc_bench_conn *c)
{
    struct load_peer *p = c->arg;
    if (!p->sub && !p->starved)
        load__fill(p->l, p);
}

static void load__on_close(struct iotc_bench_conn *c, const char *why)
{
    struct load_peer *p = c->arg;
    char msg[IOTC_BENCH_ERR_LEN];
    snprintf(msg, sizeof msg, "connection closed during the run: %.400s", why);
    load__fail(p->l, msg);
}

static const struct iotc_bench_conn_cbs load__cbs = {load__on_tls, load__on_packet, load__on_drain,
                                        load__on_close};

static void load__on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct load *l = arg;
    switch (l->phase) {
    case LP_SETUP:
        load__fail(l, "setup timed out (CONNECT/SUBSCRIBE not answered)");
        return;
    case LP_WARMUP:
        l->phase = LP_MEASURE;
        l->t0 = iotc_clock_s();
        l->sent0 = l->sent;
        l->delivered0 = l->delivered;
        l->cpu.serve = l->cfg->serve_pid;
        l->cpu.broker = l->cfg->broker_pid;
        iotc_bench_cpu_start(&l->cpu);
        l->res->loadavg = iotc_bench_loadavg();
        iotc_bench_arm(l->timer, l->cfg->measure_s);
        return;
    case LP_MEASURE: {
        double dt = iotc_clock_s() - l->t0;
        iotc_bench_cpu_stop(&l->cpu, &l->res->cpu);
        l->res->seconds = dt;
        l->res->sent = l->sent - l->sent0;
        l->res->delivered = l->delivered - l->delivered0;
        l->res->expected = l->res->sent * (uint64_t)l->cfg->subscribers;
        l->res->msgs_per_s = dt > 0 ? (double)l->res->delivered / dt : 0;
        l->res->ok = true;
        l->phase = LP_DRAIN;
        iotc_bench_arm(l->timer, LOAD_DRAIN_S);
        return;
    }
    case LP_DRAIN:
    case LP_DONE:
        l->phase = LP_DONE;
        uint64_t expect = l->sent * (uint64_t)l->cfg->subscribers;
        l->res->lost = expect > l->delivered ? expect - l->delivered : 0;
        event_base_loopexit(l->base, NULL);
        return;
    }
}

int iotc_bench_load_run(struct event_base *base, const struct iotc_bench_load_cfg *cfg, struct iotc_bench_load_result *out)
{
    struct load l = {.base = base, .cfg = cfg, .res = out, .phase = LP_SETUP};
    int rc = IOTC_ERR_NOMEM;
    memset(out, 0, sizeof *out);
    l.sa.sin_family = AF_INET;
    l.sa.sin_port = htons((uint16_t)cfg->port);
    l.sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l.npeers = cfg->subscribers + cfg->publishers;
    if (cfg->subscribers < 1 || cfg->publishers < 1 || cfg->window < LOAD_BATCH * 2) {
        snprintf(out->error, sizeof out->error, "bad load configuration");
        return IOTC_ERR_INVALID;
    }
    l.peers = calloc((size_t)l.npeers, sizeof *l.peers);
    l.timer = evtimer_new(base, load__on_timer, &l);
    if (!l.peers || !l.timer)
        goto cleanup;
    for (int i = 0; i < l.npeers; i++) {
        struct load_peer *p = &l.peers[i];
        p->l = &l;
        p->sub = i < cfg->subscribers;
        p->i = p->sub ? i : i - cfg->subscribers;
        p->c.cbs = &load__cbs;
        p->c.arg = p;
        p->c.closed = true; /* until opened */
        if (!p->sub && (rc = load__build_batch(&l, p)) != IOTC_OK)
            goto cleanup;
    }
    for (int i = 0; i < cfg->subscribers; i++)
        if (iotc_bench_conn_open(&l.peers[i].c, base, cfg->ctx, "localhost", &l.sa) != IOTC_OK)
            load__fail(&l, "cannot open a subscriber connection");
    if (l.phase == LP_SETUP)
        iotc_bench_arm(l.timer, LOAD_SETUP_TIMEOUT_S);
    event_base_dispatch(base);
    rc = out->ok ? IOTC_OK : IOTC_ERR_IO;
cleanup:
    if (l.peers) {
        for (int i = 0; i < l.npeers; i++) {
            iotc_bench_conn_close(&l.peers[i].c);
            iotc_buf_free(&l.peers[i].batch);
        }
        free(l.peers);
    }
    if (l.timer)
        event_free(l.timer);
    return rc;
}
