/*
 * Full mTLS handshakes per second: cfg->concurrency connections in flight, each
 * closed as soon as the client's handshake completes and replaced at once. The
 * client context has no session cache and no tickets, so every one is a full
 * handshake. The close is a plain FIN after the client's last flight, so the
 * server still receives and checks the client's Certificate/Finished.
 */
#include "bench.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum hs_phase { HS_WARMUP, HS_MEASURE, HS_DONE };

struct hs;
struct hs_slot {
    struct iotc_bench_conn c;
    struct hs *h;
};

struct hs {
    struct event_base *base;
    const struct iotc_bench_hs_cfg *cfg;
    struct iotc_bench_hs_result *res;
    struct hs_slot *slots;
    struct event *timer;
    struct sockaddr_in sa;
    enum hs_phase phase;
    uint64_t completed, failed;
    uint64_t completed0, failed0;
    double t0;
    int open_failures;
    struct iotc_bench_cpu_probe cpu;
};

static void hs__next(struct hs_slot *s);

static void hs__on_tls(struct iotc_bench_conn *c)
{
    struct hs_slot *s = c->arg;
    struct hs *h = s->h;
    h->completed++;
    if (!h->res->tls[0])
        iotc_bench_conn_describe(c, h->res->tls, sizeof h->res->tls);
    iotc_bench_conn_close(c);
    hs__next(s);
}

static void hs__on_close(struct iotc_bench_conn *c, const char *why)
{
    struct hs_slot *s = c->arg;
    struct hs *h = s->h;
    h->failed++;
    if (!h->res->error[0])
        snprintf(h->res->error, sizeof h->res->error, "handshake failed: %s", why);
    hs__next(s);
}

static const struct iotc_bench_conn_cbs hs__cbs = {hs__on_tls, NULL, NULL, hs__on_close};

static void hs__next(struct hs_slot *s)
{
    struct hs *h = s->h;
    if (h->phase == HS_DONE)
        return;
    if (iotc_bench_conn_open(&s->c, h->base, h->cfg->ctx, "localhost", &h->sa) != IOTC_OK) {
        h->failed++;
        /* Out of fds or ports: stop rather than spin on an error. */
        if (++h->open_failures > 1000) {
            snprintf(h->res->error, sizeof h->res->error, "cannot open connections");
            h->phase = HS_DONE;
            iotc_bench_arm(h->timer, 0);
        }
    }
}

static void hs__on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct hs *h = arg;
    if (h->phase == HS_WARMUP) {
        h->phase = HS_MEASURE;
        h->t0 = iotc_clock_s();
        h->completed0 = h->completed;
        h->failed0 = h->failed;
        h->cpu.serve = h->cfg->serve_pid;
        h->cpu.broker = -1;
        iotc_bench_cpu_start(&h->cpu);
        h->res->loadavg = iotc_bench_loadavg();
        iotc_bench_arm(h->timer, h->cfg->measure_s);
        return;
    }
    if (h->phase == HS_MEASURE) {
        double dt = iotc_clock_s() - h->t0;
        iotc_bench_cpu_stop(&h->cpu, &h->res->cpu);
        h->res->seconds = dt;
        h->res->completed = h->completed - h->completed0;
        h->res->failed = h->failed - h->failed0;
        h->res->per_s = dt > 0 ? (double)h->res->completed / dt : 0;
        h->res->ok = h->res->completed > 0;
    }
    h->phase = HS_DONE;
    event_base_loopexit(h->base, NULL);
}

int iotc_bench_hs_run(struct event_base *base, const struct iotc_bench_hs_cfg *cfg, struct iotc_bench_hs_result *out)
{
    struct hs h = {.base = base, .cfg = cfg, .res = out, .phase = HS_WARMUP};
    int rc = IOTC_ERR_NOMEM;
    memset(out, 0, sizeof *out);
    if (cfg->concurrency < 1) {
        snprintf(out->error, sizeof out->error, "bad concurrency");
        return IOTC_ERR_INVALID;
    }
    h.sa.sin_family = AF_INET;
    h.sa.sin_port = htons((uint16_t)cfg->port);
    h.sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h.slots = calloc((size_t)cfg->concurrency, sizeof *h.slots);
    h.timer = evtimer_new(base, hs__on_timer, &h);
    if (!h.slots || !h.timer)
        goto cleanup;
    for (int i = 0; i < cfg->concurrency; i++) {
        h.slots[i].h = &h;
        h.slots[i].c.cbs = &hs__cbs;
        h.slots[i].c.arg = &h.slots[i];
        h.slots[i].c.closed = true;
    }
    iotc_bench_arm(h.timer, cfg->warmup_s);
    for (int i = 0; i < cfg->concurrency; i++)
        hs__next(&h.slots[i]);
    event_base_dispatch(base);
    rc = out->ok ? IOTC_OK : IOTC_ERR_IO;
cleanup:
    if (h.slots) {
        for (int i = 0; i < cfg->concurrency; i++)
            iotc_bench_conn_close(&h.slots[i].c);
        free(h.slots);
    }
    if (h.timer)
        event_free(h.timer);
    return rc;
}
