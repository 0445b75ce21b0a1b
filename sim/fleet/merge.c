/*
 * `iotconform fleet-merge SHARD.json...`: exact totals of a sharded fleet run.
 *
 * Each shard's summary (fleet --json) carries its place (shard.index/count, the spec's
 * digest, the run tag, the fleet's row layout) and its ledger: how many messages each of
 * its devices published, and which (publisher, seq) pairs reached it, as seq ranges per
 * publisher. The merge unions the ranges per publisher across shards, so a message
 * published on one shard and delivered on another counts once, a message delivered on
 * two shards counts as a duplicate, and a QoS 1 message delivered nowhere is lost. A
 * whole run's summary is shard 1/1 and merges the same way, which is how a sharded run
 * is compared with the whole one. Shards of different runs or specs, a shard given twice
 * and a missing shard are refused: totals from an incomplete set would look exact.
 */
#include "cli/commands.h"
#include "fleet_int.h"
#include "common/err.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

struct merge__row {
    const char *id;
    uint32_t first, devices;
    int qos;
    uint64_t sent, delivered, dup, cross;
};

struct merge {
    json_t **sum;
    const char **file;
    int n_files, count;
    uint32_t devices;
    int *owner;                            /* by device: shard index that ran it */
    uint64_t *sent;                        /* by device */
    struct iotc_fleet_ledger *all, *cross; /* by device: seen anywhere / on a non-owner shard */
    uint64_t *dup;                         /* by device: duplicates within shards */
    struct merge__row rows[IOTC_FLEET_MAX_ROWS];
    size_t n_rows;
};

static const char *merge__str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Same fleet, run, spec and count as the first file; each index once. */
static int merge__check(struct merge *m, int i, iotc_errtext *err)
{
    json_t *s = m->sum[i], *sh = json_object_get(s, "shard"), *first = m->sum[0];
    json_t *fsh = json_object_get(first, "shard");
    if (!json_is_object(sh) ||
        !json_is_array(json_object_get(json_object_get(s, "ledger"), "sent"))) {
        iotc_errtext_set(err, 0,
                         "%s: not a fleet summary with a ledger (fleet --json of this version)",
                         m->file[i]);
        return IOTC_ERR_INVALID;
    }
    int k = (int)json_integer_value(json_object_get(sh, "index"));
    int n = (int)json_integer_value(json_object_get(sh, "count"));
    if (i == 0) {
        m->count = n;
        m->devices = (uint32_t)json_integer_value(json_object_get(sh, "devices_total"));
    }
    if (n != m->count || strcmp(merge__str(sh, "spec_digest"), merge__str(fsh, "spec_digest")) ||
        strcmp(merge__str(s, "run"), merge__str(first, "run")) ||
        (uint32_t)json_integer_value(json_object_get(sh, "devices_total")) != m->devices) {
        iotc_errtext_set(
            err, 0,
            "%s (shard %d/%d, run %s) is not a shard of the same run as %s (shard %d/%d, "
            "run %s): different run tag, spec or shard count",
            m->file[i], k, n, merge__str(s, "run"), m->file[0],
            (int)json_integer_value(json_object_get(fsh, "index")), m->count,
            merge__str(first, "run"));
        return IOTC_ERR_INVALID;
    }
    if (k < 1 || k > n) {
        iotc_errtext_set(err, 0, "%s: shard index %d outside 1..%d", m->file[i], k, n);
        return IOTC_ERR_INVALID;
    }
    for (int j = 0; j < i; j++)
        if (json_integer_value(json_object_get(json_object_get(m->sum[j], "shard"), "index")) ==
            k) {
            iotc_errtext_set(err, 0, "shard %d/%d given twice (%s and %s)", k, n, m->file[j],
                             m->file[i]);
            return IOTC_ERR_INVALID;
        }
    return IOTC_OK;
}

static int merge__layout(struct merge *m, iotc_errtext *err)
{
    json_t *lay = json_object_get(json_object_get(m->sum[0], "shard"), "layout"), *r;
    size_t i;
    if (!json_is_array(lay) || json_array_size(lay) > IOTC_FLEET_MAX_ROWS) {
        iotc_errtext_set(err, 0, "%s: shard.layout missing", m->file[0]);
        return IOTC_ERR_INVALID;
    }
    json_array_foreach(lay, i, r)
    {
        struct merge__row *row = &m->rows[m->n_rows++];
        row->id = merge__str(r, "row");
        row->first = (uint32_t)json_integer_value(json_object_get(r, "first"));
        row->devices = (uint32_t)json_integer_value(json_object_get(r, "devices"));
        row->qos = (int)json_integer_value(json_object_get(r, "qos"));
        if ((uint64_t)row->first + row->devices > m->devices) {
            iotc_errtext_set(err, 0, "%s: shard.layout row %s outside the fleet", m->file[0],
                             row->id);
            return IOTC_ERR_INVALID;
        }
    }
    return IOTC_OK;
}

/* One shard's ledger into the merged one. */
static int merge__ledger(struct merge *m, int i, iotc_errtext *err)
{
    json_t *led = json_object_get(m->sum[i], "ledger"), *e;
    int k = (int)json_integer_value(json_object_get(json_object_get(m->sum[i], "shard"), "index"));
    size_t j;
    json_array_foreach(json_object_get(led, "sent"), j, e)
    {
        json_int_t g = json_integer_value(json_array_get(e, 0));
        if (g < 0 || g >= (json_int_t)m->devices || m->owner[g]) {
            iotc_errtext_set(err, 0, "%s: device %lld %s", m->file[i], (long long)g,
                             g < 0 || g >= (json_int_t)m->devices ? "outside the fleet"
                                                                  : "also ran on another shard");
            return IOTC_ERR_INVALID;
        }
        m->owner[g] = k;
        m->sent[g] = (uint64_t)json_integer_value(json_array_get(e, 1));
    }
    return IOTC_OK;
}

static int merge__seen(struct merge *m, int i, iotc_errtext *err)
{
    json_t *led = json_object_get(m->sum[i], "ledger"), *e;
    int k = (int)json_integer_value(json_object_get(json_object_get(m->sum[i], "shard"), "index"));
    size_t j;
    json_array_foreach(json_object_get(led, "seen"), j, e)
    {
        json_int_t g = json_integer_value(json_array_get(e, 0));
        json_t *rg = json_array_get(e, 2);
        if (g < 0 || g >= (json_int_t)m->devices || !json_is_array(rg) || json_array_size(rg) % 2) {
            iotc_errtext_set(err, 0, "%s: ledger.seen[%zu] malformed", m->file[i], j);
            return IOTC_ERR_INVALID;
        }
        m->dup[g] += (uint64_t)json_integer_value(json_array_get(e, 1));
        for (size_t r = 0; r < json_array_size(rg); r += 2) {
            json_int_t lo = json_integer_value(json_array_get(rg, r));
            json_int_t hi = json_integer_value(json_array_get(rg, r + 1));
            if (lo < 0 || hi < lo || hi >= (1 << 26)) {
                iotc_errtext_set(err, 0, "%s: ledger.seen[%zu] bad range", m->file[i], j);
                return IOTC_ERR_INVALID;
            }
            /* sequence numbers start at 0 and the owner counts each one it sent: a shard
             * that saw more than that is not a summary of this fleet (forged or mixed) */
            if ((uint64_t)hi >= m->sent[g]) {
                iotc_errtext_set(err, 0,
                                 "%s: ledger.seen[%zu] has device %lld's message %lld, but its "
                                 "shard sent only %llu",
                                 m->file[i], j, (long long)g, (long long)hi,
                                 (unsigned long long)m->sent[g]);
                return IOTC_ERR_INVALID;
            }
            for (json_int_t s = lo; s <= hi; s++) {
                if (iotc_fleet_ledger_mark(&m->all[g], (uint32_t)s) < 0 ||
                    (k != m->owner[g] && iotc_fleet_ledger_mark(&m->cross[g], (uint32_t)s) < 0))
                    return IOTC_ERR_NOMEM;
            }
        }
    }
    return IOTC_OK;
}

static json_t *merge__lat(const struct iotc_fleet_hist *h)
{
    return json_pack("{s:I, s:f, s:f, s:f}", "samples", (json_int_t)h->n, "p50_ms",
                     iotc_fleet_hist_pct_ms(h, 50), "p99_ms", iotc_fleet_hist_pct_ms(h, 99),
                     "max_ms", (double)h->max_us / 1000.0);
}

/* Latency from the shards' histograms added bucket by bucket, the ramp on the wall clock
 * (first shard's start to the last shard's "all connected"), each shard's own memory.
 * Summaries of a version without histograms merge without these. */
static void merge__timing(struct merge *m, json_t *o)
{
    static const char *const names[3] = {"connect", "deliver", "deliver_after_ramp"};
    struct iotc_fleet_hist *h = calloc(3, sizeof *h);
    double start = 0, up = 0;
    bool ok = h != NULL, all_up = true;
    long long ever = 0;
    json_t *procs = json_array();
    for (int i = 0; ok && i < m->n_files; i++) {
        json_t *s = m->sum[i], *hs = json_object_get(s, "histograms");
        json_t *w = json_object_get(s, "wall_ms"), *mem = json_object_get(s, "memory");
        for (int k = 0; ok && k < 3; k++)
            ok = iotc_fleet_hist_add_json(&h[k], json_object_get(hs, names[k])) == IOTC_OK;
        double st = json_number_value(json_object_get(w, "start"));
        double au = json_number_value(json_object_get(w, "all_connected"));
        double re = json_number_value(json_object_get(w, "ramp_end"));
        if (st > 0 && (start == 0 || st < start))
            start = st;
        all_up = all_up && au > 0;
        if ((au > 0 ? au : re) > up)
            up = au > 0 ? au : re;
        ever +=
            json_integer_value(json_object_get(json_object_get(s, "connect"), "ever_connected"));
        json_array_append_new(
            procs,
            json_pack(
                "{s:I, s:I, s:I, s:I, s:f}", "shard",
                json_integer_value(json_object_get(json_object_get(s, "shard"), "index")),
                "devices", json_integer_value(json_object_get(s, "devices")), "fleet_rss_kb",
                json_integer_value(json_object_get(mem, "fleet_rss_kb")), "fleet_rss_before_kb",
                json_integer_value(json_object_get(mem, "fleet_rss_before_kb")),
                "publishing_end_ms", json_number_value(json_object_get(w, "publishing_end"))));
    }
    if (ok) {
        double secs = up > start && start > 0 ? (up - start) / 1000.0 : 0;
        json_object_set_new(o, "latency",
                            json_pack("{s:o, s:o, s:o}", "connect", merge__lat(&h[0]), "deliver",
                                      merge__lat(&h[1]), "deliver_after_ramp", merge__lat(&h[2])));
        json_object_set_new(o, "ramp",
                            json_pack("{s:f, s:I, s:f, s:b}", "seconds", secs, "ever_connected",
                                      (json_int_t)ever, "devices_per_s",
                                      secs > 0 ? (double)ever / secs : 0.0, "all_connected",
                                      all_up));
        json_object_set_new(o, "fleet_processes", procs);
    } else {
        json_decref(procs);
    }
    free(h);
}

static json_t *merge__result(struct merge *m)
{
    json_t *rows = json_array(), *files = json_array();
    uint64_t sent = 0, del = 0, dup = 0, lost = 0, cross = 0, q0s = 0, q0d = 0;
    long long ever = 0, never = 0, disc = 0;
    bool interrupted = false, released = true;
    for (int i = 0; i < m->n_files; i++) {
        json_t *s = m->sum[i], *cn = json_object_get(s, "connect");
        json_t *sync = json_object_get(json_object_get(s, "shard"), "sync");
        ever += json_integer_value(json_object_get(cn, "ever_connected"));
        never += json_integer_value(json_object_get(cn, "never_connected"));
        disc += json_integer_value(json_object_get(s, "disconnected_at_end"));
        interrupted = interrupted || json_is_true(json_object_get(s, "interrupted"));
        released =
            released && (!json_is_object(sync) || json_is_true(json_object_get(sync, "released")));
        json_array_append_new(files, json_string(m->file[i]));
    }
    for (size_t r = 0; r < m->n_rows; r++) {
        struct merge__row *row = &m->rows[r];
        for (uint32_t g = row->first; g < row->first + row->devices; g++) {
            row->sent += m->sent[g];
            row->delivered += m->all[g].delivered;
            row->dup += m->all[g].dup + m->dup[g];
            row->cross += m->cross[g].delivered;
        }
        uint64_t rl = row->qos == 1 && row->sent > row->delivered ? row->sent - row->delivered : 0;
        sent += row->sent;
        del += row->delivered;
        dup += row->dup;
        lost += rl;
        cross += row->cross;
        if (row->qos == 0) {
            q0s += row->sent;
            q0d += row->delivered;
        }
        json_array_append_new(rows, json_pack("{s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I}", "row",
                                              row->id, "devices", (int)row->devices, "qos",
                                              row->qos, "sent", (json_int_t)row->sent, "delivered",
                                              (json_int_t)row->delivered, "duplicated",
                                              (json_int_t)row->dup, "lost", (json_int_t)rl,
                                              "cross_shard_delivered", (json_int_t)row->cross));
    }
    bool ok = lost == 0 && disc == 0 && !interrupted && released;
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:i, s:I, s:b, s:b, s:o}", "fleet", merge__str(m->sum[0], "fleet"), "run",
        merge__str(m->sum[0], "run"), "spec_digest",
        merge__str(json_object_get(m->sum[0], "shard"), "spec_digest"), "shards", m->count,
        "devices", (json_int_t)m->devices, "ok", ok, "interrupted", interrupted, "files", files);
    json_object_set_new(o, "messages",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "sent", (json_int_t)sent,
                                  "delivered", (json_int_t)del, "duplicated", (json_int_t)dup,
                                  "lost", (json_int_t)lost, "qos0_sent", (json_int_t)q0s,
                                  "qos0_undelivered", (json_int_t)(q0s - q0d),
                                  "cross_shard_delivered", (json_int_t)cross));
    json_object_set_new(o, "connect",
                        json_pack("{s:I, s:I}", "ever_connected", (json_int_t)ever,
                                  "never_connected", (json_int_t)never));
    json_object_set_new(o, "disconnected_at_end", json_integer(disc));
    json_object_set_new(o, "all_shards_started_together", json_boolean(released));
    json_object_set_new(o, "rows", rows);
    merge__timing(m, o);
    return o;
}

static void merge__print(json_t *o, FILE *out)
{
    json_t *msg = json_object_get(o, "messages"), *r;
    size_t i;
#define I(x, k) ((long long)json_integer_value(json_object_get((x), (k))))
    fprintf(out, "fleet %s (run %s): %lld shards, %lld devices, %s\n", merge__str(o, "fleet"),
            merge__str(o, "run"), I(o, "shards"), I(o, "devices"),
            json_is_true(json_object_get(o, "ok")) ? "OK" : "NOT OK");
    fprintf(out,
            "  messages  sent %lld, delivered %lld (on another shard %lld), duplicated %lld, "
            "lost %lld (QoS 0 undelivered %lld)\n",
            I(msg, "sent"), I(msg, "delivered"), I(msg, "cross_shard_delivered"),
            I(msg, "duplicated"), I(msg, "lost"), I(msg, "qos0_undelivered"));
    fprintf(out, "  disconnected at end %lld%s\n", I(o, "disconnected_at_end"),
            json_is_true(json_object_get(o, "all_shards_started_together"))
                ? ""
                : "; NOT every shard was ready when publishing started");
    json_array_foreach(json_object_get(o, "rows"), i, r)
    {
        fprintf(out,
                "  row %-18s devices %lld, sent %lld, delivered %lld (cross-shard %lld), "
                "dup %lld, lost %lld\n",
                merge__str(r, "row"), I(r, "devices"), I(r, "sent"), I(r, "delivered"),
                I(r, "cross_shard_delivered"), I(r, "duplicated"), I(r, "lost"));
    }
    json_t *lat = json_object_get(o, "latency"), *ramp = json_object_get(o, "ramp");
    if (lat) {
        json_t *cl = json_object_get(lat, "connect"),
               *sl = json_object_get(lat, "deliver_after_ramp");
        json_t *dl = json_object_get(lat, "deliver");
#define F(x, k) (json_number_value(json_object_get((x), (k))))
        fprintf(out,
                "  connect   ramp %.1f s, %.0f devices/s%s; connect latency p50 %.1f ms, p99 "
                "%.1f ms\n",
                F(ramp, "seconds"), F(ramp, "devices_per_s"),
                json_is_true(json_object_get(ramp, "all_connected")) ? "" : " (not every device)",
                F(cl, "p50_ms"), F(cl, "p99_ms"));
        fprintf(out,
                "  publish->delivery p50 %.1f ms, p99 %.1f ms, max %.1f ms (after the ramp: "
                "p50 %.1f ms, p99 %.1f ms, %lld samples)\n",
                F(dl, "p50_ms"), F(dl, "p99_ms"), F(dl, "max_ms"), F(sl, "p50_ms"), F(sl, "p99_ms"),
                I(sl, "samples"));
#undef F
    }
#undef I
}

static int merge__run(struct merge *m, json_t **result, iotc_errtext *err)
{
    int rc;
    json_error_t je;
    for (int i = 0; i < m->n_files; i++) {
        m->sum[i] = json_load_file(m->file[i], 0, &je);
        if (!m->sum[i]) {
            iotc_errtext_set(err, 0, "%s: %s (line %d)", m->file[i], je.text, je.line);
            return IOTC_ERR_INVALID;
        }
        if ((rc = merge__check(m, i, err)))
            return rc;
    }
    for (int k = 1; k <= m->count; k++) {
        bool found = false;
        for (int i = 0; i < m->n_files && !found; i++)
            found = json_integer_value(
                        json_object_get(json_object_get(m->sum[i], "shard"), "index")) == k;
        if (!found) {
            iotc_errtext_set(err, 0, "shard %d/%d is missing: the totals would not be the fleet's",
                             k, m->count);
            return IOTC_ERR_INVALID;
        }
    }
    if (m->devices == 0 || m->devices > IOTC_FLEET_MAX_DEVICES) {
        iotc_errtext_set(err, 0, "%s: shard.devices_total out of range", m->file[0]);
        return IOTC_ERR_INVALID;
    }
    m->owner = calloc(m->devices, sizeof *m->owner);
    m->sent = calloc(m->devices, sizeof *m->sent);
    m->dup = calloc(m->devices, sizeof *m->dup);
    m->all = calloc(m->devices, sizeof *m->all);
    m->cross = calloc(m->devices, sizeof *m->cross);
    if (!m->owner || !m->sent || !m->dup || !m->all || !m->cross)
        return IOTC_ERR_NOMEM;
    if ((rc = merge__layout(m, err)))
        return rc;
    for (int i = 0; i < m->n_files; i++)
        if ((rc = merge__ledger(m, i, err)))
            return rc;
    for (uint32_t g = 0; g < m->devices; g++)
        if (!m->owner[g]) {
            iotc_errtext_set(err, 0, "device %u ran on no shard", g);
            return IOTC_ERR_INVALID;
        }
    for (int i = 0; i < m->n_files; i++)
        if ((rc = merge__seen(m, i, err)))
            return rc;
    *result = merge__result(m);
    return *result ? IOTC_OK : IOTC_ERR_NOMEM;
}

int iotc_fleet_merge_files(int n, const char **files, json_t **out, iotc_errtext *err)
{
    struct merge m = {.n_files = n, .file = files};
    json_t *res = NULL;
    m.sum = calloc((size_t)m.n_files, sizeof *m.sum);
    int rc = m.sum ? merge__run(&m, &res, err) : IOTC_ERR_NOMEM;
    for (int i = 0; m.sum && i < m.n_files; i++)
        json_decref(m.sum[i]);
    for (uint32_t g = 0; m.all && g < m.devices; g++)
        iotc_fleet_ledger_free(&m.all[g]);
    for (uint32_t g = 0; m.cross && g < m.devices; g++)
        iotc_fleet_ledger_free(&m.cross[g]);
    free(m.sum);
    free(m.owner);
    free(m.sent);
    free(m.dup);
    free(m.all);
    free(m.cross);
    *out = rc == IOTC_OK ? res : NULL;
    if (rc != IOTC_OK)
        json_decref(res);
    return rc;
}

void iotc_fleet_merge_print(json_t *merged, FILE *out)
{
    merge__print(merged, out);
}

int iotc_fleet_merge_main(int argc, char **argv)
{
    static const struct option opts[] = {{"json", required_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *json_out = NULL;
    int c, status = 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') {
            json_out = optarg;
        } else {
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: iotconform fleet-merge [--json OUT] SHARD.json...\n"
                    "\n"
                    "Merges the --json summaries of `iotconform fleet --shard K/N` (every shard\n"
                    "exactly once) into the fleet's totals: sent, delivered (incl. on another\n"
                    "shard), duplicated and lost per row; latency percentiles from the shards'\n"
                    "histograms added together; the ramp from the first shard's start to the\n"
                    "last shard's last connect.\n"
                    "Exit status: 0 nothing lost and every device connected at the end, 1\n"
                    "otherwise, 2 for missing, duplicated or foreign shards, or a shard that\n"
                    "saw messages its fleet never sent.\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "iotconform fleet-merge: no shard summaries given\n");
        return 2;
    }
    iotc_errtext err = {0};
    json_t *res = NULL;
    int rc = iotc_fleet_merge_files(argc - optind, (const char **)&argv[optind], &res, &err);
    if (rc != IOTC_OK) {
        fprintf(stderr, "iotconform fleet-merge: %s\n", err.msg[0] ? err.msg : iotc_strerror(rc));
        return 2;
    }
    merge__print(res, stdout);
    status = json_is_true(json_object_get(res, "ok")) ? 0 : 1;
    if (json_out && json_dump_file(res, json_out, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
        fprintf(stderr, "iotconform fleet-merge: cannot write %s\n", json_out);
        status = 2;
    }
    json_decref(res);
    return status;
}
