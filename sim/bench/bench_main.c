/* iotc_bench: options, the run order, and the child processes around each scenario. */
#define _GNU_SOURCE
#include "bench.h"
#include "client/tls_ctx.h"
#include "common/procstat.h"
#include "common/err.h"
#include "common/x509_cache.h"

#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef IOTC_BENCH_SERVE
#define IOTC_BENCH_SERVE "./iotconform"
#endif
#ifndef IOTC_BENCH_PKI
#define IOTC_BENCH_PKI "./pki"
#endif
#ifndef IOTC_BENCH_JSON
#define IOTC_BENCH_JSON "bench.json"
#endif
#ifndef IOTC_BENCH_MOSQUITTO
#define IOTC_BENCH_MOSQUITTO "/usr/sbin/mosquitto"
#endif

/* The device the clients present (an ECDSA key: the suites below are ECDSA only). */
#define MAIN_DEVICE "device-02"
/* fds per idle device: ours, serve's TLS socket, serve's broker link, mosquitto's socket. */
#define MAIN_FDS_PER_DEVICE 2
#define MAIN_FD_SLACK       256

struct main_opts {
    bool quick;
    int nworkers;
    int workers[IOTC_BENCH_MAX_RUNS];
    const char *serve;
    const char *pki;
    const char *json;
    const char *mosquitto;
    int devices;
    bool keep;
    unsigned only; /* MAIN_RUN_* bits; 0 = all */
};

#define MAIN_RUN_LOAD 1u
#define MAIN_RUN_HS   2u
#define MAIN_RUN_MEM  4u
#define MAIN_RUN_QOS1 8u

/* serve's own default for --workers, so the second run is what serve runs unasked. */
static int main__ncpu(void)
{
    int n = iotc_ncpu();
    return n > IOTC_BENCH_MAX_WORKERS ? IOTC_BENCH_MAX_WORKERS : n;
}

/* "1,2": distinct counts, 1..IOTC_BENCH_MAX_WORKERS, at most IOTC_BENCH_MAX_RUNS. */
static int main__parse_workers(const char *arg, struct main_opts *o)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", arg);
    o->nworkers = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end = NULL;
        long k = strtol(tok, &end, 10);
        if (!*tok || *end || k < 1 || k > IOTC_BENCH_MAX_WORKERS ||
            o->nworkers == IOTC_BENCH_MAX_RUNS)
            return -1;
        for (int i = 0; i < o->nworkers; i++)
            if (o->workers[i] == (int)k)
                return -1;
        o->workers[o->nworkers++] = (int)k;
    }
    return o->nworkers ? 0 : -1;
}

static void main__usage(FILE *out)
{
    fprintf(out,
            "usage: iotc_bench [--quick] [--workers LIST] [--serve PATH] [--pki DIR]\n"
            "                  [--json FILE] [--mosquitto PATH] [--devices K] [--keep]\n"
            "                  [--only LIST]\n"
            "\n"
            "Measures the front door (`iotconform serve --workers K`, started as a child, once\n"
            "per K of --workers) side by side with mosquitto's own TLS listener:\n"
            "  1. QoS 0 throughput, 10 publishers -> 10 subscribers (goal: front door /\n"
            "     mosquitto >= %.1f)\n"
            "  2. full mTLS ECDSA handshakes per second, TLS 1.3 and 1.2 (goal: >= %.0f/s, CPU\n"
            "     per handshake <= %.2f ms on each side, server and bench client)\n"
            "  3. memory per idle connected device, front door (Pss of all its processes) + its\n"
            "     broker (VmRSS) (goal: <= %.0f KB)\n"
            "  4. QoS 1 acknowledged throughput, durable and not (first worker count only)\n"
            "Prints a table (one column per worker count, then mosquitto) and writes JSON;\n"
            "always exits 0 once it ran (it reports, it does not gate), 2 on bad options.\n"
            "\n"
            "  --quick           short durations and 200 devices (smoke run)\n"
            "  --workers LIST    serve --workers counts to compare, e.g. 1,2 (default: 1 and\n"
            "                    the number of CPUs, %d here; at most %d counts)\n"
            "  --serve PATH      iotconform binary (default: %s)\n"
            "  --pki DIR         generated test PKI (default: %s)\n"
            "  --json FILE       results file (default: %s)\n"
            "  --mosquitto PATH  reference broker (default: %s)\n"
            "  --devices K       idle devices for the memory figure (default: 2000)\n"
            "  --keep            keep the work directory (logs, configs)\n"
            "  --only LIST       run only some of: throughput,handshakes,memory,qos1\n"
            "environment: IOTC_BENCH_SERVE_JOURNAL=FILE gives serve a journal (default\n"
            "/dev/null), to see why a connection was refused; it costs serve CPU.\n"
            "\n"
            "JSON (keys sorted; every figure carries ok and error):\n"
            "  version (2), quick, loadavg, nofile, ncpu\n"
            "  runs[]: one per --workers count, in order:\n"
            "    workers\n"
            "    throughput: msgs_per_s, sent, delivered, lost, seconds, tls, loadavg,\n"
            "      cpu {client_s, serve_s, broker_s}, ratio (to mosquitto), pass\n"
            "    handshakes.tls13, handshakes.tls12: per_s, completed, failed, seconds, tls,\n"
            "      cpu, capacity_2_cores_per_s, server_cpu_ms_per_handshake,\n"
            "      client_cpu_ms_per_handshake, pass (rate), cpu_pass, loadavg\n"
            "    memory: devices, connected, serve_pss_before_kb, serve_pss_after_kb (Pss\n"
            "      summed over the workers), broker_rss_before_kb, broker_rss_after_kb,\n"
            "      front_door_kb_per_device, broker_kb_per_device, total_kb_per_device,\n"
            "      setup_s, pass, loadavg\n"
            "  mosquitto: the reference, same shapes: throughput, handshakes.tls13, memory\n"
            "    (its own RSS in broker_*; front_door_* is 0)\n"
            "  throughput, handshakes, memory: settings and goals (publishers, subscribers,\n"
            "    payload_bytes, warmup_s, measure_s, goal_ratio; concurrency, goal_per_s,\n"
            "    goal_cpu_ms; devices, goal_kb)\n"
            "  qos1: workers, publishers, window, measure_s, durable and every_second\n"
            "    {ok, error, acks_per_s, acked}\n",
            IOTC_BENCH_GOAL_RATIO, IOTC_BENCH_GOAL_HS, IOTC_BENCH_GOAL_HS_CPU_MS,
            IOTC_BENCH_GOAL_MEM_KB, main__ncpu(), IOTC_BENCH_MAX_RUNS, IOTC_BENCH_SERVE,
            IOTC_BENCH_PKI, IOTC_BENCH_JSON, IOTC_BENCH_MOSQUITTO);
}

static int main__parse_only(const char *arg, unsigned *bits)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"throughput", MAIN_RUN_LOAD},
                 {"handshakes", MAIN_RUN_HS},
                 {"memory", MAIN_RUN_MEM},
                 {"qos1", MAIN_RUN_QOS1}};
    char buf[128];
    snprintf(buf, sizeof buf, "%s", arg);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < sizeof names / sizeof names[0] && strcmp(names[i].name, tok) != 0)
            i++;
        if (i == sizeof names / sizeof names[0])
            return -1;
        *bits |= names[i].bit;
    }
    return *bits ? 0 : -1;
}

static int main__parse(int argc, char **argv, struct main_opts *o)
{
    static const struct option longopts[] = {{"quick", no_argument, NULL, 'q'},
                                             {"serve", required_argument, NULL, 's'},
                                             {"pki", required_argument, NULL, 'k'},
                                             {"json", required_argument, NULL, 'j'},
                                             {"mosquitto", required_argument, NULL, 'm'},
                                             {"devices", required_argument, NULL, 'd'},
                                             {"keep", no_argument, NULL, 'K'},
                                             {"only", required_argument, NULL, 'o'},
                                             {"workers", required_argument, NULL, 'w'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'q':
            o->quick = true;
            break;
        case 's':
            o->serve = optarg;
            break;
        case 'k':
            o->pki = optarg;
            break;
        case 'j':
            o->json = optarg;
            break;
        case 'm':
            o->mosquitto = optarg;
            break;
        case 'd':
            o->devices = atoi(optarg);
            if (o->devices < 1 || o->devices > 1000000) {
                fprintf(stderr, "iotc_bench: --devices: 1..1000000\n");
                return 2;
            }
            break;
        case 'K':
            o->keep = true;
            break;
        case 'o':
            if (main__parse_only(optarg, &o->only) != 0) {
                fprintf(stderr, "iotc_bench: --only: throughput, handshakes, memory, qos1\n");
                return 2;
            }
            break;
        case 'w':
            if (main__parse_workers(optarg, o) != 0) {
                fprintf(stderr,
                        "iotc_bench: --workers: up to %d distinct counts of 1..%d, "
                        "comma-separated\n",
                        IOTC_BENCH_MAX_RUNS, IOTC_BENCH_MAX_WORKERS);
                return 2;
            }
            break;
        case 'h':
            main__usage(stdout);
            return 1;
        default:
            main__usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "iotc_bench: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return 0;
}

static void main__rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[1024];
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static bool main__wants(const struct main_opts *o, unsigned bit)
{
    return o->only == 0 || (o->only & bit);
}

static SSL_CTX *main__ctx(const char *pki, int version)
{
    char ca[1024], crt[1024], key[1024];
    snprintf(ca, sizeof ca, "%s/ca-bundle.crt", pki);
    snprintf(crt, sizeof crt, "%s/%s.crt", pki, MAIN_DEVICE);
    snprintf(key, sizeof key, "%s/%s.key", pki, MAIN_DEVICE);
    iotc_client_tls spec = {
        .ca_file = ca,
        .cert_file = crt,
        .key_file = key,
        .min_version = version,
        .max_version = version,
        /* One suite on both servers, so the throughput ratio compares relays, not
         * ciphers; under TLS 1.3 the suite does not name the key type: the signature
         * list does. */
        .ciphersuites = "TLS_AES_128_GCM_SHA256",
        .cipher_list = "ECDHE-ECDSA-AES128-GCM-SHA256",
        .sigalgs = "ECDSA+SHA256:ECDSA+SHA384",
        .security_level = -1,
        .verify_peer = 1,
        /* Every handshake must be a full one; thousands of idle clients in this process
         * need no 34 KB of buffers each. */
        .flags = IOTC_CLIENT_TLS_NO_RESUME | IOTC_CLIENT_TLS_RELEASE_BUFFERS |
                 IOTC_CLIENT_TLS_CHECK_KEY | IOTC_CLIENT_TLS_REMEMBER_CHAIN |
                 IOTC_CLIENT_TLS_CHAIN_ONCE,
    };
    iotc_errtext terr = {0};
    SSL_CTX *ctx = iotc_client_tls_ctx(&spec, &terr);
    if (!ctx)
        fprintf(stderr, "iotc_bench: client TLS setup (%s, %s): %s\n", pki, MAIN_DEVICE, terr.msg);
    return ctx;
}

static void main__set_error(char *dst, size_t len, const char *why)
{
    snprintf(dst, len, "%s", why);
}
#define MAIN_SET_ERROR(res, why) main__set_error((res).error, sizeof(res).error, why)

static void main__fail_all(struct iotc_bench_report *r, const char *why)
{
    for (int i = 0; i < r->nruns; i++) {
        MAIN_SET_ERROR(r->runs[i].load, why);
        MAIN_SET_ERROR(r->runs[i].hs13, why);
        MAIN_SET_ERROR(r->runs[i].hs12, why);
        MAIN_SET_ERROR(r->runs[i].mem, why);
    }
    MAIN_SET_ERROR(r->load_mosq, why);
    MAIN_SET_ERROR(r->hs13_mosq, why);
    MAIN_SET_ERROR(r->mem_mosq, why);
    MAIN_SET_ERROR(r->qos1_durable, why);
    MAIN_SET_ERROR(r->qos1_fast, why);
}

static void main__mark_skipped(const struct main_opts *o, struct iotc_bench_report *r)
{
    static const char why[] = "skipped (--only)";
    for (int i = 0; i < r->nruns; i++) {
        struct iotc_bench_run *run = &r->runs[i];
        if (!main__wants(o, MAIN_RUN_LOAD))
            MAIN_SET_ERROR(run->load, why);
        if (!main__wants(o, MAIN_RUN_HS)) {
            MAIN_SET_ERROR(run->hs13, why);
            MAIN_SET_ERROR(run->hs12, why);
        }
        if (!main__wants(o, MAIN_RUN_MEM))
            MAIN_SET_ERROR(run->mem, why);
    }
    if (!main__wants(o, MAIN_RUN_LOAD))
        MAIN_SET_ERROR(r->load_mosq, why);
    if (!main__wants(o, MAIN_RUN_HS))
        MAIN_SET_ERROR(r->hs13_mosq, why);
    if (!main__wants(o, MAIN_RUN_MEM))
        MAIN_SET_ERROR(r->mem_mosq, why);
    if (!main__wants(o, MAIN_RUN_QOS1)) {
        MAIN_SET_ERROR(r->qos1_durable, why);
        MAIN_SET_ERROR(r->qos1_fast, why);
    }
}

/* Throughput and handshakes through one serve --workers K. */
static void main__front_door(struct event_base *base, const struct main_opts *o, const char *work,
                             SSL_CTX *ctx13, SSL_CTX *ctx12, struct iotc_bench_report *r,
                             struct iotc_bench_run *run)
{
    struct iotc_bench_serve sv;
    iotc_errtext err = {0};
    if (iotc_bench_serve_start(o->serve, o->pki, work, run->workers, &sv, &err) != IOTC_OK) {
        fprintf(stderr, "iotc_bench: %s\n", err.msg);
        iotc_errtext_copy(&err, run->load.error, sizeof run->load.error);
        iotc_errtext_copy(&err, run->hs13.error, sizeof run->hs13.error);
        iotc_errtext_copy(&err, run->hs12.error, sizeof run->hs12.error);
        return;
    }
    fprintf(stderr, "iotc_bench: serve --workers %d pid %d (mosquitto %d) on port %d\n",
            run->workers, (int)sv.proc.pid, (int)sv.broker_pid, sv.proc.port_8883);
    if (main__wants(o, MAIN_RUN_LOAD)) {
        fprintf(stderr, "iotc_bench:   throughput...\n");
        struct iotc_bench_load_cfg cfg = r->load_cfg;
        cfg.port = sv.proc.port_8883;
        cfg.ctx = ctx13;
        cfg.tag = "fd";
        cfg.serve_pid = sv.proc.pid;
        cfg.broker_pid = sv.broker_pid;
        iotc_bench_load_run(base, &cfg, &run->load);
    }
    if (main__wants(o, MAIN_RUN_HS)) {
        fprintf(stderr, "iotc_bench:   handshakes (TLS 1.3, TLS 1.2)...\n");
        struct iotc_bench_hs_cfg hc = r->hs_cfg;
        hc.port = sv.proc.port_8883;
        hc.serve_pid = sv.proc.pid;
        hc.ctx = ctx13;
        iotc_bench_hs_run(base, &hc, &run->hs13);
        hc.ctx = ctx12;
        iotc_bench_hs_run(base, &hc, &run->hs12);
    }
    iotc_bench_serve_stop(&sv);
}

/* mosquitto terminating TLS itself: the yardstick for the relay and the handshake cost. */
static void main__reference(struct event_base *base, const struct main_opts *o, const char *work,
                            SSL_CTX *ctx13, struct iotc_bench_report *r)
{
    struct iotc_bench_mosq mq;
    iotc_errtext err = {0};
    if (iotc_bench_mosq_start(o->mosquitto, o->pki, work, &mq, &err) != IOTC_OK) {
        fprintf(stderr, "iotc_bench: %s\n", err.msg);
        iotc_errtext_copy(&err, r->load_mosq.error, sizeof r->load_mosq.error);
        iotc_errtext_copy(&err, r->hs13_mosq.error, sizeof r->hs13_mosq.error);
        return;
    }
    fprintf(stderr, "iotc_bench: reference mosquitto pid %d on port %d\n", (int)mq.pid, mq.port);
    if (main__wants(o, MAIN_RUN_LOAD)) {
        fprintf(stderr, "iotc_bench:   throughput...\n");
        struct iotc_bench_load_cfg cfg = r->load_cfg;
        cfg.port = mq.port;
        cfg.ctx = ctx13;
        cfg.tag = "ref";
        cfg.serve_pid = -1;
        cfg.broker_pid = mq.pid;
        iotc_bench_load_run(base, &cfg, &r->load_mosq);
    }
    if (main__wants(o, MAIN_RUN_HS)) {
        fprintf(stderr, "iotc_bench:   handshakes (TLS 1.3)...\n");
        struct iotc_bench_hs_cfg hc = r->hs_cfg;
        hc.port = mq.port;
        hc.ctx = ctx13;
        hc.serve_pid = mq.pid;
        iotc_bench_hs_run(base, &hc, &r->hs13_mosq);
    }
    iotc_bench_mosq_stop(&mq);
}

/* A fresh mosquitto for its memory per device, as for serve (main__memory). */
static void main__reference_memory(struct event_base *base, const struct main_opts *o,
                                   const char *work, SSL_CTX *ctx13, struct iotc_bench_report *r)
{
    struct iotc_bench_mosq mq;
    iotc_errtext err = {0};
    if (iotc_bench_mosq_start(o->mosquitto, o->pki, work, &mq, &err) != IOTC_OK) {
        fprintf(stderr, "iotc_bench: %s\n", err.msg);
        iotc_errtext_copy(&err, r->mem_mosq.error, sizeof r->mem_mosq.error);
        return;
    }
    fprintf(stderr, "iotc_bench: reference mosquitto pid %d: memory with %d idle devices...\n",
            (int)mq.pid, r->mem_cfg.devices);
    struct iotc_bench_mem_cfg mc = r->mem_cfg;
    mc.port = mq.port;
    mc.ctx = ctx13;
    mc.serve_pid = -1;
    mc.broker_pid = mq.pid;
    iotc_bench_mem_run(base, &mc, &r->mem_mosq);
    iotc_bench_mosq_stop(&mq);
}

/* QoS 1 acknowledged throughput with limits.qos1_durable 1 (a PUBACK means stored) and 0
 * (the broker saves every second): the difference is the price of durability. */
static void main__qos1(struct event_base *base, const struct main_opts *o, const char *work,
                       SSL_CTX *ctx13, struct iotc_bench_report *r)
{
    for (int durable = 1; durable >= 0; durable--) {
        struct iotc_bench_qos1_result *res = durable ? &r->qos1_durable : &r->qos1_fast;
        char profile[700];
        iotc_errtext err = {0};
        snprintf(profile, sizeof profile, "%s/qos1-durable-%d.json", work, durable);
        FILE *f = fopen(profile, "w");
        if (!f) {
            snprintf(res->error, sizeof res->error, "cannot write %.400s", profile);
            continue;
        }
        /* The default profile's settings, with the one limit changed (quotas off). */
        fprintf(f,
                "{\"name\": \"bench-qos1\", \"security_policy\": "
                "\"IoTSecurityPolicy_TLS13_1_2_2022_10\", \"sni\": \"required\", "
                "\"endpoint_names\": [\"localhost\"], \"bind\": [\"127.0.0.1\"], "
                "\"limits\": {\"qos1_durable\": %d, " IOTC_BENCH_NO_QUOTAS "}}\n",
                durable);
        fclose(f);
        struct iotc_bench_serve sv;
        if (iotc_bench_serve_start_profile(o->serve, o->pki, work, profile, r->qos1_workers, &sv,
                                           &err) != IOTC_OK) {
            fprintf(stderr, "iotc_bench: %s\n", err.msg);
            iotc_errtext_copy(&err, res->error, sizeof res->error);
            continue;
        }
        fprintf(stderr, "iotc_bench: QoS 1 acknowledged throughput, qos1_durable %d...\n", durable);
        struct iotc_bench_qos1_cfg cfg = r->qos1_cfg;
        cfg.port = sv.proc.port_8883;
        cfg.ctx = ctx13;
        cfg.tag = durable ? "d" : "f";
        cfg.serve_pid = sv.proc.pid;
        cfg.broker_pid = sv.broker_pid;
        iotc_bench_qos1_run(base, &cfg, res);
        iotc_bench_serve_stop(&sv);
    }
}

/* A fresh serve, so freed buffers of earlier scenarios do not hide new allocations. */
static void main__memory(struct event_base *base, const struct main_opts *o, const char *work,
                         SSL_CTX *ctx13, struct iotc_bench_report *r, struct iotc_bench_run *run)
{
    struct iotc_bench_serve sv;
    iotc_errtext err = {0};
    if (iotc_bench_serve_start(o->serve, o->pki, work, run->workers, &sv, &err) != IOTC_OK) {
        fprintf(stderr, "iotc_bench: %s\n", err.msg);
        iotc_errtext_copy(&err, run->mem.error, sizeof run->mem.error);
        return;
    }
    fprintf(stderr, "iotc_bench: serve --workers %d: memory with %d idle devices...\n",
            run->workers, r->mem_cfg.devices);
    struct iotc_bench_mem_cfg mc = r->mem_cfg;
    mc.port = sv.proc.port_8883;
    mc.ctx = ctx13;
    mc.serve_pid = sv.proc.pid;
    mc.broker_pid = sv.broker_pid;
    iotc_bench_mem_run(base, &mc, &run->mem);
    iotc_bench_serve_stop(&sv);
}

int main(int argc, char **argv)
{
    struct main_opts o = {.serve = IOTC_BENCH_SERVE,
                          .pki = IOTC_BENCH_PKI,
                          .json = IOTC_BENCH_JSON,
                          .mosquitto = IOTC_BENCH_MOSQUITTO};
    int prc = main__parse(argc, argv, &o);
    if (prc)
        return prc == 1 ? 0 : 2;
    signal(SIGPIPE, SIG_IGN);
    /* The clients reconnect to the same servers: parse their certificates once, as serve
     * does its devices' (common/x509_cache.h). */
    iotc_x509_cache_enable(64);
    struct iotc_bench_report *r = calloc(1, sizeof *r);
    struct event_base *base = event_base_new();
    SSL_CTX *ctx13 = main__ctx(o.pki, TLS1_3_VERSION);
    SSL_CTX *ctx12 = main__ctx(o.pki, TLS1_2_VERSION);
    char work[] = "/tmp/iotc-bench-XXXXXX";
    bool have_work = mkdtemp(work) != NULL;
    if (!r || !base) {
        fprintf(stderr, "iotc_bench: out of memory\n");
        return 1;
    }
    r->quick = o.quick;
    r->ncpu = main__ncpu();
    if (o.nworkers == 0) {
        o.workers[o.nworkers++] = 1;
        if (r->ncpu > 1)
            o.workers[o.nworkers++] = r->ncpu;
    }
    r->nruns = o.nworkers;
    for (int i = 0; i < o.nworkers; i++)
        r->runs[i].workers = o.workers[i];
    r->qos1_workers = o.workers[0];
    r->loadavg = iotc_bench_loadavg();
    r->load_cfg = (struct iotc_bench_load_cfg){.publishers = 10,
                                               .subscribers = 10,
                                               .payload = 256,
                                               .warmup_s = o.quick ? 0.5 : 2.0,
                                               .measure_s = o.quick ? 1.5 : 10.0,
                                               .window = 4000};
    r->hs_cfg = (struct iotc_bench_hs_cfg){
        .concurrency = 32, .warmup_s = o.quick ? 0.2 : 0.5, .measure_s = o.quick ? 1.0 : 5.0};
    r->mem_cfg = (struct iotc_bench_mem_cfg){.devices = o.devices ? o.devices
                                                        : o.quick ? 200
                                                                  : 2000,
                                             .warm_devices = 8,
                                             .concurrency = 64,
                                             .settle_s = o.quick ? 0.3 : 1.0};
    r->qos1_cfg = (struct iotc_bench_qos1_cfg){.publishers = 4,
                                               .window = 16,
                                               .warmup_s = o.quick ? 0.3 : 1.0,
                                               .measure_s = o.quick ? 1.0 : 4.0};
    /* serve and mosquitto inherit this limit: raise it before they start. */
    r->nofile = iotc_raise_nofile(NULL);
    long need =
        (long)(r->mem_cfg.devices + r->mem_cfg.warm_devices) * MAIN_FDS_PER_DEVICE + MAIN_FD_SLACK;
    if (r->nofile > 0 && need > r->nofile) {
        int fit =
            (int)((r->nofile - MAIN_FD_SLACK) / MAIN_FDS_PER_DEVICE) - r->mem_cfg.warm_devices;
        fprintf(stderr, "iotc_bench: RLIMIT_NOFILE %ld: memory run reduced to %d devices\n",
                r->nofile, fit);
        r->mem_cfg.devices = fit > 1 ? fit : 1;
    }
    if (!ctx13 || !ctx12 || !have_work) {
        main__fail_all(r,
                       !have_work ? "cannot create a work directory" : "client TLS setup failed");
    } else {
        main__mark_skipped(&o, r);
        for (int i = 0; i < r->nruns; i++) {
            if (main__wants(&o, MAIN_RUN_LOAD | MAIN_RUN_HS))
                main__front_door(base, &o, work, ctx13, ctx12, r, &r->runs[i]);
            if (main__wants(&o, MAIN_RUN_MEM))
                main__memory(base, &o, work, ctx13, r, &r->runs[i]);
        }
        if (main__wants(&o, MAIN_RUN_LOAD | MAIN_RUN_HS))
            main__reference(base, &o, work, ctx13, r);
        if (main__wants(&o, MAIN_RUN_MEM))
            main__reference_memory(base, &o, work, ctx13, r);
        if (main__wants(&o, MAIN_RUN_QOS1))
            main__qos1(base, &o, work, ctx13, r);
    }
    iotc_bench_report_print(r);
    if (iotc_bench_report_json(r, o.json) != IOTC_OK)
        fprintf(stderr, "iotc_bench: cannot write %s\n", o.json);
    else
        printf("results: %s\n", o.json);
    if (have_work) {
        if (o.keep)
            printf("work directory kept: %s\n", work);
        else
            main__rmdir(work);
    }
    SSL_CTX_free(ctx13);
    SSL_CTX_free(ctx12);
    event_base_free(base);
    free(r);
    iotc_x509_cache_disable();
    return 0;
}
