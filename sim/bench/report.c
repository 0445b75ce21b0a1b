/*
 * The results: a table for people, one column per `serve --workers K` and one for
 * mosquitto's own TLS listener, goal and PASS/MISS per figure; and bench.json.
 */
#include "bench.h"
#include "common/err.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define REPORT_SKIPPED "skipped"
#define REPORT_COLS    (IOTC_BENCH_MAX_RUNS + 1)
#define REPORT_CELL    24

typedef char report_cell[REPORT_CELL];

static bool report__skipped(const char *error)
{
    return strncmp(error, REPORT_SKIPPED, strlen(REPORT_SKIPPED)) == 0;
}

static const char *report__verdict(bool ok, bool pass, const char *error)
{
    if (!ok)
        return report__skipped(error) ? "SKIP" : "ERROR";
    return pass ? "PASS" : "MISS";
}

/* One row: the figure, a cell per worker count, mosquitto's cell, the goal. */
static void report__row(const struct iotc_bench_report *r, const char *figure,
                        report_cell cells[REPORT_COLS], const char *goal)
{
    printf("  %-34s", figure);
    for (int i = 0; i <= r->nruns; i++)
        printf(" %-17s", cells[i]);
    printf(" %s\n", goal);
}

static void report__header(const struct iotc_bench_report *r)
{
    report_cell cells[REPORT_COLS];
    for (int i = 0; i < r->nruns; i++)
        snprintf(cells[i], REPORT_CELL, "serve -w %d", r->runs[i].workers);
    snprintf(cells[r->nruns], REPORT_CELL, "mosquitto TLS");
    report__row(r, "figure", cells, "goal");
}

/* A figure's cell: "-" when it did not run, else the value with the verdict when a goal
 * applies (has_goal). */
static void report__cell(char *cell, bool ok, const char *error, int decimals, const char *unit,
                         double v, bool has_goal, bool pass)
{
    char num[REPORT_CELL - 6];
    if (!ok) {
        /* "-": the figure does not exist for that column */
        snprintf(cell, REPORT_CELL, "%s",
                 strcmp(error, "-") == 0 ? "-" : report__verdict(false, false, error));
        return;
    }
    snprintf(num, sizeof num, "%.*f%s", decimals, v, unit);
    if (has_goal)
        snprintf(cell, REPORT_CELL, "%s %s", num, pass ? "PASS" : "MISS");
    else
        snprintf(cell, REPORT_CELL, "%s", num);
}

static bool report__ratio(const struct iotc_bench_report *r, const struct iotc_bench_run *run,
                          double *ratio)
{
    bool ok = run->load.ok && r->load_mosq.ok && r->load_mosq.msgs_per_s > 0;
    *ratio = ok ? run->load.msgs_per_s / r->load_mosq.msgs_per_s : 0;
    return ok;
}

static double report__hs_n(const struct iotc_bench_hs_result *h)
{
    return h->completed ? (double)h->completed : 1;
}

/* Rate the machine would reach with both cores free for client and server. */
static double report__hs_capacity(const struct iotc_bench_hs_result *h)
{
    double per = (h->cpu.client + h->cpu.serve) / report__hs_n(h);
    return per > 0 ? 2.0 / per : 0;
}

static bool report__hs_server_pass(const struct iotc_bench_hs_result *h)
{
    return h->ok && h->cpu.serve * 1e3 / report__hs_n(h) <= IOTC_BENCH_GOAL_HS_CPU_MS;
}

static bool report__hs_client_pass(const struct iotc_bench_hs_result *h)
{
    return h->ok && h->cpu.client * 1e3 / report__hs_n(h) <= IOTC_BENCH_GOAL_HS_CPU_MS;
}

static bool report__hs_cpu_pass(const struct iotc_bench_hs_result *h)
{
    return report__hs_server_pass(h) && report__hs_client_pass(h);
}

static bool report__mem_pass(const struct iotc_bench_mem_result *m)
{
    return m->ok && m->total_kb <= IOTC_BENCH_GOAL_MEM_KB;
}

static void report__throughput(const struct iotc_bench_report *r)
{
    report_cell c[REPORT_COLS];
    char goal[32];
    printf("Throughput: QoS 0, %zu B payload, %d publishers -> %d subscribers of bench/<tag>/+ "
           "(fan-out x%d),\n  deliveries counted at the subscribers over %.1f s after %.1f s "
           "warm-up, TLS 1.3\n",
           r->load_cfg.payload, r->load_cfg.publishers, r->load_cfg.subscribers,
           r->load_cfg.subscribers, r->load_cfg.measure_s, r->load_cfg.warmup_s);
    const struct iotc_bench_load_result *l[REPORT_COLS];
    for (int i = 0; i < r->nruns; i++)
        l[i] = &r->runs[i].load;
    l[r->nruns] = &r->load_mosq;
    for (int i = 0; i <= r->nruns; i++)
        report__cell(c[i], l[i]->ok, l[i]->error, 0, "", l[i]->msgs_per_s, false, false);
    report__row(r, "deliveries /s", c, "");
    for (int i = 0; i < r->nruns; i++) {
        double ratio = 0;
        bool ok = report__ratio(r, &r->runs[i], &ratio);
        report__cell(c[i], ok, l[i]->ok ? r->load_mosq.error : l[i]->error, 2, " x", ratio, true,
                     ratio >= IOTC_BENCH_GOAL_RATIO);
    }
    snprintf(c[r->nruns], REPORT_CELL, "1");
    snprintf(goal, sizeof goal, ">= %.2f x", IOTC_BENCH_GOAL_RATIO);
    report__row(r, "ratio to mosquitto", c, goal);
    /* CPU per delivery is what the paths cost, whatever else ran on the machine. */
    for (int i = 0; i <= r->nruns; i++) {
        double d = l[i]->delivered ? (double)l[i]->delivered : 1;
        report__cell(c[i], l[i]->ok, l[i]->error, 2, "",
                     (l[i]->cpu.serve + l[i]->cpu.broker) * 1e6 / d, false, false);
    }
    report__row(r, "server CPU per delivery, us", c, "");
    for (int i = 0; i <= r->nruns; i++) {
        double d = l[i]->delivered ? (double)l[i]->delivered : 1;
        report__cell(c[i], l[i]->ok, l[i]->error, 2, "", l[i]->cpu.client * 1e6 / d, false, false);
    }
    report__row(r, "client CPU per delivery, us", c, "");
    for (int i = 0; i <= r->nruns; i++)
        report__cell(c[i], l[i]->ok, l[i]->error, 2, "", l[i]->loadavg, false, false);
    report__row(r, "load average", c, "");
    for (int i = 0; i <= r->nruns; i++)
        if (l[i]->ok && l[i]->lost)
            printf("    note: column %d: %llu deliveries lost over the whole run\n", i + 1,
                   (unsigned long long)l[i]->lost);
}

/* Rows of one TLS version; mosquitto's column is measured for TLS 1.3 only. */
static void report__hs_rows(const struct iotc_bench_report *r, const char *name, bool v13)
{
    report_cell c[REPORT_COLS];
    char figure[64], goal[32];
    const struct iotc_bench_hs_result *h[REPORT_COLS];
    static const struct iotc_bench_hs_result none = {.error = "-"};
    for (int i = 0; i < r->nruns; i++)
        h[i] = v13 ? &r->runs[i].hs13 : &r->runs[i].hs12;
    h[r->nruns] = v13 ? &r->hs13_mosq : &none;
    /* mosquitto is the reference: its cells carry no verdict. */
    for (int i = 0; i <= r->nruns; i++)
        report__cell(c[i], h[i]->ok, h[i]->error, 0, "", h[i]->per_s, i < r->nruns,
                     h[i]->per_s >= IOTC_BENCH_GOAL_HS);
    snprintf(figure, sizeof figure, "%s handshakes /s", name);
    snprintf(goal, sizeof goal, ">= %.0f /s", IOTC_BENCH_GOAL_HS);
    report__row(r, figure, c, goal);
    snprintf(goal, sizeof goal, "<= %.2f ms", IOTC_BENCH_GOAL_HS_CPU_MS);
    for (int i = 0; i <= r->nruns; i++)
        report__cell(c[i], h[i]->ok, h[i]->error, 3, "", h[i]->cpu.serve * 1e3 / report__hs_n(h[i]),
                     i < r->nruns, report__hs_server_pass(h[i]));
    report__row(r, "  server CPU per handshake, ms", c, goal);
    for (int i = 0; i <= r->nruns; i++)
        report__cell(c[i], h[i]->ok, h[i]->error, 3, "",
                     h[i]->cpu.client * 1e3 / report__hs_n(h[i]), i < r->nruns,
                     report__hs_client_pass(h[i]));
    report__row(r, "  client CPU per handshake, ms", c, goal);
    for (int i = 0; i <= r->nruns; i++)
        report__cell(c[i], h[i]->ok, h[i]->error, 0, "", report__hs_capacity(h[i]), false, false);
    report__row(r, "  with 2 idle cores, /s", c, "");
    for (int i = 0; i <= r->nruns; i++)
        report__cell(c[i], h[i]->ok, h[i]->error, 2, "", h[i]->loadavg, false, false);
    report__row(r, "  load average", c, "");
    for (int i = 0; i <= r->nruns; i++)
        if (h[i]->ok && h[i]->failed)
            printf("    note: column %d: %llu failed: %s\n", i + 1,
                   (unsigned long long)h[i]->failed, h[i]->error);
}

static void report__memory(const struct iotc_bench_report *r)
{
    report_cell c[REPORT_COLS];
    char goal[32];
    const struct iotc_bench_mem_result *m[REPORT_COLS];
    for (int i = 0; i < r->nruns; i++)
        m[i] = &r->runs[i].mem;
    m[r->nruns] = &r->mem_mosq;
    printf("Memory: growth / %d idle devices (TLS 1.3 + CONNECT/CONNACK, keep-alive 1200 s); "
           "front door: Pss summed over its processes (shared pages once), brokers: VmRSS\n",
           r->mem_cfg.devices);
    for (int i = 0; i <= r->nruns; i++)
        report__cell(c[i], m[i]->ok && i < r->nruns, i < r->nruns ? m[i]->error : "-", 1, " KB",
                     m[i]->serve_kb, false, false);
    report__row(r, "front door per device", c, "");
    for (int i = 0; i <= r->nruns; i++)
        report__cell(c[i], m[i]->ok, m[i]->error, 1, " KB", m[i]->broker_kb, false, false);
    report__row(r, "broker per device", c, "");
    snprintf(goal, sizeof goal, "<= %.0f KB", IOTC_BENCH_GOAL_MEM_KB);
    for (int i = 0; i <= r->nruns; i++)
        report__cell(c[i], m[i]->ok, m[i]->error, 1, " KB", m[i]->total_kb, i < r->nruns,
                     report__mem_pass(m[i]));
    report__row(r, "together per device", c, goal);
    for (int i = 0; i <= r->nruns; i++)
        report__cell(c[i], m[i]->ok, m[i]->error, 1, " s", m[i]->setup_s, false, false);
    report__row(r, "time to connect them", c, "");
    for (int i = 0; i <= r->nruns; i++)
        if (m[i]->ok && m[i]->connected < r->mem_cfg.devices)
            printf("    note: column %d: %d of %d devices connected: %s\n", i + 1, m[i]->connected,
                   r->mem_cfg.devices, m[i]->error);
}

/* Error texts once, under the table, by column. */
static void report__errors(const char *col, const char *what, bool ok, const char *error)
{
    if (!ok && error[0] && !report__skipped(error))
        printf("  error: %s, %s: %s\n", col, what, error);
}

static void report__all_errors(const struct iotc_bench_report *r)
{
    char col[32];
    for (int i = 0; i < r->nruns; i++) {
        const struct iotc_bench_run *run = &r->runs[i];
        snprintf(col, sizeof col, "serve -w %d", run->workers);
        report__errors(col, "throughput", run->load.ok, run->load.error);
        report__errors(col, "TLS 1.3 handshakes", run->hs13.ok, run->hs13.error);
        report__errors(col, "TLS 1.2 handshakes", run->hs12.ok, run->hs12.error);
        report__errors(col, "memory", run->mem.ok, run->mem.error);
    }
    report__errors("mosquitto", "throughput", r->load_mosq.ok, r->load_mosq.error);
    report__errors("mosquitto", "TLS 1.3 handshakes", r->hs13_mosq.ok, r->hs13_mosq.error);
    report__errors("mosquitto", "memory", r->mem_mosq.ok, r->mem_mosq.error);
}

static void report__qos1(const struct iotc_bench_report *r)
{
    printf("QoS 1 acknowledged (serve -w %d): %d publishers x %zu in flight, 64 B, an offline "
           "persistent subscriber (every message stored), %.1f s after %.1f s warm-up\n",
           r->qos1_workers, r->qos1_cfg.publishers, r->qos1_cfg.window, r->qos1_cfg.measure_s,
           r->qos1_cfg.warmup_s);
    const struct iotc_bench_qos1_result *q[2] = {&r->qos1_durable, &r->qos1_fast};
    const char *qn[2] = {"durable: PUBACK once stored (qos1_durable 1)",
                         "saved every second (qos1_durable 0)"};
    for (int i = 0; i < 2; i++) {
        if (q[i]->ok)
            printf("  %-46s %12.0f acks/s\n", qn[i], q[i]->acks_per_s);
        else
            printf("  %-46s %12s%s%s\n", qn[i], report__verdict(false, false, q[i]->error),
                   report__skipped(q[i]->error) ? "" : ": ",
                   report__skipped(q[i]->error) ? "" : q[i]->error);
    }
    if (r->qos1_durable.ok && r->qos1_fast.ok && r->qos1_fast.acks_per_s > 0)
        printf("  %-46s %12.2f x\n", "durability cost: durable / every second",
               r->qos1_durable.acks_per_s / r->qos1_fast.acks_per_s);
}

void iotc_bench_report_print(const struct iotc_bench_report *r)
{
    printf("\niotc_bench%s: the front door (iotconform serve --workers K) against its goals, "
           "beside mosquitto's own TLS listener\n",
           r->quick ? " --quick" : "");
    printf("client and servers share this machine's %d CPUs; 1-min load average before the "
           "runs: %.2f\n\n",
           r->ncpu, r->loadavg);
    report__header(r);
    report__throughput(r);
    printf("Handshakes: full mTLS ECDSA (device-02, ECDHE-ECDSA, no resumption), %d in "
           "flight, %.1f s; CPU per handshake: each side's own\n",
           r->hs_cfg.concurrency, r->hs_cfg.measure_s);
    report__hs_rows(r, "TLS 1.3", true);
    report__hs_rows(r, "TLS 1.2", false);
    report__memory(r);
    report__all_errors(r);
    report__qos1(r);
    printf("\n");
}

static json_t *report__cpu_json(const struct iotc_bench_cpu *c)
{
    return json_pack("{s:f, s:f, s:f}", "client_s", c->client, "serve_s", c->serve, "broker_s",
                     c->broker);
}

static json_t *report__load_json(const struct iotc_bench_load_result *l)
{
    return json_pack("{s:b, s:s, s:f, s:I, s:I, s:I, s:f, s:s, s:o, s:f}", "ok", l->ok, "error",
                     l->error, "msgs_per_s", l->msgs_per_s, "sent", (json_int_t)l->sent,
                     "delivered", (json_int_t)l->delivered, "lost", (json_int_t)l->lost, "seconds",
                     l->seconds, "tls", l->tls, "cpu", report__cpu_json(&l->cpu), "loadavg",
                     l->loadavg);
}

static json_t *report__hs_json(const struct iotc_bench_hs_result *h)
{
    double n = report__hs_n(h);
    return json_pack("{s:b, s:s, s:f, s:I, s:I, s:f, s:s, s:b, s:o, s:f, s:f, s:f, s:f, s:b}", "ok",
                     h->ok, "error", h->error, "per_s", h->per_s, "completed",
                     (json_int_t)h->completed, "failed", (json_int_t)h->failed, "seconds",
                     h->seconds, "tls", h->tls, "pass", h->ok && h->per_s >= IOTC_BENCH_GOAL_HS,
                     "cpu", report__cpu_json(&h->cpu), "capacity_2_cores_per_s",
                     report__hs_capacity(h), "loadavg", h->loadavg, "server_cpu_ms_per_handshake",
                     h->cpu.serve * 1e3 / n, "client_cpu_ms_per_handshake", h->cpu.client * 1e3 / n,
                     "cpu_pass", report__hs_cpu_pass(h));
}

static json_t *report__mem_json(const struct iotc_bench_report *r,
                                const struct iotc_bench_mem_result *m)
{
    return json_pack("{s:b, s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:b, s:f}", "ok",
                     m->ok, "error", m->error, "devices", r->mem_cfg.devices, "connected",
                     m->connected, "serve_pss_before_kb", (json_int_t)m->serve_before_kb,
                     "serve_pss_after_kb", (json_int_t)m->serve_after_kb, "broker_rss_before_kb",
                     (json_int_t)m->broker_before_kb, "broker_rss_after_kb",
                     (json_int_t)m->broker_after_kb, "front_door_kb_per_device", m->serve_kb,
                     "broker_kb_per_device", m->broker_kb, "total_kb_per_device", m->total_kb,
                     "setup_s", m->setup_s, "pass", report__mem_pass(m), "loadavg", m->loadavg);
}

static json_t *report__run_json(const struct iotc_bench_report *r, const struct iotc_bench_run *run)
{
    double ratio = 0;
    bool ratio_ok = report__ratio(r, run, &ratio);
    json_t *load = report__load_json(&run->load);
    if (load) {
        json_object_set_new(load, "ratio", json_real(ratio));
        json_object_set_new(load, "pass", json_boolean(ratio_ok && ratio >= IOTC_BENCH_GOAL_RATIO));
    }
    return json_pack("{s:i, s:o, s:{s:o, s:o}, s:o}", "workers", run->workers, "throughput", load,
                     "handshakes", "tls13", report__hs_json(&run->hs13), "tls12",
                     report__hs_json(&run->hs12), "memory", report__mem_json(r, &run->mem));
}

int iotc_bench_report_json(const struct iotc_bench_report *r, const char *path)
{
    json_t *runs = json_array();
    for (int i = 0; runs && i < r->nruns; i++)
        json_array_append_new(runs, report__run_json(r, &r->runs[i]));
    json_t *mosq = json_pack("{s:o, s:{s:o}, s:o}", "throughput", report__load_json(&r->load_mosq),
                             "handshakes", "tls13", report__hs_json(&r->hs13_mosq), "memory",
                             report__mem_json(r, &r->mem_mosq));
    json_t *load = json_pack(
        "{s:i, s:i, s:I, s:s, s:f, s:f, s:f}", "publishers", r->load_cfg.publishers, "subscribers",
        r->load_cfg.subscribers, "payload_bytes", (json_int_t)r->load_cfg.payload, "fanout",
        "publisher i publishes on bench/<tag>/p<i>; every subscriber subscribes to bench/<tag>/+",
        "warmup_s", r->load_cfg.warmup_s, "measure_s", r->load_cfg.measure_s, "goal_ratio",
        IOTC_BENCH_GOAL_RATIO);
    json_t *hs = json_pack("{s:i, s:f, s:f, s:f}", "concurrency", r->hs_cfg.concurrency,
                           "measure_s", r->hs_cfg.measure_s, "goal_per_s", IOTC_BENCH_GOAL_HS,
                           "goal_cpu_ms", IOTC_BENCH_GOAL_HS_CPU_MS);
    json_t *mem =
        json_pack("{s:i, s:f}", "devices", r->mem_cfg.devices, "goal_kb", IOTC_BENCH_GOAL_MEM_KB);
    json_t *qos1 =
        json_pack("{s:i, s:i, s:I, s:f, s:{s:b, s:s, s:f, s:I}, s:{s:b, s:s, s:f, s:I}}", "workers",
                  r->qos1_workers, "publishers", r->qos1_cfg.publishers, "window",
                  (json_int_t)r->qos1_cfg.window, "measure_s", r->qos1_cfg.measure_s, "durable",
                  "ok", r->qos1_durable.ok, "error", r->qos1_durable.error, "acks_per_s",
                  r->qos1_durable.acks_per_s, "acked", (json_int_t)r->qos1_durable.acked,
                  "every_second", "ok", r->qos1_fast.ok, "error", r->qos1_fast.error, "acks_per_s",
                  r->qos1_fast.acks_per_s, "acked", (json_int_t)r->qos1_fast.acked);
    json_t *root = json_pack("{s:i, s:b, s:I, s:i, s:f, s:o, s:o, s:o, s:o, s:o, s:o}", "version",
                             2, "quick", r->quick, "nofile", (json_int_t)r->nofile, "ncpu", r->ncpu,
                             "loadavg", r->loadavg, "runs", runs, "mosquitto", mosq, "throughput",
                             load, "handshakes", hs, "memory", mem, "qos1", qos1);
    if (!root)
        return IOTC_ERR_NOMEM;
    int rc =
        json_dump_file(root, path, JSON_INDENT(2) | JSON_SORT_KEYS) == 0 ? IOTC_OK : IOTC_ERR_IO;
    json_decref(root);
    return rc;
}
