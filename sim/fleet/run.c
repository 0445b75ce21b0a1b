/*
 * One fleet run on one event loop: monitors first (they count HTTPS deliveries),
 * then the ramp, the publishing window, the drain, the end. A 100 ms tick moves
 * the phases, runs the fault schedule and draws the progress line.
 */
#include "fleet_int.h"
#include "common/procstat.h"
#include "common/err.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUN_TICK_MS         100
#define RUN_MONITOR_WAIT_S  15.0
#define RUN_INTERRUPT_DRAIN 3.0 /* seconds of drain after Ctrl-C */
#define RUN_GOODBYE_MS      300 /* DISCONNECTs flushed before the loop ends */

static double run__since(uint64_t t_us)
{
    return (double)(iotc_clock_us() - t_us) / 1e6;
}

static bool run__all_delivered(const struct iotc_fleet *fl)
{
    /* A shard cannot see what its publishers' messages did on other shards, nor what is
     * still coming to its receivers: it drains for drain_s. */
    if (fl->shard.n > 1)
        return false;
    for (uint32_t i = 0; i < fl->n_devs; i++) {
        const struct iotc_fleet_dev *d = &fl->devs[i];
        if (d->row->b.qos == 1 && fl->ledger[d->idx].delivered < fl->ledger[d->idx].sent)
            return false;
    }
    return true;
}

/* Every device that has not given up is back: "disconnected at the end" then means a
 * device that did not come back, not one caught between two connections (custom-auth
 * connections end at disconnectAfterInSeconds, a few seconds under fast-timers). */
static bool run__all_settled(const struct iotc_fleet *fl)
{
    for (uint32_t i = 0; i < fl->n_devs; i++) {
        const struct iotc_fleet_dev *d = &fl->devs[i];
        if (d->state == IOTC_FLEET_DEV_DONE)
            continue;
        if (d->row->def->proto == IOTC_PROTO_HTTPS ? d->q_len > 0 : d->state != IOTC_FLEET_DEV_UP)
            return false;
    }
    return true;
}

static void run__goodbye(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopexit(((struct iotc_fleet *)arg)->base, NULL);
}

static void run__end(struct iotc_fleet *fl)
{
    fl->phase = IOTC_FLEET_PHASE_END;
    fl->disconnected_end = iotc_fleet_disconnected_at_end(fl);
    fl->stopping = true;
    fl->publishing = false;
    fl->t_end_us = iotc_clock_us();
    for (uint32_t i = 0; i < fl->n_all; i++)
        iotc_fleet_dev_close(&fl->devs[i], true);
    struct timeval tv = {0, RUN_GOODBYE_MS * 1000};
    event_base_once(fl->base, -1, EV_TIMEOUT, run__goodbye, fl, &tv);
}

static void run__stop_publishing(struct iotc_fleet *fl)
{
    fl->publishing = false;
    fl->t_pub_end_us = iotc_clock_us();
    fl->rss_after_kb = iotc_rss_kb(0);
    if (fl->have_serve) {
        fl->serve_after_kb = iotc_rss_kb(fl->serve.proc.pid);
        fl->broker_after_kb = iotc_rss_kb(iotc_serve_child_broker_pid(&fl->serve));
    }
    for (uint32_t i = 0; i < fl->n_devs; i++)
        evtimer_del(fl->devs[i].pub);
    fl->phase = IOTC_FLEET_PHASE_DRAIN;
}

static double run__spread_ms(const struct iotc_fleet *fl, const struct iotc_fleet_dev *d)
{
    return fl->spec->start_spread_s >= 0 ? fl->spec->start_spread_s * 1000.0
                                         : (double)d->row->b.publish_interval_ms;
}

static void run__start_devices(struct iotc_fleet *fl)
{
    fl->phase = IOTC_FLEET_PHASE_RAMP;
    fl->publishing = !fl->synced; /* synchronized: from the barrier on (run__release) */
    fl->t_start_us = iotc_clock_us();
    for (uint32_t i = 0; i < fl->n_devs; i++) {
        struct iotc_fleet_dev *d = &fl->devs[i];
        if (d->row->def->proto != IOTC_PROTO_HTTPS)
            iotc_fleet_dev_want_connect(d);
        else if (fl->publishing)
            iotc_fleet_dev_start_publishing(d, run__spread_ms(fl, d));
    }
}

/* Synchronized runs: every MQTT device of this shard is subscribed (HTTPS devices have no
 * connection to wait for). */
static bool run__local_ready(const struct iotc_fleet *fl)
{
    for (uint32_t i = 0; i < fl->n_devs; i++) {
        const struct iotc_fleet_dev *d = &fl->devs[i];
        if (d->row->def->proto != IOTC_PROTO_HTTPS && d->state != IOTC_FLEET_DEV_DONE &&
            !d->subscribed)
            return false;
    }
    return true;
}

static void run__release(struct iotc_fleet *fl)
{
    fl->t_ramp_end_us = fl->t_pub_start_us = iotc_clock_us();
    fl->phase = IOTC_FLEET_PHASE_PUBLISH;
    if (!fl->synced)
        return;
    fl->publishing = true;
    for (uint32_t i = 0; i < fl->n_devs; i++) {
        struct iotc_fleet_dev *d = &fl->devs[i];
        if (d->row->def->proto == IOTC_PROTO_HTTPS || d->ever_up)
            iotc_fleet_dev_start_publishing(d, run__spread_ms(fl, d));
    }
}

static void run__tick(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_fleet *fl = arg;
    struct iotc_fleet_spec *s = fl->spec;
    switch (fl->phase) {
    case IOTC_FLEET_PHASE_MONITORS: {
        bool ready = true;
        for (uint32_t i = fl->n_devs; i < fl->n_all; i++)
            ready = ready && fl->devs[i].subscribed;
        if (ready || run__since(fl->t_start_us) > RUN_MONITOR_WAIT_S) {
            if (!ready)
                fprintf(stderr,
                        "fleet: HTTPS monitors not subscribed after %.0f s: "
                        "HTTPS deliveries may be missed\n",
                        RUN_MONITOR_WAIT_S);
            fl->monitors_ready = ready;
            run__start_devices(fl);
        }
        break;
    }
    case IOTC_FLEET_PHASE_RAMP:
        if (!fl->synced) {
            if (fl->ever_up_n >= fl->n_devs ||
                run__since(fl->t_start_us) > (double)s->ramp_timeout_s)
                run__release(fl);
            break;
        }
        if (run__local_ready(fl) || run__since(fl->t_start_us) > (double)s->ramp_timeout_s)
            iotc_fleet_sync_local_ready(fl);
        /* The other shards get the ramp's timeout again to come. */
        if ((fl->sync ? iotc_fleet_sync_released(fl) : run__local_ready(fl)) ||
            run__since(fl->t_start_us) > 2.0 * (double)s->ramp_timeout_s) {
            if (!iotc_fleet_sync_released(fl))
                fprintf(stderr,
                        "fleet: not every shard was ready after %lld s: publishing "
                        "anyway (the merge will report the losses)\n",
                        2 * s->ramp_timeout_s);
            run__release(fl);
        }
        break;
    case IOTC_FLEET_PHASE_PUBLISH:
        iotc_fleet_faults_tick(fl);
        if (run__since(fl->t_pub_start_us) >= s->duration_s)
            run__stop_publishing(fl);
        break;
    case IOTC_FLEET_PHASE_DRAIN: {
        iotc_fleet_faults_tick(fl); /* faults still end on time */
        double limit =
            fl->interrupted && s->drain_s > RUN_INTERRUPT_DRAIN ? RUN_INTERRUPT_DRAIN : s->drain_s;
        if ((run__all_delivered(fl) && run__all_settled(fl)) ||
            run__since(fl->t_pub_end_us) >= limit)
            run__end(fl);
        break;
    }
    default:
        break;
    }
    iotc_fleet_sync_tick(fl);
    iotc_fleet_progress(fl, false);
}

static void run__on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct iotc_fleet *fl = arg;
    fl->interrupted = true;
    if (++fl->sigints > 1 || fl->phase == IOTC_FLEET_PHASE_MONITORS) {
        if (fl->phase != IOTC_FLEET_PHASE_END)
            run__end(fl);
        return;
    }
    if (fl->phase == IOTC_FLEET_PHASE_RAMP)
        run__release(fl);
    if (fl->phase == IOTC_FLEET_PHASE_PUBLISH) {
        fprintf(stderr,
                "\nfleet: interrupted: draining for up to %.0f s (Ctrl-C again to stop "
                "now)\n",
                RUN_INTERRUPT_DRAIN);
        run__stop_publishing(fl);
    }
}

/* This shard's devices of each row: ridx in [D(k-1)/N, Dk/N), so the shards of a row
 * differ by one device at most, every device is in exactly one shard, and a device keeps
 * its global index (its identity, client ID, topic and schedule) whatever the split. */
static void run__split(const struct iotc_fleet *fl, const struct iotc_fleet_row *row, uint32_t *lo,
                       uint32_t *count)
{
    uint64_t d = (uint64_t)row->devices;
    if (fl->shard.n == 0) {
        *lo = 0;
        *count = (uint32_t)d;
        return;
    }
    uint64_t a = d * (uint64_t)(fl->shard.k - 1) / (uint64_t)fl->shard.n;
    uint64_t b = d * (uint64_t)fl->shard.k / (uint64_t)fl->shard.n;
    *lo = (uint32_t)a;
    *count = (uint32_t)(b - a);
}

static int run__devices(struct iotc_fleet *fl, iotc_errtext *err)
{
    struct iotc_fleet_spec *s = fl->spec;
    uint32_t n = 0, monitors = 0, global = 0;
    size_t max_payload = IOTC_FLEET_PAYLOAD_MIN;
    /* Sharded: the HTTPS rows' monitors (which see every shard's HTTPS messages) run on
     * shard 1 only, and every shard has a sync client. */
    bool with_monitors = fl->shard.n == 0 || fl->shard.k == 1;
    for (size_t r = 0; r < s->n_rows; r++) {
        struct iotc_fleet_row *row = &s->rows[r];
        row->first = global;
        global += (uint32_t)row->devices;
        run__split(fl, row, &row->llo, &row->lcount);
        row->lfirst = n;
        n += row->lcount;
        monitors += with_monitors && row->def->proto == IOTC_PROTO_HTTPS;
        if ((size_t)row->b.payload_bytes > max_payload)
            max_payload = (size_t)row->b.payload_bytes;
    }
    fl->n_devs = n;
    fl->n_global = global;
    fl->n_all = n + monitors + (fl->shard.n > 1);
    fl->devs = calloc(fl->n_all, sizeof *fl->devs);
    fl->ledger = calloc(global, sizeof *fl->ledger);
    fl->payload = malloc(max_payload + 1);
    if (!fl->devs || !fl->ledger || !fl->payload)
        return IOTC_ERR_NOMEM;
    uint32_t g = 0, m = n;
    for (size_t r = 0; r < s->n_rows; r++) {
        struct iotc_fleet_row *row = &s->rows[r];
        for (uint32_t i = 0; i < row->lcount; i++, g++) {
            struct iotc_fleet_dev *d = &fl->devs[g];
            d->row = row;
            d->ridx = row->llo + i;
            d->idx = row->first + d->ridx;
            int rc = iotc_fleet_dev_init(fl, d);
            if (rc != IOTC_OK) {
                iotc_errtext_set(err, 0, "%s: row %s device %u: %s%s", s->file, row->def->id,
                                 d->ridx, iotc_strerror(rc),
                                 rc == IOTC_ERR_LIMIT ? " (client ID empty, over 128 bytes or "
                                                        "starting with '$')"
                                                      : "");
                return rc;
            }
        }
        if (with_monitors && row->def->proto == IOTC_PROTO_HTTPS) {
            struct iotc_fleet_dev *d = &fl->devs[m++];
            d->row = row;
            d->idx = UINT32_MAX;
            d->monitor = true;
            row->monitor = d;
            if (iotc_fleet_dev_init(fl, d) != IOTC_OK)
                return IOTC_ERR_NOMEM;
        }
    }
    if (fl->shard.n > 1) {
        struct iotc_fleet_dev *d = &fl->devs[m];
        d->row = &s->rows[0];
        d->idx = UINT32_MAX;
        d->monitor = d->sync = true;
        int rc = iotc_fleet_dev_init(fl, d);
        if (rc == IOTC_OK)
            rc = iotc_fleet_sync_setup(fl, d, err);
        if (rc != IOTC_OK)
            return rc;
    }
    return IOTC_OK;
}

static bool run__has_https(const struct iotc_fleet_spec *s)
{
    for (size_t r = 0; r < s->n_rows; r++)
        if (s->rows[r].def->proto == IOTC_PROTO_HTTPS)
            return true;
    return false;
}

int iotc_fleet_run(struct iotc_fleet *fl, const char *serve_bin, const char *pki_override)
{
    int rc;
    struct iotc_fleet_spec *s = fl->spec;
    signal(SIGPIPE, SIG_IGN);
    fl->nofile = iotc_raise_nofile(&fl->nofile_hard);
    fl->rng = (uint64_t)iotc_clock_us() ^ ((uint64_t)getpid() << 32);
    if (!fl->run_tag[0]) /* given (--run): the same on every shard */
        snprintf(fl->run_tag, sizeof fl->run_tag, "%08llx",
                 (unsigned long long)(iotc_fleet_rand(&fl->rng) & 0xffffffffu));
    fl->synced = fl->shard.n > 1;
    for (size_t r = 0; r < s->n_rows; r++)
        fl->synced = fl->synced || s->rows[r].peer_offset != 0;
    fl->base = event_base_new();
    if (!fl->base)
        return IOTC_ERR_NOMEM;
    rc = iotc_fleet_target_start(fl, serve_bin, pki_override, &fl->err);
    if (rc != IOTC_OK)
        return rc;
    if ((rc = iotc_fleet_idents_setup(s, &fl->err)) || (rc = iotc_fleet_tls_setup(fl, &fl->err)))
        return rc;
    if (run__has_https(s) && (rc = iotc_fleet_https_setup(fl, &fl->err)))
        return rc;
    fl->rss_before_kb = iotc_rss_kb(0);
    if (fl->have_serve) {
        fl->serve_before_kb = iotc_rss_kb(fl->serve.proc.pid);
        fl->broker_before_kb = iotc_rss_kb(iotc_serve_child_broker_pid(&fl->serve));
    }
    if ((rc = run__devices(fl, &fl->err)))
        return rc;
    long need = (long)fl->n_all + 64;
    if (fl->nofile > 0 && need > fl->nofile)
        fprintf(stderr,
                "fleet: warning: %u devices need about %ld descriptors, the limit is %ld "
                "(hard %ld): connections will fail\n",
                fl->n_all, need, fl->nofile, fl->nofile_hard);
    fl->tick = event_new(fl->base, -1, EV_PERSIST, run__tick, fl);
    fl->ramp_tm = evtimer_new(fl->base, iotc_fleet_ramp_on_timer, fl);
    fl->sig_int = evsignal_new(fl->base, SIGINT, run__on_signal, fl);
    fl->sig_term = evsignal_new(fl->base, SIGTERM, run__on_signal, fl);
    if (!fl->tick || !fl->ramp_tm || !fl->sig_int || !fl->sig_term)
        return IOTC_ERR_NOMEM;
    struct timeval tick = {0, RUN_TICK_MS * 1000};
    event_add(fl->tick, &tick);
    event_add(fl->sig_int, NULL);
    event_add(fl->sig_term, NULL);
    fl->t_start_us = iotc_clock_us();
    fl->ramp_last_us = fl->t_start_us;
    if (fl->n_all > fl->n_devs) {
        fl->phase = IOTC_FLEET_PHASE_MONITORS;
        for (uint32_t i = fl->n_devs; i < fl->n_all; i++)
            iotc_fleet_dev_want_connect(&fl->devs[i]);
    } else {
        run__start_devices(fl);
    }
    event_base_dispatch(fl->base);
    iotc_fleet_progress(fl, true);
    return IOTC_OK;
}

void iotc_fleet_free(struct iotc_fleet *fl)
{
    for (uint32_t i = 0; fl->devs && i < fl->n_all; i++)
        iotc_fleet_dev_free(&fl->devs[i]);
    iotc_fleet_https_free(fl);
    for (uint32_t i = 0; fl->ledger && i < fl->n_global; i++)
        iotc_fleet_ledger_free(&fl->ledger[i]);
    free(fl->devs);
    free(fl->ledger);
    free(fl->payload);
    iotc_buf_free(&fl->out);
    struct event *evs[] = {fl->tick, fl->ramp_tm, fl->sig_int, fl->sig_term};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i])
            event_free(evs[i]);
    iotc_fleet_tls_free(fl);
    iotc_fleet_sync_free(fl);
    iotc_fleet_target_stop(fl);
    if (fl->base)
        event_base_free(fl->base);
    fl->base = NULL;
    fl->devs = NULL;
    fl->ledger = NULL;
}
