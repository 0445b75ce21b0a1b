/* Live progress: one redrawn line on a terminal, plain periodic lines otherwise. */
#include "fleet_int.h"

#include <stdio.h>

static const char *const progress__phase[] = {"monitors", "ramp", "publish", "drain", "end"};

struct progress__sum {
    uint64_t sent, delivered, dup, outstanding;
    uint32_t reconnecting, done;
};

static void progress__sum(const struct iotc_fleet *fl, struct progress__sum *s)
{
    *s = (struct progress__sum){0};
    for (uint32_t i = 0; i < fl->n_devs; i++) {
        const struct iotc_fleet_ledger *l = &fl->ledger[i];
        const struct iotc_fleet_dev *d = &fl->devs[i];
        s->sent += l->sent;
        s->delivered += l->delivered;
        s->dup += l->dup;
        if (d->row->b.qos == 1)
            s->outstanding += l->sent - l->delivered;
        if (d->state == IOTC_FLEET_DEV_DONE && !fl->stopping)
            s->done++;
        else if (d->ever_up && d->state != IOTC_FLEET_DEV_UP && d->state != IOTC_FLEET_DEV_DONE)
            s->reconnecting++;
    }
}

void iotc_fleet_progress(struct iotc_fleet *fl, bool final)
{
    uint64_t now = iotc_clock_us();
    double interval = fl->tty ? 0.5 : fl->progress_interval_s;
    if (!fl->progress_out || (!final && (double)(now - fl->last_progress_us) / 1e6 < interval))
        return;
    if (final && !fl->tty)
        return;
    struct progress__sum s;
    progress__sum(fl, &s);
    double dt = fl->last_progress_us ? (double)(now - fl->last_progress_us) / 1e6 : 0;
    double rate = dt > 0 ? (double)(s.delivered - fl->last_sent_snapshot) / dt : 0;
    fl->last_progress_us = now;
    fl->last_sent_snapshot = s.delivered;
    double t = (double)(now - fl->t_start_us) / 1e6;
    fprintf(fl->progress_out,
            "%s[%7.1fs %-8s] connected %u/%u  reconnecting %u  gave-up %u | sent %llu  "
            "received %llu  dup %llu  outstanding %llu | %.0f msg/s%s",
            fl->tty ? "\r\033[K" : "", t, progress__phase[fl->phase], fl->up_now, fl->n_devs,
            s.reconnecting, s.done, (unsigned long long)s.sent, (unsigned long long)s.delivered,
            (unsigned long long)s.dup, (unsigned long long)s.outstanding, rate,
            fl->tty && !final ? "" : "\n");
    fflush(fl->progress_out);
}
