/*
 * Memory per idle connected device: Pss of serve (all its workers summed, so what they
 * share counts once) and VmRSS of its mosquitto
 * before and after cfg->devices devices connect (TLS + CONNECT + CONNACK,
 * keep-alive 1200 s) and then sit idle. A few warm-up devices connect before the
 * baseline so one-time allocations (OpenSSL tables, first-use pools) are not
 * charged to the devices.
 */
#include "bench.h"
#include "common/procstat.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM_TIMEOUT_S 180.0
#define MEM_KEEPALIVE 1200

enum mem_phase { MP_WARM, MP_BASELINE, MP_CONNECT, MP_AFTER, MP_DONE };

struct mem;
enum mem_dev_state { MD_IDLE, MD_PENDING, MD_UP, MD_FAILED };
struct mem_dev {
    struct iotc_bench_conn c;
    struct mem *m;
    int i;
    enum mem_dev_state state;
};

struct mem {
    struct event_base *base;
    const struct iotc_bench_mem_cfg *cfg;
    struct iotc_bench_mem_result *res;
    struct mem_dev *devs;
    int ndevs;
    struct event *timer;
    struct event *deadline;
    struct sockaddr_in sa;
    enum mem_phase phase;
    int next;    /* next device to open */
    int target;  /* devices [0, target) belong to the current stage */
    int pending; /* opened, no CONNACK yet */
    int up, failed;
    int up_at_baseline;
    double t_connect;
};

static void mem__pump(struct mem *m);

static void mem__settled_stage(struct mem *m)
{
    if (m->up + m->failed < m->target || m->pending)
        return;
    if (m->phase == MP_WARM) {
        m->phase = MP_BASELINE;
        iotc_bench_arm(m->timer, m->cfg->settle_s);
    } else if (m->phase == MP_CONNECT) {
        m->res->setup_s = iotc_clock_s() - m->t_connect;
        m->phase = MP_AFTER;
        iotc_bench_arm(m->timer, m->cfg->settle_s);
    }
}

static void mem__on_tls(struct iotc_bench_conn *c)
{
    struct mem_dev *d = c->arg;
    char id[64];
    snprintf(id, sizeof id, "bench-mem-%d-%d", (int)getpid(), d->i);
    if (iotc_bench_conn_send_connect(c, id, MEM_KEEPALIVE) != IOTC_OK) {
        d->m->pending--;
        d->m->failed++;
        d->state = MD_FAILED;
        iotc_bench_conn_close(c);
        mem__pump(d->m);
        mem__settled_stage(d->m);
    }
}

static void mem__on_packet(struct iotc_bench_conn *c, const struct iotc_mqtt_frame *f,
                           const uint8_t *pkt)
{
    struct mem_dev *d = c->arg;
    struct mem *m = d->m;
    if (f->type != IOTC_MQTT_CONNACK)
        return;
    struct iotc_mqtt_connack ca;
    if (d->state != MD_PENDING)
        return;
    m->pending--;
    if (!pkt || iotc_mqtt_connack_parse(pkt, f->total, IOTC_MQTT_V311, &ca) != IOTC_OK || ca.code) {
        m->failed++;
        d->state = MD_FAILED;
        if (!m->res->error[0])
            snprintf(m->res->error, sizeof m->res->error, "CONNECT refused (CONNACK code %d)",
                     pkt ? (int)ca.code : -1);
        iotc_bench_conn_close(c); /* iotc_bench_conn_close does not call on_close: counted once */
    } else {
        m->up++;
        d->state = MD_UP;
    }
    mem__pump(m);
    mem__settled_stage(m);
}

static void mem__on_close(struct iotc_bench_conn *c, const char *why)
{
    struct mem_dev *d = c->arg;
    struct mem *m = d->m;
    if (!m->res->error[0])
        snprintf(m->res->error, sizeof m->res->error, "device closed: %s", why);
    if (d->state == MD_PENDING)
        m->pending--;
    else if (d->state == MD_UP)
        m->up--;
    d->state = MD_FAILED;
    m->failed++;
    mem__pump(m);
    mem__settled_stage(m);
}

static const struct iotc_bench_conn_cbs mem__cbs = {mem__on_tls, mem__on_packet, NULL,
                                                    mem__on_close};

/* Keeps at most cfg->concurrency devices between connect and CONNACK. */
static void mem__pump(struct mem *m)
{
    while (m->phase != MP_DONE && m->next < m->target && m->pending < m->cfg->concurrency) {
        struct mem_dev *d = &m->devs[m->next++];
        if (iotc_bench_conn_open(&d->c, m->base, m->cfg->ctx, "localhost", &m->sa) != IOTC_OK) {
            d->state = MD_FAILED;
            m->failed++;
            continue;
        }
        d->state = MD_PENDING;
        m->pending++;
    }
}

static void mem__on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct mem *m = arg;
    const struct iotc_bench_mem_cfg *cfg = m->cfg;
    if (m->phase == MP_BASELINE) {
        m->res->serve_before_kb =
            cfg->serve_pid > 0 ? iotc_bench_front_door_mem_kb(cfg->serve_pid) : 0;
        m->res->broker_before_kb = iotc_rss_kb(cfg->broker_pid);
        m->up_at_baseline = m->up;
        m->phase = MP_CONNECT;
        m->target = m->ndevs;
        m->t_connect = iotc_clock_s();
        mem__pump(m);
        mem__settled_stage(m);
        return;
    }
    if (m->phase == MP_AFTER) {
        struct iotc_bench_mem_result *r = m->res;
        r->serve_after_kb = cfg->serve_pid > 0 ? iotc_bench_front_door_mem_kb(cfg->serve_pid) : 0;
        r->broker_after_kb = iotc_rss_kb(cfg->broker_pid);
        r->connected = m->up - m->up_at_baseline;
        if (r->connected > 0 && r->serve_before_kb >= 0 && r->broker_before_kb >= 0) {
            r->serve_kb = (double)(r->serve_after_kb - r->serve_before_kb) / r->connected;
            r->broker_kb = (double)(r->broker_after_kb - r->broker_before_kb) / r->connected;
            r->total_kb = r->serve_kb + r->broker_kb;
            r->ok = true;
        }
    }
    m->phase = MP_DONE;
    event_base_loopexit(m->base, NULL);
}

static void mem__on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct mem *m = arg;
    snprintf(m->res->error, sizeof m->res->error, "devices not connected after %.0f s",
             MEM_TIMEOUT_S);
    m->phase = MP_DONE;
    event_base_loopexit(m->base, NULL);
}

int iotc_bench_mem_run(struct event_base *base, const struct iotc_bench_mem_cfg *cfg,
                       struct iotc_bench_mem_result *out)
{
    struct mem m = {.base = base, .cfg = cfg, .res = out, .phase = MP_WARM};
    int rc = IOTC_ERR_NOMEM;
    memset(out, 0, sizeof *out);
    out->loadavg = iotc_bench_loadavg();
    out->serve_before_kb = out->broker_before_kb = -1;
    if (cfg->devices < 1 || cfg->warm_devices < 1 || cfg->concurrency < 1) {
        snprintf(out->error, sizeof out->error, "bad memory configuration");
        return IOTC_ERR_INVALID;
    }
    m.sa.sin_family = AF_INET;
    m.sa.sin_port = htons((uint16_t)cfg->port);
    m.sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    m.ndevs = cfg->warm_devices + cfg->devices;
    m.devs = calloc((size_t)m.ndevs, sizeof *m.devs);
    m.timer = evtimer_new(base, mem__on_timer, &m);
    m.deadline = evtimer_new(base, mem__on_deadline, &m);
    if (!m.devs || !m.timer || !m.deadline)
        goto cleanup;
    for (int i = 0; i < m.ndevs; i++) {
        m.devs[i].m = &m;
        m.devs[i].i = i;
        m.devs[i].c.cbs = &mem__cbs;
        m.devs[i].c.arg = &m.devs[i];
        m.devs[i].c.closed = true;
    }
    m.target = cfg->warm_devices;
    iotc_bench_arm(m.deadline, MEM_TIMEOUT_S);
    mem__pump(&m);
    event_base_dispatch(base);
    rc = out->ok ? IOTC_OK : IOTC_ERR_IO;
cleanup:
    if (m.devs) {
        for (int i = 0; i < m.ndevs; i++)
            iotc_bench_conn_close(&m.devs[i].c);
        free(m.devs);
    }
    if (m.timer)
        event_free(m.timer);
    if (m.deadline)
        event_free(m.deadline);
    return rc;
}
