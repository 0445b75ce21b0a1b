/*
 * One certification case: for each series (all at once) a fresh endpoint
 * (`serve --scenario`), the device command started with its placeholders filled, the journal
 * followed every POLL_MS while the runner's actions fire and the judge is asked whether it has seen
 * enough; at the end of the budget (or earlier) the device group is stopped, the
 * endpoint too, and the judge decides on everything.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cert_int.h"
#include "harness/diag.h"
#include "common/err.h"
#include "config/paths.h"
#include "harness/jreader.h"
#include "harness/results.h"
#include "harness/serve.h"
#include "common/jevents.h"

#define RUN__POLL_MS       100
#define RUN__EXIT_GRACE_MS 600 /* journal lines still arriving after the device exits */
#define RUN__STOP_GRACE_MS 2000
#define RUN__MAX_SERIES    IOTC_CERTIFY_MAX_SERIES

volatile int iotc_certify_interrupted;

const char *iotc_certify_case_template(const iotc_certify_run *r, const iotc_certify_case *c)
{
    const char *t = NULL;
    if (r->adapter && r->adapter->commands)
        t = json_string_value(json_object_get(r->adapter->commands, c->id));
    if (!t && r->device_template)
        t = r->device_template;
    if (!t && r->adapter)
        t = r->adapter->command;
    return t;
}

json_t *iotc_certify_case_vars(const iotc_certify_run *r, const iotc_certify_case *c,
                               const char *case_dir, int port_8883, int port_443,
                               unsigned long long seed, long budget_ms)
{
    char path[1200], seed_s[32];
    json_t *d = c->device ? c->device : json_object();
    json_t *v = json_object();
    const char *lport = json_string_value(json_object_get(d, "port"));
    bool persistent = json_is_true(json_object_get(d, "persistent"));
    json_t *x;

    json_object_set_new(v, "host", json_string("localhost"));
    json_object_set_new(v, "sni", json_string("localhost"));
    json_object_set_new(v, "port",
                        json_integer(lport && strcmp(lport, "443") == 0 ? port_443 : port_8883));
    iotc_paths_pki_file(path, sizeof(path), r->pki_dir, IOTC_PKI_CA_BUNDLE, "");
    json_object_set_new(v, "ca", json_string(path));
    iotc_paths_pki_file(path, sizeof(path), r->pki_dir, r->device_cert, IOTC_PKI_CERT_EXT);
    json_object_set_new(v, "cert", json_string(path));
    iotc_paths_pki_file(path, sizeof(path), r->pki_dir, r->device_cert, IOTC_PKI_KEY_EXT);
    json_object_set_new(v, "key", json_string(path));
    x = json_object_get(d, "client_id");
    json_object_set_new(v, "client_id",
                        json_string(json_is_string(x) ? json_string_value(x) : "iotc-cert-device"));
    x = json_object_get(d, "topic");
    json_object_set_new(v, "topic",
                        json_string(json_is_string(x) ? json_string_value(x) : "iotc/cert/in"));
    x = json_object_get(d, "pub_topic");
    json_object_set_new(v, "pub_topic",
                        json_string(json_is_string(x) ? json_string_value(x) : "iotc/cert/out"));
    x = json_object_get(d, "alpn");
    json_object_set_new(v, "alpn", json_string(json_is_string(x) ? json_string_value(x) : ""));
    x = json_object_get(d, "keepalive");
    json_object_set_new(v, "keepalive",
                        json_integer(json_is_integer(x) ? json_integer_value(x) : 60));
    x = json_object_get(d, "qos");
    json_object_set_new(v, "qos", json_integer(json_is_integer(x) ? json_integer_value(x) : 1));
    json_object_set_new(v, "persistent", json_string(persistent ? "1" : ""));
    json_object_set_new(v, "clean", json_string(persistent ? "0" : "1"));
    json_object_set_new(v, "region", json_string("us-east-1"));
    json_object_set_new(v, "account", json_string("123456789012"));
    json_object_set_new(v, "time_scale", json_real(r->scale));
    snprintf(seed_s, sizeof(seed_s), "%llu", seed);
    json_object_set_new(v, "seed", json_string(seed_s));
    x = json_object_get(d, "publish_every_ms");
    json_object_set_new(v, "publish_every_ms",
                        json_integer(json_is_integer(x)
                                         ? (json_int_t)((double)json_integer_value(x) * r->scale)
                                         : 0));
    json_object_set_new(v, "run_ms", json_integer(budget_ms));
    json_object_set_new(v, "case", json_string(c->id));
    json_object_set_new(v, "case_dir", json_string(case_dir));
    json_object_set_new(v, "refdevice", json_string(r->refdevice ? r->refdevice : ""));
    json_object_set_new(v, "adapter_dir", json_string(r->adapter_dir ? r->adapter_dir : ""));
    if (!c->device)
        json_decref(d);
    return v;
}

/* ISO 8601 UTC with milliseconds -> ms since the epoch. */
static double run__wall_ms(json_t *e)
{
    const char *w = json_string_value(json_object_get(e, IOTC_JF_WALL));
    struct tm tm;
    int ms = 0;
    memset(&tm, 0, sizeof(tm));
    if (!w || sscanf(w, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) * 1000.0 + ms;
}

/* One series: its endpoint(s), device, journal(s). */
typedef struct run__series {
    iotc_serve serve;
    bool serving;
    iotc_jreader j1, j2; /* j2: the endpoint started again after an outage */
    bool has_j2;
    double out_from_wall, out_to_wall; /* outage, wall clock ms */
    iotc_certify_device dev;
    double stop_wall;     /* the runner stopped the device */
    iotc_certify_end end; /* why observing stopped */
    long budget_ms, ran_ms;
    char run_dir[64]; /* short: the broker's unix socket lives there (108-byte limit) */
    long t0;          /* the device started (iotc_clock_ms) */
    bool running;
    iotc_certify_action_state act;
    json_t *lines; /* merged view, rebuilt on each poll */
    char dir[1100];
} run__series;

/* Offset that maps a journal's t onto wall-clock ms. */
static double run__clock(const iotc_jreader *j)
{
    json_t *e = json_array_get(j->lines, 0);
    double w = run__wall_ms(e), t = iotc_certify_entry_t(e);
    return (w < 0 || t < 0) ? 0 : w - t;
}

static void run__merge(run__series *s)
{
    size_t i;
    json_t *e;
    json_decref(s->lines);
    s->lines = json_array();
    json_array_extend(s->lines, s->j1.lines);
    if (s->out_from_wall > 0) {
        double base = run__clock(&s->j1);
        json_array_append_new(
            s->lines,
            json_pack("{s:s, s:f, s:f}", IOTC_JF_EVENT, IOTC_EV_CERTIFY_OUTAGE, IOTC_JF_T,
                      s->out_from_wall - base, IOTC_JF_UNTIL,
                      (s->out_to_wall > 0 ? s->out_to_wall : iotc_clock_wall_ms()) - base));
        if (s->has_j2) {
            double shift = run__clock(&s->j2) - base;
            json_array_foreach(s->j2.lines, i, e)
            {
                json_t *c = json_deep_copy(e);
                json_t *cn = json_object_get(c, IOTC_JF_CONN);
                if (json_is_number(json_object_get(c, IOTC_JF_T)))
                    json_object_set_new(c, IOTC_JF_T, json_real(iotc_certify_entry_t(c) + shift));
                /* Connection ids restart with the endpoint: keep them apart. */
                if (json_is_integer(cn))
                    json_object_set_new(c, IOTC_JF_CONN,
                                        json_integer(json_integer_value(cn) + 1000000));
                json_array_append_new(s->lines, c);
            }
        }
    }
}

/* A log's tail on one line, for a reason or an observation. */
static void run__tail(const char *path, char *out, size_t len)
{
    iotc_diag_file_tail(path, out, len);
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

static int run__start_serve(const iotc_certify_run *r, const iotc_certify_case *c, run__series *s,
                            const char *label, const char *ports, bool scenario, iotc_errtext *err)
{
    char profile[1100], *scen = NULL, scale[32];
    const char *extra[9] = {NULL};
    size_t k = 0;
    int rc;
    iotc_paths_profile(c->profile, profile, sizeof(profile));
    if (scenario && c->scenario) {
        /* The endpoint runs at real time: the scenario's delays follow the run's scale. */
        json_t *sc = json_deep_copy(c->scenario);
        json_t *cut = json_object_get(sc, "disconnect_after_withheld_ms");
        if (json_is_integer(cut))
            json_object_set_new(
                sc, "disconnect_after_withheld_ms",
                json_integer((json_int_t)((double)json_integer_value(cut) * r->scale + 0.5)));
        scen = json_dumps(sc, JSON_COMPACT);
        json_decref(sc);
        extra[k++] = "--scenario";
        extra[k++] = scen;
    }
    if (ports) {
        extra[k++] = "--ports";
        extra[k++] = ports;
    }
    if (r->scale != 1.0) {
        /* The device's 1 s minimum reconnect delay is compressed with its other timers;
         * AWS's one CONNECT per second per client ID follows it (README "throttling"). */
        snprintf(scale, sizeof scale, "%g", r->scale);
        extra[k++] = "--device-time-scale";
        extra[k++] = scale;
    }
    if (!s->run_dir[0]) {
        snprintf(s->run_dir, sizeof(s->run_dir), "/tmp/iotc-cert-XXXXXX");
        if (!mkdtemp(s->run_dir))
            s->run_dir[0] = '\0';
    }
    if (s->run_dir[0]) {
        extra[k++] = "--run-dir";
        extra[k++] = s->run_dir;
    }
    rc = iotc_serve_start_ex(&s->serve, r->serve_bin, r->pki_dir, label, profile, s->dir, 20000,
                             extra, err);
    free(scen);
    s->serving = rc == IOTC_OK;
    return rc;
}

/* The outage action: stop the endpoint, wait, start it again on the same ports. */
static void run__outage(const iotc_certify_run *r, const iotc_certify_case *c, run__series *s,
                        json_t *a, long t0, char *note, size_t notelen)
{
    long after = (long)((double)json_integer_value(json_object_get(a, "after_ms")) * r->scale);
    long len = (long)((double)json_integer_value(json_object_get(a, "outage_ms")) * r->scale);
    char ports[96];
    if (s->out_from_wall > 0 || iotc_clock_ms() - t0 < after)
        return;
    snprintf(ports, sizeof(ports), "8883=%d,8443=%d,443=%d", s->serve.port_8883, s->serve.port_8443,
             s->serve.port_443);
    iotc_jreader_poll(&s->j1);
    s->out_from_wall = iotc_clock_wall_ms();
    iotc_serve_stop(&s->serve, RUN__STOP_GRACE_MS);
    iotc_jreader_poll(&s->j1);
    for (long end = iotc_clock_ms() + len; iotc_clock_ms() < end && !iotc_certify_interrupted;) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        iotc_certify_device_poll(&s->dev);
    }
    iotc_errtext se = {0};
    if (run__start_serve(r, c, s, "after-outage", ports, false, &se) != IOTC_OK) {
        snprintf(note, notelen, "the endpoint did not come back after the outage: %.400s", se.msg);
        s->out_to_wall = iotc_clock_wall_ms();
        return;
    }
    s->out_to_wall = iotc_clock_wall_ms();
    iotc_jreader_init(&s->j2, s->serve.journal);
    s->has_j2 = true;
}

static void run__judge(const iotc_certify_run *r, const iotc_certify_case *c, run__series *ss,
                       size_t n, bool final, iotc_certify_outcome *out, iotc_certify_ctx *x)
{
    iotc_certify_obs obs[RUN__MAX_SERIES];
    iotc_certify_device devs[RUN__MAX_SERIES];
    char log[1200];
    memset(x, 0, sizeof(*x));
    for (size_t q = 0; q < n; q++) {
        iotc_certify_obs_build(&obs[q], ss[q].lines, ss[q].act.runner_ports,
                               ss[q].act.n_runner_ports);
        /* Judges learn of an exit only once its last journal lines had time to arrive. */
        devs[q] = ss[q].dev;
        if (!final && devs[q].exited && iotc_clock_ms() - devs[q].exited_ms < RUN__EXIT_GRACE_MS)
            devs[q].exited = false;
        obs[q].dev = &devs[q];
        if (ss[q].stop_wall > 0)
            obs[q].stop_t = ss[q].stop_wall - run__clock(&ss[q].j1);
        obs[q].ended = final ? ss[q].end : IOTC_CERTIFY_END_RUNNING;
        obs[q].now_t = obs[q].t_end;
        if (final && obs[q].stop_t > obs[q].now_t)
            obs[q].now_t = obs[q].stop_t;
        else if (!final && json_array_size(ss[q].j1.lines))
            obs[q].now_t = iotc_clock_wall_ms() - run__clock(&ss[q].j1);
        obs[q].budget_ms = ss[q].budget_ms;
        snprintf(log, sizeof(log), "%s/device.log", ss[q].dir);
        run__tail(log, obs[q].log_tail, 400);
    }
    x->c = c;
    x->obs = obs;
    x->n_series = n;
    x->scale = r->scale;
    x->final = final;
    x->observed = json_object();
    iotc_certify_judge_run(x);
    for (size_t q = 0; q < n; q++)
        iotc_certify_obs_free(&obs[q]);
    if (!final) {
        json_decref(x->observed);
        x->observed = NULL;
        return;
    }
    out->v = x->v;
    snprintf(out->reason, sizeof(out->reason), "%s", x->reason);
    out->observed = x->observed;
    x->observed = NULL;
}

/* The device's journal entries of the last series (at most 50) for the report. */
static json_t *run__excerpt(run__series *s)
{
    json_t *out = json_array(), *e;
    size_t i;
    json_array_foreach(s->lines, i, e)
    {
        bool runner = false;
        long pp = (long)json_integer_value(json_object_get(e, IOTC_JF_PEER_PORT));
        const char *ev = json_string_value(json_object_get(e, IOTC_JF_EVENT));
        if (json_array_size(out) >= 50)
            break;
        for (size_t k = 0; k < s->act.n_runner_ports; k++)
            runner |= s->act.runner_ports[k] == pp;
        if (runner || !ev ||
            (!json_object_get(e, IOTC_JF_CONN) && strcmp(ev, IOTC_EV_CERTIFY_OUTAGE) != 0))
            continue;
        json_t *c = json_deep_copy(e);
        json_object_set_new(c, IOTC_JF_T_MS, json_real(iotc_certify_entry_t(e)));
        json_array_append_new(out, c);
    }
    return out;
}

static int run__rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT;
}

/* rm -r of the private run dir the endpoint used (its files and sockets). */
static void run__rm_run_dir(run__series *s)
{
    if (!s->run_dir[0] || strncmp(s->run_dir, "/tmp/iotc-cert-", 15) != 0)
        return;
    nftw(s->run_dir, run__rm_one, 8, FTW_DEPTH | FTW_PHYS);
    s->run_dir[0] = '\0';
}

static void run__end_series(run__series *s)
{
    if (!s->dev.exited)
        s->stop_wall = iotc_clock_wall_ms();
    iotc_certify_device_stop(&s->dev, RUN__STOP_GRACE_MS);
    if (s->serving)
        iotc_serve_stop(&s->serve, RUN__STOP_GRACE_MS);
    s->serving = false;
    iotc_jreader_poll(&s->j1);
    if (s->has_j2)
        iotc_jreader_poll(&s->j2);
    run__merge(s);
}

/* device_exit of results.json: the runner's stop is never reported as the device's exit. */
static void run__device_exit(const run__series *s, char *out, size_t len)
{
    char how[96];
    iotc_certify_device_describe(&s->dev, how, sizeof(how));
    switch (s->end) {
    case IOTC_CERTIFY_END_BUDGET:
        snprintf(out, len, "still running when the %.0f s budget ended; stopped by the runner (%s)",
                 (double)s->budget_ms / 1000.0, how);
        break;
    case IOTC_CERTIFY_END_VERDICT:
        snprintf(out, len,
                 "still running when the judge had seen enough; stopped by the runner "
                 "(%s)",
                 how);
        break;
    case IOTC_CERTIFY_END_INTERRUPT:
        snprintf(out, len, "still running when the run was interrupted; stopped (%s)", how);
        break;
    default:
        snprintf(out, len, "%s", how);
    }
}

static void run__series_info(const run__series *s, iotc_certify_series_info *i)
{
    i->ended = s->end;
    i->exit_status = -1;
    i->signal = 0;
    if (s->dev.exited && WIFEXITED(s->dev.status))
        i->exit_status = WEXITSTATUS(s->dev.status);
    else if (s->dev.exited && WIFSIGNALED(s->dev.status))
        i->signal = WTERMSIG(s->dev.status);
    i->ran_ms =
        s->end == IOTC_CERTIFY_END_DEVICE ? s->dev.exited_ms - s->dev.started_ms : s->ran_ms;
    snprintf(i->log, sizeof(i->log), "%s/device.log", s->dir);
}

/* Starts series q: a fresh endpoint, then the device. 0, or -1 with out->reason. */
static int run__start_series(const iotc_certify_run *r, const iotc_certify_case *c, size_t index,
                             int q, run__series *s, long budget, iotc_certify_outcome *out)
{
    char err[2048], cmd[4096];
    const char *tpl = iotc_certify_case_template(r, c);
    if (c->repeat > 1)
        snprintf(s->dir, sizeof(s->dir), "%s/series-%d", out->case_dir, q + 1);
    else
        snprintf(s->dir, sizeof(s->dir), "%s", out->case_dir);
    iotc_mkdirs(s->dir);
    /* serve appends to its journal: a journal left by an earlier run in the same --out
     * would be judged as this run's (verdicts in 0.1 s on stale events). */
    for (size_t k = 0; k < 2; k++) {
        snprintf(err, sizeof(err), "%s/journal-%s.jsonl", s->dir, k ? "after-outage" : "endpoint");
        remove(err);
    }
    s->dev.pid = 0;
    s->budget_ms = budget;
    iotc_errtext te = {0};
    if (run__start_serve(r, c, s, "endpoint", NULL, true, &te) != IOTC_OK) {
        snprintf(out->reason, sizeof(out->reason), "the endpoint did not start: %.1900s", te.msg);
        return -1;
    }
    iotc_jreader_init(&s->j1, s->serve.journal);
    json_t *vars =
        iotc_certify_case_vars(r, c, s->dir, s->serve.port_8883, s->serve.port_443,
                               r->seed * 1000003ull + index * 101ull + (unsigned)q, budget);
    int frc = iotc_certify_template_fill(tpl ? tpl : "", vars, cmd, sizeof(cmd), &te);
    json_decref(vars);
    if (frc != 0 || !tpl) {
        snprintf(out->reason, sizeof(out->reason), "device template: %.1900s",
                 tpl ? te.msg : "no device command (use --device or --adapter)");
        return -1;
    }
    snprintf(out->command, sizeof(out->command), "%s", cmd);
    snprintf(err, sizeof(err), "%s/device.log", s->dir);
    {
        FILE *f = fopen(err, "w");
        if (f) {
            fprintf(f, "# %s\n", cmd);
            fclose(f);
        }
    }
    if (iotc_certify_device_start(&s->dev, cmd, err, &te) != IOTC_OK) {
        iotc_errtext_copy(&te, out->reason, sizeof(out->reason));
        return -1;
    }
    s->t0 = iotc_clock_ms();
    s->running = true;
    return 0;
}

/* One poll of a running series: its journals, device, actions and outage. */
static void run__poll_series(const iotc_certify_run *r, const iotc_certify_case *c, run__series *s,
                             iotc_certify_outcome *out)
{
    size_t i;
    json_t *a;
    iotc_jreader_poll(&s->j1);
    if (s->has_j2)
        iotc_jreader_poll(&s->j2);
    iotc_certify_device_poll(&s->dev);
    run__merge(s);
    iotc_certify_actions_step(c,
                              &(iotc_certify_endpoint){r->pki_dir, "localhost", s->serve.port_8883,
                                                       s->serve.port_8443, s->serve.port_443,
                                                       r->scale},
                              s->lines, &s->act);
    json_array_foreach(c->actions, i, a)
    {
        const char *what = json_string_value(json_object_get(a, "do"));
        if (what && strcmp(what, "outage") == 0)
            run__outage(r, c, s, a, s->t0, out->note, sizeof(out->note));
    }
    s->ran_ms = iotc_clock_ms() - s->t0;
}

/* The series of a case are independent (a fresh endpoint and device each) and run at
 * the same time: a case of two series at a device's real 30 s CONNACK timeout takes
 * one series' time, not two. The judge sees every series on each poll. */
void iotc_certify_case_run(const iotc_certify_run *r, const iotc_certify_case *c, size_t index,
                           iotc_certify_outcome *out)
{
    run__series ss[RUN__MAX_SERIES];
    size_t done = 0, running = 0;
    long t_case = iotc_clock_ms();
    long budget = (long)((double)c->budget_ms * r->scale);
    bool decided = false;
    iotc_certify_verdict early_v = IOTC_CERTIFY_UNDECIDED;
    char early_reason[2048] = "";
    iotc_certify_ctx x;

    memset(ss, 0, sizeof(ss));
    out->c = c;
    out->v = IOTC_CERTIFY_ERROR;
    iotc_clock_wall_iso(out->started_at, sizeof(out->started_at));
    if (budget < c->min_budget_ms)
        budget = c->min_budget_ms;
    snprintf(out->case_dir, sizeof(out->case_dir), "%s/cases/%s", r->out_dir, c->id);
    if (iotc_mkdirs(out->case_dir) != IOTC_OK) {
        snprintf(out->reason, sizeof(out->reason), "cannot create %s", out->case_dir);
        goto finish;
    }
    for (int q = 0; q < c->repeat && q < RUN__MAX_SERIES && !iotc_certify_interrupted; q++) {
        done++;
        if (run__start_series(r, c, index, q, &ss[q], budget, out))
            goto finish;
        running++;
    }
    while (running) {
        struct timespec ts = {0, RUN__POLL_MS * 1000 * 1000};
        nanosleep(&ts, NULL);
        for (size_t q = 0; q < done; q++)
            if (ss[q].running)
                run__poll_series(r, c, &ss[q], out);
        run__judge(r, c, ss, done, false, out, &x);
        if (x.v != IOTC_CERTIFY_UNDECIDED && !decided) {
            /* Decided on what the devices did by themselves: what follows (the runner
             * stopping them) must not change the verdict. */
            decided = true;
            early_v = x.v;
            snprintf(early_reason, sizeof(early_reason), "%s", x.reason);
        }
        for (size_t q = 0; q < done; q++) {
            run__series *s = &ss[q];
            if (!s->running)
                continue;
            if (decided)
                s->end = s->dev.exited ? IOTC_CERTIFY_END_DEVICE : IOTC_CERTIFY_END_VERDICT;
            else if (s->dev.exited && iotc_clock_ms() - s->dev.exited_ms > RUN__EXIT_GRACE_MS)
                s->end = IOTC_CERTIFY_END_DEVICE;
            else if (iotc_clock_ms() - s->t0 >= budget || iotc_certify_interrupted)
                /* A device that exited by itself just before keeps that as its end. */
                s->end = s->dev.exited              ? IOTC_CERTIFY_END_DEVICE
                         : iotc_certify_interrupted ? IOTC_CERTIFY_END_INTERRUPT
                                                    : IOTC_CERTIFY_END_BUDGET;
            else
                continue;
            run__end_series(s);
            s->running = false;
            running--;
        }
    }
    run__judge(r, c, ss, done, true, out, &x);
    if (decided) {
        out->v = early_v;
        snprintf(out->reason, sizeof(out->reason), "%s", early_reason);
    }
    if (iotc_certify_interrupted && out->v == IOTC_CERTIFY_UNDECIDED) {
        out->v = IOTC_CERTIFY_ERROR;
        snprintf(out->reason, sizeof(out->reason), "interrupted");
    }
    out->journal = done ? run__excerpt(&ss[done - 1]) : json_array();
    if (done)
        run__device_exit(&ss[done - 1], out->device_exit, sizeof(out->device_exit));
    out->budget_ms = budget;
    out->n_series = done;
    for (size_t q = 0; q < done; q++)
        run__series_info(&ss[q], &out->series[q]);
    for (size_t q = 0; q < done; q++)
        if (ss[q].act.note[0])
            snprintf(out->note, sizeof(out->note), "%s", ss[q].act.note);
finish:
    for (size_t q = 0; q < RUN__MAX_SERIES; q++) {
        if (ss[q].dev.pid > 0)
            iotc_certify_device_stop(&ss[q].dev, RUN__STOP_GRACE_MS);
        if (ss[q].serving)
            iotc_serve_stop(&ss[q].serve, RUN__STOP_GRACE_MS);
        if (q < done || ss[q].j1.lines) {
            iotc_jreader_free(&ss[q].j1);
            if (ss[q].has_j2)
                iotc_jreader_free(&ss[q].j2);
        }
        json_decref(ss[q].lines);
        run__rm_run_dir(&ss[q]);
    }
    if (!out->journal)
        out->journal = json_array();
    if (!out->observed)
        out->observed = json_object();
    out->duration_ms = iotc_clock_ms() - t_case;
}
