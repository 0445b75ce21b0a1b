/*
 * The fault schedule: at T seconds (from the first publish), for D seconds, on a
 * fraction of the devices of some rows. Network faults follow a device across
 * reconnects (a partition does not heal because the device dialled again);
 * process faults hit the emulated endpoint once.
 */
#include "fleet_int.h"
#include "common/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

bool iotc_fleet_dev_fault_active(const struct iotc_fleet_dev *d)
{
    return d->fault.kind != IOTC_FAULT_NONE;
}

static bool sched__row_in(const struct iotc_fleet_fault_ev *ev, size_t r)
{
    return !ev->row_mask || (r < 32 && (ev->row_mask & (1u << r)));
}

struct sched__pick {
    double key;
    uint32_t row, ridx;
};

static int sched__cmp(const void *a, const void *b)
{
    double x = ((const struct sched__pick *)a)->key, y = ((const struct sched__pick *)b)->key;
    return x < y ? -1 : x > y;
}

/* Exactly round(fraction * n) devices of the chosen rows, n counted over the whole fleet
 * and the devices ranked by a hash of (device, fault): the same devices whether the fleet
 * runs whole or sharded; each shard applies the fault to those it runs. */
static void sched__start_network(struct iotc_fleet *fl, struct iotc_fleet_fault_ev *ev,
                                 uint64_t now_ms)
{
    const struct iotc_fleet_spec *s = fl->spec;
    uint32_t salt = (uint32_t)(ev - s->faults) + 1, n = 0;
    struct sched__pick *pick = malloc((fl->n_global + 1) * sizeof *pick);
    if (!pick)
        return;
    for (size_t r = 0; r < s->n_rows; r++)
        for (uint32_t i = 0; sched__row_in(ev, r) && i < (uint32_t)s->rows[r].devices; i++)
            pick[n++] = (struct sched__pick){iotc_fleet_dev_phase01(s->rows[r].first + i, salt),
                                             (uint32_t)r, i};
    qsort(pick, n, sizeof *pick, sched__cmp);
    uint32_t want = (uint32_t)lround(ev->fraction * n);
    for (uint32_t k = 0; k < want; k++) {
        const struct iotc_fleet_row *row = &s->rows[pick[k].row];
        if (pick[k].ridx < row->llo || pick[k].ridx >= row->llo + row->lcount)
            continue; /* another shard's */
        struct iotc_fleet_dev *d = &fl->devs[row->lfirst + (pick[k].ridx - row->llo)];
        d->fault = ev->f;
        d->fault_until_ms = now_ms + (uint64_t)(ev->for_s * 1000.0);
        iotc_fleet_dev_apply_fault(d);
        /* A one-shot reset is an event: nothing remains on the device. */
        if (ev->f.kind == IOTC_FAULT_RESET && ev->for_s <= 0)
            d->fault.kind = IOTC_FAULT_NONE;
        ev->hit++;
    }
    free(pick);
}

static void sched__start_process(struct iotc_fleet *fl, struct iotc_fleet_fault_ev *ev)
{
    iotc_errtext err = {0};
    if (!fl->have_serve) {
        fprintf(stderr, "fleet: %s needs the emulated endpoint: skipped\n",
                iotc_fault_name(ev->f.kind));
        return;
    }
    if (ev->f.kind == IOTC_FAULT_BROKER_RESTART) {
        int pid = iotc_serve_child_kill_broker(&fl->serve);
        if (pid > 0)
            ev->hit++;
        else
            fprintf(stderr, "fleet: broker restart: no broker pid in %s\n", fl->serve.journal);
        return;
    }
    /* Blocking for the restart is fine: every device has lost the endpoint anyway. */
    if (iotc_serve_child_restart(&fl->serve, 10000, &err) != IOTC_OK) {
        fprintf(stderr, "fleet: endpoint restart failed: %s\n", err.msg);
        return;
    }
    ev->hit++;
}

void iotc_fleet_faults_tick(struct iotc_fleet *fl)
{
    if (!fl->t_pub_start_us)
        return;
    uint64_t now_us = iotc_clock_us(), now_ms = now_us / 1000;
    double t = (double)(now_us - fl->t_pub_start_us) / 1e6;
    for (size_t i = 0; i < fl->spec->n_faults; i++) {
        struct iotc_fleet_fault_ev *ev = &fl->spec->faults[i];
        if (!ev->started && t >= ev->at_s && !fl->stopping) {
            ev->started = true;
            if (iotc_fault_is_network(ev->f.kind))
                sched__start_network(fl, ev, now_ms);
            else
                sched__start_process(fl, ev);
        }
    }
    /* Per device: faults end on their own clock. */
    for (uint32_t i = 0; i < fl->n_devs; i++) {
        struct iotc_fleet_dev *d = &fl->devs[i];
        if (d->fault.kind != IOTC_FAULT_NONE && now_ms >= d->fault_until_ms) {
            d->fault.kind = IOTC_FAULT_NONE;
            iotc_fleet_dev_apply_fault(d);
        }
    }
}
