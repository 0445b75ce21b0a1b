/*
 * QoS 1 acknowledged throughput: PUBACKs per second for publishers that keep `window`
 * QoS 1 messages in flight each, while a persistent subscriber is offline, so every
 * message is stored and queued for it (the case issue 10 item 10 is about: a broker
 * crash must not lose acknowledged messages). Run against a serve with
 * limits.qos1_durable 1 and 0, the difference is the price of durability.
 */
#include "bench.h"
#include "common/err.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Q1_KEEPALIVE 1200
#define Q1_SETUP_S   30.0

enum q1_phase { Q1_SUB, Q1_SETUP, Q1_WARMUP, Q1_MEASURE, Q1_DONE };

struct q1;
struct q1_peer {
    struct iotc_bench_conn c;
    struct q1 *q;
    int i; /* -1: the subscriber */
    uint16_t next_id;
};

struct q1 {
    struct event_base *base;
    const struct iotc_bench_qos1_cfg *cfg;
    struct iotc_bench_qos1_result *res;
    struct q1_peer sub, *pubs;
    int ready;
    enum q1_phase phase;
    struct event *timer;
    struct sockaddr_in sa;
    uint64_t acked, acked0;
    double t0;
    struct iotc_bench_cpu_probe cpu;
};

static void q1__fail(struct q1 *q, const char *why)
{
    if (q->phase == Q1_DONE)
        return;
    snprintf(q->res->error, sizeof q->res->error, "%s", why);
    q->res->ok = false;
    q->phase = Q1_DONE;
    iotc_bench_arm(q->timer, 0);
}

static void q1__publish(struct q1_peer *p)
{
    struct q1 *q = p->q;
    char topic[96];
    static const uint8_t payload[64] = {0};
    snprintf(topic, sizeof topic, "bench/q1%s/%d", q->cfg->tag, p->i);
    if (++p->next_id == 0)
        p->next_id = 1;
    struct iotc_mqtt_publish m = {.qos = 1,
                             .topic = iotc_span_str(topic),
                             .packet_id = p->next_id,
                             .payload = {payload, sizeof payload}};
    struct iotc_buf out = {0};
    if (iotc_mqtt_publish_encode(&out, IOTC_MQTT_V311, &m) != IOTC_OK ||
        iotc_bench_conn_write(&p->c, out.p, out.len) != IOTC_OK)
        q1__fail(q, "cannot send PUBLISH");
    iotc_buf_free(&out);
}

static void q1__on_tls(struct iotc_bench_conn *c)
{
    struct q1_peer *p = c->arg;
    char id[96];
    snprintf(id, sizeof id, "bench-q1%s-%s%d", p->q->cfg->tag, p->i < 0 ? "sub" : "p", p->i);
    struct iotc_mqtt_connect cn = {.protocol_name = IOTC_SPAN_LIT("MQTT"),
                              .version = IOTC_MQTT_V311,
                              .clean_start = p->i >= 0, /* the subscriber's session persists */
                              .keepalive = Q1_KEEPALIVE,
                              .client_id = iotc_span_str(id)};
    struct iotc_buf out = {0};
    if (iotc_mqtt_connect_encode(&out, &cn) != IOTC_OK || iotc_bench_conn_write(c, out.p, out.len) != IOTC_OK)
        q1__fail(p->q, "cannot send CONNECT");
    iotc_buf_free(&out);
}

static void q1__open_publishers(struct q1 *q)
{
    q->phase = Q1_SETUP;
    for (int i = 0; i < q->cfg->publishers; i++)
        if (iotc_bench_conn_open(&q->pubs[i].c, q->base, q->cfg->ctx, "localhost", &q->sa) != IOTC_OK)
            q1__fail(q, "cannot open a publisher connection");
}

static void q1__on_packet(struct iotc_bench_conn *c, const struct iotc_mqtt_frame *f, const uint8_t *pkt)
{
    struct q1_peer *p = c->arg;
    struct q1 *q = p->q;
    if (f->type == IOTC_MQTT_CONNACK) {
        struct iotc_mqtt_connack ca;
        if (!pkt || iotc_mqtt_connack_parse(pkt, f->total, IOTC_MQTT_V311, &ca) != IOTC_OK || ca.code) {
            q1__fail(q, "CONNECT refused");
            return;
        }
        if (p->i < 0) {
            char filter[96];
            snprintf(filter, sizeof filter, "bench/q1%s/+", q->cfg->tag);
            struct iotc_mqtt_subscribe s = {.packet_id = 1, .count = 1};
            s.filters[0].filter = iotc_span_str(filter);
            s.filters[0].options = 1; /* QoS 1: offline, its messages are stored and queued */
            struct iotc_buf out = {0};
            if (iotc_mqtt_subscribe_encode(&out, IOTC_MQTT_V311, &s) != IOTC_OK ||
                iotc_bench_conn_write(c, out.p, out.len) != IOTC_OK)
                q1__fail(q, "cannot send SUBSCRIBE");
            iotc_buf_free(&out);
            return;
        }
        if (++q->ready == q->cfg->publishers) {
            q->phase = Q1_WARMUP;
            iotc_bench_arm(q->timer, q->cfg->warmup_s);
            for (int i = 0; i < q->cfg->publishers; i++)
                for (size_t w = 0; w < q->cfg->window; w++)
                    q1__publish(&q->pubs[i]);
        }
        return;
    }
    if (f->type == IOTC_MQTT_SUBACK && p->i < 0) {
        static const uint8_t disconnect[2] = {0xE0, 0x00};
        iotc_bench_conn_write(c, disconnect, sizeof disconnect);
        return; /* the broker closes the link: on_close opens the publishers */
    }
    if (f->type == IOTC_MQTT_PUBACK && p->i >= 0) {
        q->acked++;
        if (q->phase == Q1_WARMUP || q->phase == Q1_MEASURE)
            q1__publish(p);
    }
}

static void q1__on_drain(struct iotc_bench_conn *c)
{
}

static void q1__on_close(struct iotc_bench_conn *c, const char *why)
{
    struct q1_peer *p = c->arg;
    if (p->i < 0 && p->q->phase == Q1_SUB) {
        q1__open_publishers(p->q);
        return;
    }
    if (p->q->phase != Q1_DONE) {
        char msg[IOTC_BENCH_ERR_LEN];
        snprintf(msg, sizeof msg, "connection closed during the run: %.400s", why);
        q1__fail(p->q, msg);
    }
}

static const struct iotc_bench_conn_cbs q1__cbs = {q1__on_tls, q1__on_packet, q1__on_drain, q1__on_close};

static void q1__on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct q1 *q = arg;
    switch (q->phase) {
    case Q1_SUB:
    case Q1_SETUP:
        q1__fail(q, "setup timed out");
        return;
    case Q1_WARMUP:
        q->phase = Q1_MEASURE;
        q->acked0 = q->acked;
        q->t0 = iotc_mono_ms();
        iotc_bench_cpu_start(&q->cpu);
        iotc_bench_arm(q->timer, q->cfg->measure_s);
        return;
    case Q1_MEASURE:
        q->res->seconds = (iotc_mono_ms() - q->t0) / 1000.0;
        iotc_bench_cpu_stop(&q->cpu, &q->res->cpu);
        q->res->acked = q->acked - q->acked0;
        q->res->acks_per_s = (double)q->res->acked / q->res->seconds;
        q->res->ok = true;
        q->res->loadavg = iotc_bench_loadavg();
        q->phase = Q1_DONE;
        /* fall through */
    case Q1_DONE:
        event_base_loopbreak(q->base);
        return;
    }
}

int iotc_bench_qos1_run(struct event_base *base, const struct iotc_bench_qos1_cfg *cfg, struct iotc_bench_qos1_result *out)
{
    memset(out, 0, sizeof *out);
    struct q1 q = {.base = base, .cfg = cfg, .res = out, .phase = Q1_SUB};
    q.sa.sin_family = AF_INET;
    q.sa.sin_port = htons((uint16_t)cfg->port);
    q.sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    q.cpu.serve = cfg->serve_pid;
    q.cpu.broker = cfg->broker_pid;
    q.pubs = calloc((size_t)cfg->publishers, sizeof *q.pubs);
    q.timer = evtimer_new(base, q1__on_timer, &q);
    if (!q.pubs || !q.timer) {
        snprintf(out->error, sizeof out->error, "out of memory");
        goto cleanup;
    }
    q.sub = (struct q1_peer){.q = &q, .i = -1};
    q.sub.c.cbs = &q1__cbs;
    q.sub.c.arg = &q.sub;
    for (int i = 0; i < cfg->publishers; i++) {
        q.pubs[i] = (struct q1_peer){.q = &q, .i = i};
        q.pubs[i].c.cbs = &q1__cbs;
        q.pubs[i].c.arg = &q.pubs[i];
    }
    iotc_bench_arm(q.timer, Q1_SETUP_S);
    if (iotc_bench_conn_open(&q.sub.c, base, cfg->ctx, "localhost", &q.sa) != IOTC_OK) {
        snprintf(out->error, sizeof out->error, "cannot open the subscriber connection");
        goto cleanup;
    }
    event_base_dispatch(base);
cleanup:
    if (!q.sub.c.closed && q.sub.c.bev)
        iotc_bench_conn_close(&q.sub.c);
    for (int i = 0; q.pubs && i < cfg->publishers; i++)
        if (!q.pubs[i].c.closed && q.pubs[i].c.bev)
            iotc_bench_conn_close(&q.pubs[i].c);
    if (q.timer)
        event_free(q.timer);
    free(q.pubs);
    return out->ok ? IOTC_OK : IOTC_ERR_IO;
}
