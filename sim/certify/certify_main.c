/*
 * `iotconform certify`: load the catalogue (strictly) and the adapter, pick the cases,
 * run them (--jobs at once, each with its own endpoint and device), write results.json
 * and the reports, print one line per case and the report path.
 */
#include "common/signals.h"
#include "common/spawn.h"

#include <errno.h>
#include <limits.h>
#include <mosquitto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "certify_main.h"
#include "config/paths.h"
#include "harness/pool.h"
#include "harness/progress.h"
#include "harness/results.h"

#define MAIN__MAX_CASES 256

typedef struct main__pool {
    const iotc_certify_run *r;
    iotc_certify_outcome *res;
    size_t *idx;
    size_t order[MAIN__MAX_CASES]; /* dispatch order: longest budget first */
    size_t n, finished;
    pthread_mutex_t lock;
    iotc_progress progress;
} main__pool;

static void main__on_signal(int sig)
{
    (void)sig;
    iotc_certify_interrupted = 1;
}

static void main__signals(void)
{
    iotc_install_stop_signals(main__on_signal);
    /* Children a device leaves behind are re-parented to us, so we can reap them. */
    iotc_spawn_subreaper();
}

/* Cases start longest budget first (results stay in catalogue order): with --jobs, a
 * minutes-long case started last would leave the other workers idle at the end. */
static void main__order(main__pool *p)
{
    for (size_t i = 0; i < p->n; i++) {
        size_t k = i;
        while (k > 0 && p->res[p->order[k - 1]].c->budget_ms < p->res[i].c->budget_ms) {
            p->order[k] = p->order[k - 1];
            k--;
        }
        p->order[k] = i;
    }
}

static void main__one_case(size_t j, void *arg)
{
    main__pool *p = arg;
    size_t i = p->order[j];
    iotc_certify_outcome *o = &p->res[i];
    long t0 = iotc_clock_ms();
    if (o->v != IOTC_CERTIFY_SKIPPED) {
        if (iotc_certify_interrupted) {
            o->v = IOTC_CERTIFY_SKIPPED;
            snprintf(o->reason, sizeof(o->reason), "not run: interrupted");
        } else {
            iotc_certify_case_run(p->r, o->c, p->idx[i], o);
        }
    }
    bool bad = o->v == IOTC_CERTIFY_FAIL || o->v == IOTC_CERTIFY_ERROR;
    long ms = iotc_clock_ms() - t0;
    pthread_mutex_lock(&p->lock);
    p->finished++;
    if (iotc_progress_verbose(&p->progress))
        fprintf(stderr, "[%zu/%zu] %-48s %-18s %s\n", p->finished, p->n, o->c->id,
                iotc_certify_verdict_name(o->v), o->reason);
    iotc_progress_case(&p->progress, iotc_certify_verdict_name(o->v), o->c->id, bad, o->reason, ms);
    pthread_mutex_unlock(&p->lock);
}

/* --shard K/N: keep this shard's part of idx[0..*n), in catalogue order (harness/shard.h). */
static int main__shard(const iotc_certify_opts *o, const iotc_certify_catalogue *cat, size_t *idx,
                       int *n, char *digest)
{
    const char *ids[MAIN__MAX_CASES];
    unsigned char keep[MAIN__MAX_CASES];
    int w = 0;
    for (int i = 0; i < *n; i++)
        ids[i] = cat->v[idx[i]].id;
    if (iotc_shard_select(&o->shard, ids, (size_t)*n, keep, digest) < 0)
        return -1;
    for (int i = 0; i < *n; i++)
        if (keep[i])
            idx[w++] = idx[i];
    if (w == 0) {
        fprintf(stderr, "iotconform certify: shard %d/%d of %d selected case(s) is empty\n",
                o->shard.k, o->shard.n, *n);
        return -1;
    }
    *n = w;
    return 0;
}

static void main__find_refdevice(const iotc_certify_opts *o, char *out, size_t len)
{
    snprintf(out, len, "%s", o->refdevice ? o->refdevice : iotc_paths_refdevice());
}

int iotc_certify_main(int argc, char **argv)
{
    iotc_certify_opts o;
    iotc_certify_catalogue cat = {0};
    iotc_certify_adapter ad = {0};
    iotc_certify_run r;
    main__pool pool;
    size_t idx[MAIN__MAX_CASES];
    iotc_certify_outcome *res = NULL;
    iotc_errtext e = {0};
    iotc_diag problems;
    char serve_bin[PATH_MAX], refdev[PATH_MAX], started[32], run_id[40], report[1200];
    const char *device_name;
    char shard_digest[80] = "";
    size_t selected = 0;
    int n, rc = 2;
    long t0;
    json_t *doc = NULL;

    memset(&r, 0, sizeof(r));
    memset(&pool, 0, sizeof(pool));
    if (iotc_certify_opts_parse(argc, argv, &o, &e) != 0) {
        fprintf(stderr, "iotconform certify: %s\n\n", e.msg);
        iotc_certify_usage(stderr);
        return 2;
    }
    if (o.help) {
        iotc_certify_usage(stdout);
        return 0;
    }
    if (iotc_certify_catalogue_load(o.catalogue, &cat, &problems) != 0) {
        fprintf(stderr, "iotconform certify: the catalogue %s is invalid, nothing was run:\n%s",
                o.catalogue, problems.msg);
        goto cleanup;
    }
    if (o.adapter && iotc_certify_adapter_load(o.adapter, o.adapter_dir, &ad, &e) != 0) {
        fprintf(stderr, "iotconform certify: %s\n", e.msg);
        goto cleanup;
    }
    n = iotc_certify_catalogue_select(&cat, o.suite, idx, MAIN__MAX_CASES, &e);
    if (n < 0) {
        fprintf(stderr, "iotconform certify: %s\n", e.msg);
        goto cleanup;
    }
    selected = (size_t)n;
    if (main__shard(&o, &cat, idx, &n, shard_digest) != 0)
        goto cleanup;
    if (o.list) {
        for (int i = 0; i < n; i++)
            printf("%s\t%s%s\n", cat.v[idx[i]].id, cat.v[idx[i]].title,
                   cat.v[idx[i]].qualification ? " [qualification]" : "");
        rc = 0;
        goto cleanup;
    }
    {
        ssize_t k = readlink("/proc/self/exe", serve_bin, sizeof(serve_bin) - 1);
        serve_bin[k > 0 ? k : 0] = '\0';
    }
    main__find_refdevice(&o, refdev, sizeof(refdev));
    if (!o.seed_given) {
        unsigned char b[4] = {0};
        RAND_bytes(b, sizeof(b));
        o.seed = ((unsigned long long)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }
    r.serve_bin = o.serve_bin ? o.serve_bin : serve_bin;
    if (!(o.pki_dir = iotc_paths_pki(o.pki_dir, &e))) {
        fprintf(stderr, "iotconform certify: %s\n", e.msg);
        goto cleanup;
    }
    /* Absolute paths: the device may change directory. */
    {
        static char pki_abs[PATH_MAX], out_abs[PATH_MAX];
        iotc_mkdirs(o.out_dir);
        r.pki_dir = realpath(o.pki_dir, pki_abs) ? pki_abs : o.pki_dir;
        r.out_dir = realpath(o.out_dir, out_abs) ? out_abs : o.out_dir;
    }
    r.refdevice = refdev;
    r.adapter_dir = o.adapter_dir;
    r.device_cert = o.device_cert;
    r.device_template = o.device;
    r.adapter = ad.root ? &ad : NULL;
    /* Compression needs a device that honours {time_scale}; a custom --device is trusted
     * when the user asks for it explicitly. */
    r.scale = (ad.root && !ad.time_scale && !o.device) ? 1.0 : o.scale;
    if (ad.root && !ad.time_scale && o.scale_given && o.scale != 1.0)
        fprintf(stderr,
                "iotconform certify: adapter %s does not honour {time_scale}; running "
                "at time scale 1\n",
                ad.name);
    r.seed = o.seed;
    device_name = o.name ? o.name : ad.root ? ad.name : "device";
    {
        char ca[1100];
        struct stat st;
        iotc_paths_pki_file(ca, sizeof(ca), o.pki_dir, IOTC_PKI_CA_BUNDLE, "");
        if (stat(ca, &st) != 0) {
            fprintf(stderr,
                    "iotconform certify: no test PKI at %s (build the `pki` target or "
                    "pass --pki)\n",
                    o.pki_dir);
            goto cleanup;
        }
    }
    rc = 1;
    res = calloc((size_t)n + 1, sizeof(*res));
    if (!res || iotc_mkdirs(o.out_dir) != 0) {
        fprintf(stderr, "iotconform certify: cannot create %s: %s\n", o.out_dir, strerror(errno));
        goto cleanup;
    }
    main__signals();
    mosquitto_lib_init();
    iotc_uuid_v4(run_id);
    iotc_clock_wall_iso(started, sizeof(started));
    t0 = iotc_clock_ms();
    for (int i = 0; i < n; i++) {
        char why[512];
        res[i].c = &cat.v[idx[i]];
        res[i].v = IOTC_CERTIFY_ERROR;
        if (iotc_certify_adapter_excludes(&ad, res[i].c->id, why, sizeof(why))) {
            res[i].v = IOTC_CERTIFY_SKIPPED;
            snprintf(res[i].reason, sizeof(res[i].reason), "%s", why);
            iotc_clock_wall_iso(res[i].started_at, sizeof(res[i].started_at));
        }
    }
    if (o.shard.n)
        fprintf(stderr, "iotconform certify: shard %d/%d: %d of %zu selected case(s) for %s, ",
                o.shard.k, o.shard.n, n, selected, device_name);
    else
        fprintf(stderr, "iotconform certify: %d case(s) for %s, ", n, device_name);
    fprintf(stderr, "time scale %g, seed %llu, jobs %d\n", r.scale, o.seed, o.jobs);
    pool.r = &r;
    pool.res = res;
    pool.idx = idx;
    pool.n = (size_t)n;
    main__order(&pool);
    pthread_mutex_init(&pool.lock, NULL);
    iotc_progress_init(&pool.progress, stderr,
                       o.verbose ? IOTC_PROGRESS_VERBOSE
                       : o.quiet ? IOTC_PROGRESS_QUIET
                                 : IOTC_PROGRESS_AUTO,
                       (size_t)n, o.jobs);
    iotc_progress_start(&pool.progress);
    iotc_pool_run(pool.n, o.jobs, main__one_case, &pool);
    iotc_progress_finish(&pool.progress);
    pthread_mutex_destroy(&pool.lock);

    doc = iotc_certify_document(&o, &r, device_name, res, (size_t)n, argc, argv, started,
                                iotc_clock_ms() - t0, run_id);
    if (o.shard.n)
        json_object_set_new(json_object_get(doc, "run"), "shard",
                            iotc_shard_json(&o.shard, selected, shard_digest));
    if (iotc_results_write(doc, o.out_dir, report, sizeof(report), &e) != 0) {
        fprintf(stderr, "iotconform certify: %s\n", e.msg);
        goto cleanup;
    }
    {
        json_t *v = json_object_get(doc, "verdicts");
        long pass = (long)json_integer_value(json_object_get(v, "PASS"));
        long warn = (long)json_integer_value(json_object_get(v, "PASS_WITH_WARNINGS"));
        long fail = (long)json_integer_value(json_object_get(v, "FAIL"));
        long error = (long)json_integer_value(json_object_get(v, "ERROR"));
        long skip = (long)json_integer_value(json_object_get(v, "SKIPPED"));
        long inconclusive = (long)json_integer_value(json_object_get(v, "INCONCLUSIVE"));
        char abs[PATH_MAX];
        fprintf(stderr,
                "\n%s: %d case(s): %ld PASS, %ld PASS_WITH_WARNINGS, %ld FAIL, %ld ERROR, "
                "%ld INCONCLUSIVE, %ld SKIPPED (%ld ms)%s\n",
                device_name, n, pass, warn, fail, error, inconclusive, skip,
                (long)(iotc_clock_ms() - t0), iotc_certify_interrupted ? " -- interrupted" : "");
        printf("report: %s\n", realpath(report, abs) ? abs : report);
        /* INCONCLUSIVE fails the run like ERROR: nothing showed the device complies. */
        rc = iotc_certify_interrupted                                      ? 130
             : (fail || error || inconclusive || (o.fail_on_warn && warn)) ? 1
                                                                           : 0;
    }
cleanup:
    if (res)
        for (int i = 0; i < n; i++) {
            json_decref(res[i].observed);
            json_decref(res[i].journal);
        }
    free(res);
    json_decref(doc);
    iotc_certify_adapter_free(&ad);
    iotc_certify_catalogue_free(&cat);
    return rc;
}
