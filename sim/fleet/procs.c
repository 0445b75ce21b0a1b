/*
 * `iotconform fleet --workers N`: one fleet over N processes on this machine, for fleets
 * whose connections would not fit one process's descriptor limit. Each process is a
 * shard (`fleet --shard K/N`, the same device split, identities and start barrier as on
 * several machines) against one endpoint: the emulated one is started here, once, and
 * given to the shards as an external target file. When every shard has written its
 * summary, fleet-merge's code gives the totals, and the memory of every process (each
 * front-door worker, mosquitto, each shard) comes from samples taken here.
 */
#include "fleet_int.h"
#include "common/err.h"
#include "common/procstat.h"
#include "common/spawn.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROCS_MAX         64
#define PROCS_SERVE_MAX   64
#define PROCS_SAMPLE_MS   1000
#define PROCS_SAMPLES_MAX 36000 /* ten hours at one a second; later ones replace the last */
#define PROCS_STOP_MS     15000
#define PROCS_ARGS        24

/* RSS of the endpoint's processes at one moment: serve's front doors then mosquitto. */
struct procs__sample {
    double wall_ms;
    long kb[PROCS_SERVE_MAX + 1];
    double cpu_s[PROCS_SERVE_MAX + 1];
};

struct procs {
    const struct iotc_fleet_procs_opts *o;
    struct iotc_fleet *fl; /* the emulated endpoint only (no devices) */
    char dir[64], target[128], json[PROCS_MAX][128], log[PROCS_MAX][128];
    pid_t child[PROCS_MAX];
    int status[PROCS_MAX];
    double child_cpu_s[PROCS_MAX];        /* the latest reading while it ran */
    pid_t serve_pid[PROCS_SERVE_MAX + 1]; /* front doors, then mosquitto */
    int n_serve;
    struct procs__sample before, *samples;
    size_t n_samples;
};

static volatile sig_atomic_t procs__signal;

static void procs__on_signal(int sig)
{
    procs__signal = sig;
}

/* The emulated endpoint as the shards see it: an external target file. */
static int procs__target_file(struct procs *p, iotc_errtext *err)
{
    const struct iotc_fleet_target *t = &p->fl->spec->target;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:{s:i, s:i, s:i}}", "host", t->host,
                          "sni", t->sni, "ca", t->ca, "pki", t->pki, "registry", t->registry,
                          "time_scale", t->time_scale, "ports", "8883", t->ports[0], "8443",
                          t->ports[1], "443", t->ports[2]);
    int rc = o && json_dump_file(o, p->target, JSON_INDENT(2)) == 0 ? IOTC_OK : IOTC_ERR_IO;
    json_decref(o);
    if (rc != IOTC_OK)
        iotc_errtext_set(err, 0, "cannot write %s", p->target);
    return rc;
}

static void procs__sample(struct procs *p, struct procs__sample *s)
{
    s->wall_ms = iotc_clock_wall_ms();
    for (int i = 0; i < p->n_serve; i++) {
        s->kb[i] = iotc_rss_kb(p->serve_pid[i]);
        s->cpu_s[i] = iotc_cpu_s(p->serve_pid[i]);
    }
}

static void procs__record(struct procs *p)
{
    for (int k = 0; k < p->o->workers; k++) {
        double c = p->child[k] > 0 ? iotc_cpu_s(p->child[k]) : -1;
        if (c >= 0)
            p->child_cpu_s[k] = c;
    }
    if (p->n_serve == 0)
        return;
    size_t i = p->n_samples < PROCS_SAMPLES_MAX ? p->n_samples++ : PROCS_SAMPLES_MAX - 1;
    procs__sample(p, &p->samples[i]);
}

static int procs__spawn(struct procs *p, int k, iotc_errtext *err)
{
    const struct iotc_fleet_procs_opts *o = p->o;
    char shard[32], dur[32], interval[32];
    char *argv[PROCS_ARGS];
    int a = 0;
    snprintf(shard, sizeof shard, "%d/%d", k + 1, o->workers);
    argv[a++] = "iotconform";
    argv[a++] = "fleet";
    argv[a++] = "--shard";
    argv[a++] = shard;
    argv[a++] = "--run";
    argv[a++] = (char *)o->run;
    argv[a++] = "--json";
    argv[a++] = p->json[k];
    if (o->quiet) {
        argv[a++] = "--quiet";
    } else { /* lines in its log, which procs__progress shows */
        snprintf(interval, sizeof interval, "%.3f", o->progress_interval);
        argv[a++] = "--progress-interval";
        argv[a++] = interval;
    }
    if (p->fl || o->target) {
        argv[a++] = "--target";
        argv[a++] = p->fl ? p->target : (char *)o->target;
    }
    if (o->duration > 0) {
        snprintf(dur, sizeof dur, "%.3f", o->duration);
        argv[a++] = "--duration";
        argv[a++] = dur;
    }
    if (o->pki) {
        argv[a++] = "--pki";
        argv[a++] = (char *)o->pki;
    }
    argv[a++] = (char *)o->spec_path;
    argv[a] = NULL;
    iotc_spawn_opts sp = {
        .path = o->self,
        .argv = argv,
        .out = {IOTC_SPAWN_FILE, -1, p->log[k]},
        .err = {IOTC_SPAWN_STDOUT, -1, NULL},
        .deathsig = SIGTERM,
        .ignore_sigint = true, /* Ctrl-C is forwarded once, by us */
    };
    if (iotc_spawn(&sp, &p->child[k]) != IOTC_OK)
        return iotc_errtext_set(err, IOTC_ERR_IO, "cannot start fleet process %d: %s", k + 1,
                                strerror(errno));
    return IOTC_OK;
}

/* The latest progress line each running shard wrote to its log (fleet's own periodic
 * lines, progress.c), one line per shard. */
static void procs__progress(const struct procs *p)
{
    for (int k = 0; k < p->o->workers; k++) {
        char buf[1024], *line = NULL;
        FILE *f = p->child[k] > 0 ? fopen(p->log[k], "r") : NULL;
        if (!f)
            continue;
        long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
        if (n > (long)sizeof buf - 1)
            fseek(f, n - (long)sizeof buf + 1, SEEK_SET);
        else
            rewind(f);
        size_t got = n > 0 ? fread(buf, 1, sizeof buf - 1, f) : 0;
        fclose(f);
        buf[got] = '\0';
        while (got > 0 && buf[got - 1] == '\n')
            buf[--got] = '\0';
        line = strrchr(buf, '\n');
        line = line ? line + 1 : buf;
        if (line[0] == '[')
            printf("shard %d/%d %s\n", k + 1, p->o->workers, line);
    }
    fflush(stdout);
}

/* Waits for every shard, sampling the endpoint's memory; a signal is passed on (SIGINT:
 * the shards drain and still write their summaries). Sleeps until a shard exits (SIGCHLD,
 * held pending while blocked and taken by sigtimedwait), a signal to pass on arrives, or
 * the next sample or progress line is due. */
static void procs__wait(struct procs *p)
{
    int left = p->o->workers, forwarded = 0;
    double next_sample = 0, next_progress = iotc_clock_wall_ms() + p->o->progress_interval * 1000;
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    while (left > 0) {
        if (procs__signal && forwarded < 2) {
            for (int k = 0; k < p->o->workers; k++)
                if (p->child[k] > 0)
                    kill(p->child[k], forwarded ? SIGTERM : SIGINT);
            forwarded++;
            procs__signal = 0;
        }
        for (int k = 0; k < p->o->workers; k++) {
            if (p->child[k] > 0 && iotc_spawn_reap(p->child[k], &p->status[k]) == 1) {
                p->child[k] = -1;
                left--;
            }
        }
        if (!p->o->quiet && iotc_clock_wall_ms() >= next_progress) {
            procs__progress(p);
            next_progress = iotc_clock_wall_ms() + p->o->progress_interval * 1000;
        }
        if (iotc_clock_wall_ms() >= next_sample) {
            procs__record(p);
            next_sample = iotc_clock_wall_ms() + PROCS_SAMPLE_MS;
        }
        double now = iotc_clock_wall_ms();
        double due = next_sample < next_progress || p->o->quiet ? next_sample : next_progress;
        double wait_ms = due > now ? due - now : 0;
        struct timespec ts = {(time_t)(wait_ms / 1000),
                              (long)((long long)wait_ms % 1000) * 1000000L};
        if (left > 0)
            sigtimedwait(&chld, NULL, &ts); /* EINTR (a signal to pass on) or EAGAIN: loop */
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* The endpoint's memory when the shards stopped publishing (the latest of their ends):
 * the sample just before it, so the figure is the one of every device connected. */
static const struct procs__sample *procs__at(const struct procs *p, double wall_ms)
{
    const struct procs__sample *best = NULL;
    for (size_t i = 0; i < p->n_samples; i++)
        if (!best || p->samples[i].wall_ms <= wall_ms)
            best = &p->samples[i];
    return best;
}

static double procs__per_dev(long after, long before, long long n)
{
    return after >= 0 && before >= 0 && n > 0 ? (double)(after - before) / (double)n : -1;
}

/* Memory of every process: the endpoint's from the samples, the shards' from their own
 * summaries (taken at their end of publishing). */
static void procs__memory(struct procs *p, json_t *merged)
{
    long long devices = json_integer_value(json_object_get(merged, "devices"));
    json_t *procs = json_array();
    long serve_kb = 0, serve_before = 0, fleet_kb = 0, fleet_before = 0;
    long broker_kb = -1, broker_before = -1;
    if (p->fl) {
        double end = 0;
        json_t *fp = json_object_get(merged, "fleet_processes"), *e;
        size_t i;
        json_array_foreach(fp, i, e)
        {
            double t = json_number_value(json_object_get(e, "publishing_end_ms"));
            end = t > end ? t : end;
        }
        const struct procs__sample *at = procs__at(p, end > 0 ? end : iotc_clock_wall_ms());
        for (int k = 0; at && k < p->n_serve; k++) {
            bool broker = k == p->n_serve - 1;
            char role[48];
            if (broker)
                snprintf(role, sizeof role, "mosquitto");
            else
                snprintf(role, sizeof role, "serve worker %d", k);
            const struct procs__sample *last = &p->samples[p->n_samples - 1];
            json_array_append_new(procs, json_pack("{s:s, s:i, s:I, s:I, s:f}", "process", role,
                                                   "pid", (int)p->serve_pid[k], "rss_before_kb",
                                                   (json_int_t)p->before.kb[k], "rss_kb",
                                                   (json_int_t)at->kb[k], "cpu_s",
                                                   last->cpu_s[k] - p->before.cpu_s[k]));
            if (broker) {
                broker_kb = at->kb[k];
                broker_before = p->before.kb[k];
            } else {
                serve_kb += at->kb[k];
                serve_before += p->before.kb[k];
            }
        }
    }
    json_t *fp = json_object_get(merged, "fleet_processes"), *e;
    size_t i;
    json_array_foreach(fp, i, e)
    {
        long kb = (long)json_integer_value(json_object_get(e, "fleet_rss_kb"));
        long before = (long)json_integer_value(json_object_get(e, "fleet_rss_before_kb"));
        char role[48];
        snprintf(role, sizeof role, "fleet shard %lld",
                 (long long)json_integer_value(json_object_get(e, "shard")));
        json_int_t shard = json_integer_value(json_object_get(e, "shard"));
        json_array_append_new(
            procs, json_pack("{s:s, s:I, s:I, s:I, s:f}", "process", role, "devices",
                             json_integer_value(json_object_get(e, "devices")), "rss_before_kb",
                             (json_int_t)before, "rss_kb", (json_int_t)kb, "cpu_s",
                             shard >= 1 && shard <= PROCS_MAX ? p->child_cpu_s[shard - 1] : -1.0));
        fleet_kb += kb;
        fleet_before += before;
    }
    json_t *mem = json_pack("{s:o, s:f, s:f, s:f}", "processes", procs, "fleet_kb_per_device",
                            procs__per_dev(fleet_kb, fleet_before, devices), "serve_kb_per_device",
                            p->fl ? procs__per_dev(serve_kb, serve_before, devices) : -1.0,
                            "broker_kb_per_device",
                            p->fl ? procs__per_dev(broker_kb, broker_before, devices) : -1.0);
    json_object_set_new(merged, "memory", mem);
}

static void procs__print_memory(json_t *merged, FILE *out)
{
    json_t *mem = json_object_get(merged, "memory"), *e;
    size_t i;
    json_array_foreach(json_object_get(mem, "processes"), i, e)
    {
        double cpu = json_number_value(json_object_get(e, "cpu_s"));
        char cpu_txt[32] = "unknown"; /* the process was gone when it was last sampled */
        if (cpu >= 0)
            snprintf(cpu_txt, sizeof cpu_txt, "%.1f s", cpu);
        fprintf(out, "  %-18s rss %8lld KB (before the devices %lld KB), cpu %s\n",
                json_string_value(json_object_get(e, "process")),
                (long long)json_integer_value(json_object_get(e, "rss_kb")),
                (long long)json_integer_value(json_object_get(e, "rss_before_kb")), cpu_txt);
    }
    fprintf(out, "  memory per device      fleet %.1f KB, serve %.1f KB, broker %.1f KB\n",
            json_number_value(json_object_get(mem, "fleet_kb_per_device")),
            json_number_value(json_object_get(mem, "serve_kb_per_device")),
            json_number_value(json_object_get(mem, "broker_kb_per_device")));
}

static int procs__endpoint(struct procs *p, iotc_errtext *err)
{
    const struct iotc_fleet_procs_opts *o = p->o;
    char n[16];
    if (o->serve_workers > 0) {
        snprintf(n, sizeof n, "%d", o->serve_workers);
        setenv("IOTCONFORM_SERVE_WORKERS", n, 1); /* serve's own default for --workers */
    }
    int rc = iotc_fleet_target_start_emulated(p->fl, o->serve_bin, o->pki, err);
    if (rc != IOTC_OK)
        return rc;
    p->n_serve = iotc_serve_child_worker_pids(&p->fl->serve, p->serve_pid, PROCS_SERVE_MAX);
    p->serve_pid[p->n_serve++] = iotc_serve_child_broker_pid(&p->fl->serve);
    return procs__target_file(p, err);
}

int iotc_fleet_procs_run(struct iotc_fleet_spec *spec, const struct iotc_fleet_procs_opts *o)
{
    struct procs p = {.o = o};
    iotc_errtext err = {0};
    json_t *merged = NULL;
    const char *files[PROCS_MAX];
    int rc, status = 2, have = 0;
    struct sigaction sa = {.sa_handler = procs__on_signal}, old_int, old_term;
    if (o->workers < 2 || o->workers > PROCS_MAX) {
        fprintf(stderr, "iotconform fleet: --workers: 2..%d processes\n", PROCS_MAX);
        return 2;
    }
    for (size_t i = 0; i < spec->n_faults; i++)
        if (!iotc_fault_is_network(spec->faults[i].f.kind)) {
            fprintf(stderr, "iotconform fleet: --workers: endpoint and broker restarts need "
                            "one process that owns the endpoint; run this spec without it\n");
            return 2;
        }
    snprintf(p.dir, sizeof p.dir, "/tmp/iotc-fleetw-XXXXXX");
    p.samples = calloc(PROCS_SAMPLES_MAX, sizeof *p.samples);
    if (!p.samples || !mkdtemp(p.dir)) {
        fprintf(stderr, "iotconform fleet: cannot create a work directory under /tmp\n");
        free(p.samples);
        return 2;
    }
    snprintf(p.target, sizeof p.target, "%s/target.json", p.dir);
    for (int k = 0; k < o->workers; k++) {
        p.child[k] = -1;
        snprintf(p.json[k], sizeof p.json[k], "%s/shard-%d.json", p.dir, k + 1);
        snprintf(p.log[k], sizeof p.log[k], "%s/shard-%d.log", p.dir, k + 1);
    }
    if (o->serve_workers && (spec->target.kind != IOTC_FLEET_TARGET_EMULATED || o->target)) {
        fprintf(stderr, "iotconform fleet: --serve-workers: the spec's target is external\n");
        free(p.samples);
        return 2;
    }
    if (spec->target.kind == IOTC_FLEET_TARGET_EMULATED && !o->target) {
        p.fl = calloc(1, sizeof *p.fl);
        if (!p.fl)
            goto cleanup;
        p.fl->spec = spec;
        iotc_raise_nofile(NULL); /* serve inherits it: the fleet's descriptors are its */
        if ((rc = procs__endpoint(&p, &err)) != IOTC_OK) {
            fprintf(stderr, "iotconform fleet: %s\n", err.msg[0] ? err.msg : iotc_strerror(rc));
            goto cleanup;
        }
        procs__sample(&p, &p.before);
    }
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    for (int k = 0; k < o->workers; k++)
        if ((rc = procs__spawn(&p, k, &err)) != IOTC_OK) {
            fprintf(stderr, "iotconform fleet: %s\n", err.msg);
            procs__signal = SIGTERM;
            break;
        }
    if (!o->quiet)
        printf("fleet %s: %d processes (logs in %s)\n", spec->name, o->workers, p.dir);
    fflush(stdout);
    procs__wait(&p);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    for (int k = 0; k < o->workers; k++) {
        struct stat st;
        if (stat(p.json[k], &st) == 0)
            files[have++] = p.json[k];
        else
            fprintf(stderr,
                    "iotconform fleet: process %d wrote no summary (exit status %d): see %s\n",
                    k + 1,
                    WIFEXITED(p.status[k]) ? WEXITSTATUS(p.status[k]) : 128 + WTERMSIG(p.status[k]),
                    p.log[k]);
    }
    if (have < o->workers)
        goto cleanup;
    if ((rc = iotc_fleet_merge_files(have, files, &merged, &err)) != IOTC_OK) {
        fprintf(stderr, "iotconform fleet: merging the processes' summaries: %s\n",
                err.msg[0] ? err.msg : iotc_strerror(rc));
        goto cleanup;
    }
    procs__memory(&p, merged);
    json_object_set_new(merged, "processes_dir", json_string(p.dir));
    printf("\n");
    iotc_fleet_merge_print(merged, stdout);
    procs__print_memory(merged, stdout);
    status = json_is_true(json_object_get(merged, "ok")) ? 0 : 1;
    if (o->json_out && json_dump_file(merged, o->json_out, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
        fprintf(stderr, "iotconform fleet: cannot write %s\n", o->json_out);
        status = 2;
    }
cleanup:
    for (int k = 0; k < o->workers; k++)
        if (p.child[k] > 0)
            iotc_spawn_stop(p.child[k], PROCS_STOP_MS, 0, false, NULL);
    if (p.fl) {
        iotc_fleet_target_stop(p.fl);
        free(p.fl);
    }
    json_decref(merged);
    free(p.samples);
    return status;
}
