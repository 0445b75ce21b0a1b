/* The final summary: the same figures as text and as JSON (--json FILE). */
#include "fleet_int.h"

#include <stdio.h>
#include <string.h>

uint64_t iotc_fleet_lost(const struct iotc_fleet *fl)
{
    uint64_t lost = 0;
    for (uint32_t i = 0; i < fl->n_devs; i++)
        if (fl->devs[i].row->b.qos == 1)
            lost += fl->ledger[fl->devs[i].idx].sent - fl->ledger[fl->devs[i].idx].delivered;
    return lost;
}

uint32_t iotc_fleet_disconnected_at_end(const struct iotc_fleet *fl)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < fl->n_devs; i++) {
        const struct iotc_fleet_dev *d = &fl->devs[i];
        if (d->row->def->proto == IOTC_PROTO_HTTPS)
            n += d->state == IOTC_FLEET_DEV_DONE || d->q_len > 0;
        else
            n += d->state != IOTC_FLEET_DEV_UP;
    }
    return n;
}

static json_t *summary__causes(const uint64_t *v)
{
    json_t *o = json_object();
    for (int c = 1; c < IOTC_FLEET_CAUSE_COUNT; c++)
        if (v[c])
            json_object_set_new(o, iotc_fleet_cause_name(c), json_integer((json_int_t)v[c]));
    return o;
}

static uint64_t summary__total(const uint64_t *v)
{
    uint64_t t = 0;
    for (int c = 0; c < IOTC_FLEET_CAUSE_COUNT; c++)
        t += v[c];
    return t;
}

static json_t *summary__lat(const struct iotc_fleet_hist *h)
{
    return json_pack("{s:I, s:f, s:f, s:f}", "samples", (json_int_t)h->n, "p50_ms",
                     iotc_fleet_hist_pct_ms(h, 50), "p99_ms", iotc_fleet_hist_pct_ms(h, 99),
                     "max_ms", (double)h->max_us / 1000.0);
}

static double summary__per_dev(long after, long before, uint32_t n)
{
    if (after < 0 || before < 0 || n == 0)
        return -1;
    return (double)(after - before) / (double)n;
}

/* Why the devices of a row that never connected failed: their most frequent last cause. */
static const char *summary__never_cause(const struct iotc_fleet *fl,
                                        const struct iotc_fleet_row *row)
{
    uint32_t n[IOTC_FLEET_CAUSE_COUNT] = {0};
    int best = IOTC_FLEET_CAUSE_NONE;
    for (uint32_t i = row->lfirst; i < row->lfirst + row->lcount; i++)
        if (!fl->devs[i].ever_up && fl->devs[i].last_cause < IOTC_FLEET_CAUSE_COUNT)
            n[fl->devs[i].last_cause]++;
    for (int c = 1; c < IOTC_FLEET_CAUSE_COUNT; c++)
        if (n[c] > n[best])
            best = c;
    return best == IOTC_FLEET_CAUSE_NONE ? NULL : iotc_fleet_cause_name(best);
}

static json_t *summary__rows(const struct iotc_fleet *fl)
{
    json_t *a = json_array();
    for (size_t r = 0; r < fl->spec->n_rows; r++) {
        const struct iotc_fleet_row *row = &fl->spec->rows[r];
        uint64_t sent = 0, del = 0, dup = 0;
        uint32_t up = 0;
        /* Sharded, a row's figures are this shard's view: its publishers' sends, and what
         * reached this shard from that row's publishers; fleet-merge gives the totals. */
        for (uint32_t i = row->lfirst; i < row->lfirst + row->lcount; i++) {
            const struct iotc_fleet_ledger *l = &fl->ledger[fl->devs[i].idx];
            sent += l->sent;
            del += l->delivered;
            dup += l->dup;
            up += fl->devs[i].ever_up;
        }
        json_t *o = json_pack(
            "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "row", row->def->id, "auth",
            iotc_auth_name(row->def->auth), "devices", (json_int_t)row->lcount, "ever_connected",
            (json_int_t)up, "never_connected", (json_int_t)(row->lcount - up), "qos",
            (json_int_t)row->b.qos, "sent", (json_int_t)sent, "delivered", (json_int_t)del,
            "duplicated", (json_int_t)dup, "lost", (json_int_t)(row->b.qos == 1 ? sent - del : 0));
        const char *why = up < row->devices ? summary__never_cause(fl, row) : NULL;
        if (why)
            json_object_set_new(o, "never_connected_cause", json_string(why));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *summary__faults(const struct iotc_fleet *fl)
{
    json_t *a = json_array();
    for (size_t i = 0; i < fl->spec->n_faults; i++) {
        const struct iotc_fleet_fault_ev *f = &fl->spec->faults[i];
        json_array_append_new(a, json_pack("{s:s, s:f, s:f, s:f, s:b, s:I}", "kind",
                                           iotc_fault_name(f->f.kind), "at_s", f->at_s, "for_s",
                                           f->for_s, "fraction", f->fraction, "started", f->started,
                                           "hit", (json_int_t)f->hit));
    }
    return a;
}

/* A monotonic reading on the wall clock (ms since the epoch); 0 for a phase not reached. */
static double summary__wall(uint64_t t_us)
{
    if (!t_us)
        return 0;
    return iotc_clock_wall_ms() - (double)(iotc_clock_us() - (int64_t)t_us) / 1000.0;
}

json_t *iotc_fleet_summary_json(const struct iotc_fleet *fl)
{
    const struct iotc_fleet_counters *c = &fl->c;
    uint64_t sent = 0, del = 0, dup = 0, qos0_sent = 0, qos0_del = 0;
    for (uint32_t i = 0; i < fl->n_devs; i++) {
        const struct iotc_fleet_ledger *l = &fl->ledger[fl->devs[i].idx];
        sent += l->sent;
        del += l->delivered;
        dup += l->dup;
        if (fl->devs[i].row->b.qos == 0) {
            qos0_sent += l->sent;
            qos0_del += l->delivered;
        }
    }
    uint64_t lost = iotc_fleet_lost(fl);
    double ramp_s =
        fl->t_ramp_end_us > fl->t_start_us ? (double)(fl->t_ramp_end_us - fl->t_start_us) / 1e6 : 0;
    double pub_s = fl->t_pub_end_us > fl->t_pub_start_us
                       ? (double)(fl->t_pub_end_us - fl->t_pub_start_us) / 1e6
                       : 0;
    long broker_after = fl->broker_after_kb, broker_before = fl->broker_before_kb;
    json_t *mem = json_pack(
        "{s:i, s:i, s:f, s:i, s:i, s:i, s:i, s:f, s:f}", "fleet_rss_before_kb",
        (int)fl->rss_before_kb, "fleet_rss_kb", (int)fl->rss_after_kb, "fleet_kb_per_device",
        summary__per_dev(fl->rss_after_kb, fl->rss_before_kb, fl->n_devs), "serve_rss_before_kb",
        (int)fl->serve_before_kb, "serve_rss_kb", (int)fl->serve_after_kb, "broker_rss_before_kb",
        (int)broker_before, "broker_rss_kb", (int)broker_after, "serve_kb_per_device",
        summary__per_dev(fl->serve_after_kb, fl->serve_before_kb, fl->n_devs),
        "broker_kb_per_device", summary__per_dev(broker_after, broker_before, fl->n_devs));
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:b, s:b, s:{s:f, s:f, s:f}}", "fleet", fl->spec->name, "spec",
        fl->spec->file, "run", fl->run_tag, "target",
        fl->spec->target.kind == IOTC_FLEET_TARGET_EMULATED ? "emulated" : "external", "devices",
        (json_int_t)fl->n_devs, "interrupted", fl->interrupted, "ok",
        (lost == 0 || fl->shard.n > 1) && fl->disconnected_end == 0 && !fl->interrupted, "seconds",
        "ramp", ramp_s, "publishing", pub_s, "total",
        fl->t_end_us > fl->t_start_us ? (double)(fl->t_end_us - fl->t_start_us) / 1e6 : 0);
    json_object_set_new(o, "connect",
                        json_pack("{s:I, s:I, s:I, s:I, s:f, s:o, s:o}", "succeeded",
                                  (json_int_t)c->connects, "failed",
                                  (json_int_t)summary__total(c->connect_failures), "ever_connected",
                                  (json_int_t)fl->ever_up_n, "never_connected",
                                  (json_int_t)(fl->n_devs - fl->ever_up_n), "ramp_per_s",
                                  ramp_s > 0 ? (double)fl->ever_up_n / ramp_s : 0.0, "latency",
                                  summary__lat(&fl->connect_lat), "failures_by_cause",
                                  summary__causes(c->connect_failures)));
    json_object_set_new(
        o, "messages",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "sent", (json_int_t)sent,
                  "delivered", (json_int_t)del, "duplicated", (json_int_t)dup, "lost",
                  (json_int_t)lost, "qos0_sent", (json_int_t)qos0_sent, "qos0_undelivered",
                  (json_int_t)(qos0_sent - qos0_del), "qos0_skipped_offline",
                  (json_int_t)c->qos0_skipped, "republished", (json_int_t)c->republished,
                  "queue_dropped", (json_int_t)c->queue_dropped, "latency",
                  summary__lat(&fl->deliver_lat)));
    json_object_set_new(json_object_get(o, "messages"), "latency_after_ramp",
                        summary__lat(&fl->deliver_steady));
    json_object_set_new(o, "reconnects",
                        json_pack("{s:I, s:o, s:I, s:o}", "total",
                                  (json_int_t)summary__total(c->reconnects), "by_cause",
                                  summary__causes(c->reconnects), "disconnects",
                                  (json_int_t)summary__total(c->disconnects),
                                  "disconnects_by_cause", summary__causes(c->disconnects)));
    json_object_set_new(o, "disconnected_at_end", json_integer(fl->disconnected_end));
    if (fl->have_serve) /* kept after the run: the endpoint's side of every fault */
        json_object_set_new(o, "serve",
                            json_pack("{s:s, s:s, s:i}", "journal", fl->serve.journal, "log",
                                      fl->serve.log, "restarts", (int)fl->serve.restarts));
    json_object_set_new(o, "rows", summary__rows(fl));
    json_object_set_new(o, "faults", summary__faults(fl));
    json_object_set_new(o, "memory", mem);
    /* What fleet-merge needs: which shard this is, the fleet's layout, the ledger. A whole
     * run is shard 1/1, so it merges (and compares) like any other. */
    json_t *layout = json_array();
    for (size_t r = 0; r < fl->spec->n_rows; r++) {
        const struct iotc_fleet_row *row = &fl->spec->rows[r];
        json_array_append_new(layout,
                              json_pack("{s:s, s:I, s:I, s:I}", "row", row->def->id, "first",
                                        (json_int_t)row->first, "devices", (json_int_t)row->devices,
                                        "qos", (json_int_t)row->b.qos));
    }
    json_object_set_new(
        o, "shard",
        json_pack("{s:i, s:i, s:s, s:I, s:o, s:o}", "index", fl->shard.n ? fl->shard.k : 1, "count",
                  fl->shard.n ? fl->shard.n : 1, "spec_digest", fl->spec_digest, "devices_total",
                  (json_int_t)fl->n_global, "layout", layout, "sync", iotc_fleet_sync_json(fl)));
    json_object_set_new(o, "ledger", iotc_fleet_ledger_json(fl));
    /* What a merge of shards needs beyond the ledger: the latency histograms (merged
     * percentiles) and the phases on the wall clock (the fleet's ramp spans shards). */
    json_object_set_new(o, "histograms",
                        json_pack("{s:o, s:o, s:o}", "connect",
                                  iotc_fleet_hist_json(&fl->connect_lat), "deliver",
                                  iotc_fleet_hist_json(&fl->deliver_lat), "deliver_after_ramp",
                                  iotc_fleet_hist_json(&fl->deliver_steady)));
    json_object_set_new(o, "wall_ms",
                        json_pack("{s:f, s:f, s:f, s:f}", "start", summary__wall(fl->t_start_us),
                                  "all_connected", summary__wall(fl->t_all_up_us), "ramp_end",
                                  summary__wall(fl->t_ramp_end_us), "publishing_end",
                                  summary__wall(fl->t_pub_end_us)));
    json_object_set_new(
        o, "nofile",
        json_pack("{s:i, s:i}", "soft", (int)fl->nofile, "hard", (int)fl->nofile_hard));
    return o;
}

static void summary__causes_line(FILE *out, const char *what, json_t *o)
{
    const char *k;
    json_t *v;
    fprintf(out, "  %-22s", what);
    if (json_object_size(o) == 0)
        fprintf(out, " none");
    json_object_foreach(o, k, v)
    {
        fprintf(out, " %s=%lld", k, (long long)json_integer_value(v));
    }
    fprintf(out, "\n");
}

void iotc_fleet_summary_print(const struct iotc_fleet *fl, const json_t *sum, FILE *out)
{
    json_t *cn = json_object_get(sum, "connect"), *m = json_object_get(sum, "messages");
    json_t *rc = json_object_get(sum, "reconnects"), *mem = json_object_get(sum, "memory");
    json_t *cl = json_object_get(cn, "latency"), *ml = json_object_get(m, "latency");
#define I(o, k) ((long long)json_integer_value(json_object_get((o), (k))))
#define F(o, k) (json_number_value(json_object_get((o), (k))))
    fprintf(out, "\nfleet %s (run %s): %u devices, %s%s\n", fl->spec->name, fl->run_tag, fl->n_devs,
            json_is_true(json_object_get(sum, "ok")) ? "OK" : "NOT OK",
            fl->interrupted ? " (interrupted)" : "");
    fprintf(out,
            "  connect                %lld ok, %lld failed; latency p50 %.1f ms, p99 %.1f ms; "
            "ramp %.0f devices/s\n",
            I(cn, "succeeded"), I(cn, "failed"), F(cl, "p50_ms"), F(cl, "p99_ms"),
            F(cn, "ramp_per_s"));
    fprintf(out,
            "  messages               sent %lld, delivered %lld, duplicated %lld, lost %lld "
            "(QoS 0 undelivered %lld)\n",
            I(m, "sent"), I(m, "delivered"), I(m, "duplicated"), I(m, "lost"),
            I(m, "qos0_undelivered"));
    json_t *sl = json_object_get(m, "latency_after_ramp");
    fprintf(out,
            "  publish->delivery      p50 %.1f ms, p99 %.1f ms, max %.1f ms "
            "(after the ramp: p50 %.1f ms, p99 %.1f ms)\n",
            F(ml, "p50_ms"), F(ml, "p99_ms"), F(ml, "max_ms"), F(sl, "p50_ms"), F(sl, "p99_ms"));
    fprintf(out, "  reconnects             %lld (disconnects %lld)\n", I(rc, "total"),
            I(rc, "disconnects"));
    summary__causes_line(out, "reconnects by cause", json_object_get(rc, "by_cause"));
    summary__causes_line(out, "connect failures", json_object_get(cn, "failures_by_cause"));
    if (fl->shard.n > 1)
        fprintf(out,
                "  shard %d/%d              delivered/lost above are this shard's view (its\n"
                "                         receivers, its publishers): iotconform fleet-merge of\n"
                "                         every shard's --json gives the fleet's totals\n",
                fl->shard.k, fl->shard.n);
    fprintf(out, "  disconnected at end    %lld\n", I(sum, "disconnected_at_end"));
    fprintf(out, "  never connected        %lld\n", I(cn, "never_connected"));
    fprintf(out, "  memory per device      fleet %.1f KB, serve %.1f KB, broker %.1f KB\n",
            F(mem, "fleet_kb_per_device"), F(mem, "serve_kb_per_device"),
            F(mem, "broker_kb_per_device"));
    json_t *rows = json_object_get(sum, "rows"), *r;
    size_t i;
    json_array_foreach(rows, i, r)
    {
        fprintf(out, "  row %-18s devices %lld, sent %lld, delivered %lld, dup %lld, lost %lld",
                json_string_value(json_object_get(r, "row")), I(r, "devices"), I(r, "sent"),
                I(r, "delivered"), I(r, "duplicated"), I(r, "lost"));
        if (I(r, "never_connected") > 0)
            fprintf(out, ", NEVER CONNECTED %lld (%s)", I(r, "never_connected"),
                    json_string_value(json_object_get(r, "never_connected_cause"))
                        ? json_string_value(json_object_get(r, "never_connected_cause"))
                        : "no attempt finished");
        fprintf(out, "\n");
    }
#undef I
#undef F
}
