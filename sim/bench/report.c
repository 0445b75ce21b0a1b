/* The results: a table for people (goal and PASS/MISS per figure) and bench.json. */
#include "bench.h"
#include "common/err.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define REPORT_ROW     "  %-40s %16s  %-12s %s\n"
#define REPORT_SKIPPED "skipped"

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

static void report__error(bool ok, const char *error)
{
    if (!ok && !report__skipped(error))
        printf("    error: %s\n", error[0] ? error : "no result");
}

static void report__load_row(const char *name, const struct iotc_bench_load_result *r)
{
    char v[64];
    snprintf(v, sizeof v, r->ok ? "%.0f msg/s" : "-", r->msgs_per_s);
    printf(REPORT_ROW, name, v, "", "");
    report__error(r->ok, r->error);
    if (!r->ok)
        return;
    /* CPU per delivery is what the two paths cost, whatever else ran on the machine. */
    double d = r->delivered ? (double)r->delivered : 1;
    printf("    CPU per delivery: client %.2f us, serve %.2f us, mosquitto %.2f us "
           "(server side %.2f us)\n",
           r->cpu.client * 1e6 / d, r->cpu.serve * 1e6 / d, r->cpu.broker * 1e6 / d,
           (r->cpu.serve + r->cpu.broker) * 1e6 / d);
    if (r->lost)
        printf("    note: %llu deliveries lost over the whole run\n", (unsigned long long)r->lost);
}

static bool report__ratio(const struct iotc_bench_report *r, double *ratio)
{
    bool ok = r->load_fd.ok && r->load_mosq.ok && r->load_mosq.msgs_per_s > 0;
    *ratio = ok ? r->load_fd.msgs_per_s / r->load_mosq.msgs_per_s : 0;
    return ok;
}

/* Rate the machine would reach with both cores free for client and server. */
static double report__hs_capacity(const struct iotc_bench_hs_result *h)
{
    double per = (h->cpu.client + h->cpu.serve) / (h->completed ? (double)h->completed : 1);
    return per > 0 ? 2.0 / per : 0;
}

static bool report__hs_cpu_pass(const struct iotc_bench_hs_result *h)
{
    double n = h->completed ? (double)h->completed : 1;
    return h->ok && h->cpu.serve * 1e3 / n <= IOTC_BENCH_GOAL_HS_CPU_MS &&
           h->cpu.client * 1e3 / n <= IOTC_BENCH_GOAL_HS_CPU_MS;
}

static void report__hs_row(const char *name, const struct iotc_bench_hs_result *h,
                           bool goal_applies)
{
    char v[64], goal[32];
    snprintf(v, sizeof v, h->ok ? "%.0f /s" : "-", h->per_s);
    snprintf(goal, sizeof goal, ">= %.0f /s", IOTC_BENCH_GOAL_HS);
    printf(REPORT_ROW, name, v, goal_applies ? goal : "",
           goal_applies ? report__verdict(h->ok, h->per_s >= IOTC_BENCH_GOAL_HS, h->error) : "");
    report__error(h->ok, h->error);
    if (!h->ok)
        return;
    double n = h->completed ? (double)h->completed : 1;
    printf("    CPU per handshake: server %.2f ms, client %.2f ms; with 2 idle cores ~%.0f /s "
           "(%s; load %.2f)\n",
           h->cpu.serve * 1e3 / n, h->cpu.client * 1e3 / n, report__hs_capacity(h), h->tls,
           h->loadavg);
    if (goal_applies) {
        char cv[64], cg[32];
        snprintf(cv, sizeof cv, "%.2f / %.2f ms", h->cpu.serve * 1e3 / n, h->cpu.client * 1e3 / n);
        snprintf(cg, sizeof cg, "<= %.2f ms", IOTC_BENCH_GOAL_HS_CPU_MS);
        printf(REPORT_ROW, "  CPU per handshake, server / client", cv, cg,
               report__verdict(true, report__hs_cpu_pass(h), ""));
    }
    if (h->failed)
        printf("    note: %llu failed: %s\n", (unsigned long long)h->failed, h->error);
}

static void report__mem_rows(const struct iotc_bench_report *r)
{
    const struct iotc_bench_mem_result *m = &r->mem;
    char v[64], goal[32];
    printf("Memory: VmRSS delta / %d idle devices (TLS 1.3 + CONNECT/CONNACK, keep-alive "
           "1200 s)\n",
           m->connected ? m->connected : r->mem_cfg.devices);
    snprintf(v, sizeof v, m->ok ? "%.1f KB" : "-", m->serve_kb);
    printf(REPORT_ROW, "front door (serve)", v, "", "");
    snprintf(v, sizeof v, m->ok ? "%.1f KB" : "-", m->broker_kb);
    printf(REPORT_ROW, "broker (mosquitto)", v, "", "");
    snprintf(v, sizeof v, m->ok ? "%.1f KB" : "-", m->total_kb);
    snprintf(goal, sizeof goal, "<= %.0f KB", IOTC_BENCH_GOAL_MEM_KB);
    printf(REPORT_ROW, "together", v, goal,
           report__verdict(m->ok, m->total_kb <= IOTC_BENCH_GOAL_MEM_KB, m->error));
    report__error(m->ok, m->error);
    if (m->ok && m->connected < r->mem_cfg.devices)
        printf("    note: %d of %d devices connected: %s\n", m->connected, r->mem_cfg.devices,
               m->error);
}

void iotc_bench_report_print(const struct iotc_bench_report *r)
{
    char v[64], goal[32];
    double ratio = 0;
    bool ratio_ok = report__ratio(r, &ratio);
    printf("\niotc_bench%s: the front door (iotconform serve) against its goals\n",
           r->quick ? " --quick" : "");
    printf("client and servers share this machine's cores; 1-min load average before the "
           "runs: %.2f\n\n",
           r->loadavg);
    printf(REPORT_ROW, "figure", "measured", "goal", "result");
    printf("Throughput: QoS 0, %zu B payload, %d publishers -> %d subscribers of bench/<tag>/+ "
           "(fan-out x%d),\n  deliveries counted at the subscribers over %.1f s after %.1f s "
           "warm-up, %s\n",
           r->load_cfg.payload, r->load_cfg.publishers, r->load_cfg.subscribers,
           r->load_cfg.subscribers, r->load_cfg.measure_s, r->load_cfg.warmup_s,
           r->load_fd.tls[0] ? r->load_fd.tls : "TLS 1.3");
    report__load_row("front door, mTLS on 8883", &r->load_fd);
    report__load_row("mosquitto's own TLS listener", &r->load_mosq);
    snprintf(v, sizeof v, ratio_ok ? "%.2f x" : "-", ratio);
    snprintf(goal, sizeof goal, ">= %.2f x", IOTC_BENCH_GOAL_RATIO);
    printf(REPORT_ROW, "ratio front door / mosquitto", v, goal,
           report__verdict(ratio_ok, ratio >= IOTC_BENCH_GOAL_RATIO,
                           r->load_fd.ok ? r->load_mosq.error : r->load_fd.error));
    printf("Handshakes: full mTLS ECDSA (device-02, ECDHE-ECDSA, no resumption), %d in "
           "flight, %.1f s\n",
           r->hs_cfg.concurrency, r->hs_cfg.measure_s);
    report__hs_row("TLS 1.3", &r->hs13, true);
    report__hs_row("TLS 1.2", &r->hs12, true);
    report__hs_row("reference: mosquitto's TLS, TLS 1.3", &r->hs13_mosq, false);
    report__mem_rows(r);
    printf("QoS 1 acknowledged: %d publishers x %zu in flight, 64 B, an offline persistent "
           "subscriber (every message stored), %.1f s after %.1f s warm-up\n",
           r->qos1_cfg.publishers, r->qos1_cfg.window, r->qos1_cfg.measure_s, r->qos1_cfg.warmup_s);
    const struct iotc_bench_qos1_result *q[2] = {&r->qos1_durable, &r->qos1_fast};
    const char *qn[2] = {"durable: PUBACK once stored (qos1_durable 1)",
                         "saved every second (qos1_durable 0)"};
    for (int i = 0; i < 2; i++) {
        snprintf(v, sizeof v, q[i]->ok ? "%.0f acks/s" : "-", q[i]->acks_per_s);
        printf(REPORT_ROW, qn[i], v, "-",
               q[i]->ok ? "measured" : report__verdict(false, false, q[i]->error));
    }
    if (r->qos1_durable.ok && r->qos1_fast.ok && r->qos1_fast.acks_per_s > 0) {
        snprintf(v, sizeof v, "%.2f x", r->qos1_durable.acks_per_s / r->qos1_fast.acks_per_s);
        printf(REPORT_ROW, "durability cost: durable / every second", v, "-", "measured");
    }
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
    double n = h->completed ? (double)h->completed : 1;
    return json_pack("{s:b, s:s, s:f, s:I, s:I, s:f, s:s, s:b, s:o, s:f, s:f, s:f, s:f, s:b}", "ok",
                     h->ok, "error", h->error, "per_s", h->per_s, "completed",
                     (json_int_t)h->completed, "failed", (json_int_t)h->failed, "seconds",
                     h->seconds, "tls", h->tls, "pass", h->ok && h->per_s >= IOTC_BENCH_GOAL_HS,
                     "cpu", report__cpu_json(&h->cpu), "capacity_2_cores_per_s",
                     report__hs_capacity(h), "loadavg", h->loadavg, "server_cpu_ms_per_handshake",
                     h->cpu.serve * 1e3 / n, "client_cpu_ms_per_handshake", h->cpu.client * 1e3 / n,
                     "cpu_pass", report__hs_cpu_pass(h));
}

int iotc_bench_report_json(const struct iotc_bench_report *r, const char *path)
{
    double ratio = 0;
    bool ratio_ok = report__ratio(r, &ratio);
    const struct iotc_bench_mem_result *m = &r->mem;
    json_t *load = json_pack(
        "{s:i, s:i, s:I, s:s, s:f, s:f, s:o, s:o, s:f, s:f, s:b}", "publishers",
        r->load_cfg.publishers, "subscribers", r->load_cfg.subscribers, "payload_bytes",
        (json_int_t)r->load_cfg.payload, "fanout",
        "publisher i publishes on bench/<tag>/p<i>; every subscriber subscribes to bench/<tag>/+",
        "warmup_s", r->load_cfg.warmup_s, "measure_s", r->load_cfg.measure_s, "front_door",
        report__load_json(&r->load_fd), "mosquitto", report__load_json(&r->load_mosq), "ratio",
        ratio, "goal_ratio", IOTC_BENCH_GOAL_RATIO, "pass",
        ratio_ok && ratio >= IOTC_BENCH_GOAL_RATIO);
    json_t *hs =
        json_pack("{s:i, s:f, s:f, s:f, s:o, s:o, s:o}", "concurrency", r->hs_cfg.concurrency,
                  "measure_s", r->hs_cfg.measure_s, "goal_per_s", IOTC_BENCH_GOAL_HS, "goal_cpu_ms",
                  IOTC_BENCH_GOAL_HS_CPU_MS, "tls13", report__hs_json(&r->hs13), "tls12",
                  report__hs_json(&r->hs12), "mosquitto_tls13", report__hs_json(&r->hs13_mosq));
    json_t *mem = json_pack(
        "{s:b, s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:b, s:f}", "ok", m->ok,
        "error", m->error, "devices", r->mem_cfg.devices, "connected", m->connected,
        "serve_rss_before_kb", (json_int_t)m->serve_before_kb, "serve_rss_after_kb",
        (json_int_t)m->serve_after_kb, "broker_rss_before_kb", (json_int_t)m->broker_before_kb,
        "broker_rss_after_kb", (json_int_t)m->broker_after_kb, "front_door_kb_per_device",
        m->serve_kb, "broker_kb_per_device", m->broker_kb, "total_kb_per_device", m->total_kb,
        "goal_kb", IOTC_BENCH_GOAL_MEM_KB, "setup_s", m->setup_s, "pass",
        m->ok && m->total_kb <= IOTC_BENCH_GOAL_MEM_KB, "loadavg", m->loadavg);
    json_t *qos1 = json_pack(
        "{s:i, s:I, s:f, s:{s:b, s:s, s:f, s:I}, s:{s:b, s:s, s:f, s:I}}", "publishers",
        r->qos1_cfg.publishers, "window", (json_int_t)r->qos1_cfg.window, "measure_s",
        r->qos1_cfg.measure_s, "durable", "ok", r->qos1_durable.ok, "error", r->qos1_durable.error,
        "acks_per_s", r->qos1_durable.acks_per_s, "acked", (json_int_t)r->qos1_durable.acked,
        "every_second", "ok", r->qos1_fast.ok, "error", r->qos1_fast.error, "acks_per_s",
        r->qos1_fast.acks_per_s, "acked", (json_int_t)r->qos1_fast.acked);
    json_t *root = json_pack("{s:i, s:b, s:I, s:f, s:o, s:o, s:o, s:o}", "version", 1, "quick",
                             r->quick, "nofile", (json_int_t)r->nofile, "loadavg", r->loadavg,
                             "throughput", load, "handshakes", hs, "memory", mem, "qos1", qos1);
    if (!root)
        return IOTC_ERR_NOMEM;
    int rc =
        json_dump_file(root, path, JSON_INDENT(2) | JSON_SORT_KEYS) == 0 ? IOTC_OK : IOTC_ERR_IO;
    json_decref(root);
    return rc;
}
