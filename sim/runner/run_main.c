/*
 * `iotconform run`: load and check every table before starting anything, start
 * one endpoint per profile, run the cases, write results.json, stop the children.
 */
#include "common/signals.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <mosquitto.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "config/paths.h"
#include "config/profile.h"
#include "config/registry.h"
#include "harness/pool.h"
#include "run.h"
#include "cli/commands.h"

volatile sig_atomic_t iotc_run_interrupted;

static void main__on_signal(int sig)
{
    (void)sig;
    iotc_run_interrupted = 1;
}

static int main__suite_match(const char *path, const char *name)
{
    const char *base = strrchr(path, '/');
    size_t n = strlen(name);
    base = base ? base + 1 : path;
    if (strncmp(base, name, n) != 0)
        return 0;
    return strcmp(base + n, ".json") == 0 || base[n] == '-';
}

/* Tables to load: named suites, files, or the whole directory. */
static int main__load(const iotc_runner_opts *o, iotc_caseset *set, iotc_diag *d)
{
    char **paths = NULL;
    size_t n = 0;
    int rc = IOTC_OK;

    if (iotc_cases_list_dir(o->suites_dir, &paths, &n) != IOTC_OK && o->n_suites == 0) {
        iotc_diag_add(d, "%s: cannot read the suites directory (set IOTCONFORM_SUITES)",
                      o->suites_dir);
        return IOTC_ERR_NOT_FOUND;
    }
    if (o->n_suites == 0) {
        for (size_t i = 0; i < n; i++)
            if (iotc_cases_is_table(paths[i]) && iotc_cases_load_file(paths[i], set, d) != IOTC_OK)
                rc = IOTC_ERR_CONFIG;
        goto cleanup;
    }
    for (size_t s = 0; s < o->n_suites; s++) {
        const char *name = o->suites[s];
        int found = 0;
        if (strchr(name, '/') || strstr(name, ".json")) {
            if (iotc_cases_load_file(name, set, d) != IOTC_OK)
                rc = IOTC_ERR_CONFIG;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (!main__suite_match(paths[i], name))
                continue;
            found = 1;
            if (iotc_cases_load_file(paths[i], set, d) != IOTC_OK)
                rc = IOTC_ERR_CONFIG;
        }
        if (!found) {
            iotc_diag_add(d, "unknown suite \"%s\": no %s/%s.json or %s-*.json", name,
                          o->suites_dir, name, name);
            rc = IOTC_ERR_NOT_FOUND;
        }
    }
cleanup:
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    return rc;
}

/* --shard K/N: keep this shard's part of the selection, in table order; rs->n becomes the
 * shard's count. digest identifies the whole selection (shard.h). */
static int main__shard(const iotc_runner_opts *o, iotc_runner_state *rs, char *digest)
{
    const char **ids = calloc(rs->n, sizeof *ids);
    unsigned char *keep = calloc(rs->n, 1);
    size_t w = 0;
    int rc = -1;
    if (!ids || !keep)
        goto cleanup;
    for (size_t i = 0; i < rs->n; i++)
        ids[i] = rs->results[i].c->id;
    if (iotc_shard_select(&o->shard, ids, rs->n, keep, digest) < 0)
        goto cleanup;
    for (size_t i = 0; i < rs->n; i++)
        if (keep[i])
            rs->results[w++] = rs->results[i];
    if (w == 0) {
        fprintf(stderr, "iotconform run: shard %d/%d of %zu selected case(s) is empty\n",
                o->shard.k, o->shard.n, rs->n);
        goto cleanup;
    }
    rs->n = w;
    rc = 0;
cleanup:
    free(ids);
    free(keep);
    return rc;
}

static int main__selected(const iotc_runner_opts *o, const iotc_case *c)
{
    int ok;
    if (o->profile && strcmp(o->profile, iotc_case_str(c, "profile")) != 0)
        return 0;
    ok = o->n_filters == 0;
    for (size_t i = 0; i < o->n_filters && !ok; i++)
        ok = iotc_case_matches(c, o->filters[i]);
    if (!ok)
        return 0;
    ok = o->n_labels == 0;
    for (size_t i = 0; i < o->n_labels && !ok; i++)
        ok = iotc_case_has_label(c, o->labels[i]);
    return ok;
}

/* One target for every case: the external endpoint (skips decide per case). */
static void main__external_target(iotc_runner_state *rs)
{
    iotc_runner_target *t = &rs->targets[0];
    memset(t, 0, sizeof(*t));
    rs->n_targets = 1;
    snprintf(t->profile, sizeof(t->profile), "%s", rs->target->profile);
    t->external = 1;
    t->started = 1;
    iotc_jreader_init(&t->journal, "");
    t->env.pki_dir = rs->opts->pki_dir;
    iotc_target_env(rs->target, &t->env);
    snprintf(t->env.run_tag, sizeof(t->env.run_tag), "%.8s0", rs->run_tag);
    fprintf(stderr, "external target %s: %s (IPv4 %s, IPv6 %s) 8883->%d 8443->%d 443->%d\n",
            rs->target->name, rs->target->host, t->env.addr4[0] ? t->env.addr4 : "-",
            t->env.addr6[0] ? t->env.addr6 : "-", t->env.port_8883, t->env.port_8443,
            t->env.port_443);
}

static int main__start_targets(iotc_runner_state *rs, const iotc_runner_opts *o,
                               const char *serve_bin)
{
    int failed = 0;
    for (size_t i = 0; i < rs->n; i++) {
        const char *p = iotc_case_str(rs->results[i].c, "profile");
        size_t k = 0;
        while (k < rs->n_targets && strcmp(rs->targets[k].profile, p) != 0)
            k++;
        if (k < rs->n_targets)
            continue;
        if (rs->n_targets == sizeof(rs->targets) / sizeof(rs->targets[0])) {
            fprintf(stderr, "iotconform run: too many profiles in one run (at most %d)\n",
                    IOTC_RUNNER_MAX_PROFILES);
            return -1;
        }
        iotc_runner_target *t = &rs->targets[rs->n_targets++];
        memset(t, 0, sizeof(*t));
        snprintf(t->profile, sizeof(t->profile), "%s", p);
        iotc_paths_profile(p, t->profile_path, sizeof(t->profile_path));
    }
    for (size_t k = 0; k < rs->n_targets && !iotc_run_interrupted; k++) {
        iotc_runner_target *t = &rs->targets[k];
        struct stat st;
        if (stat(t->profile_path, &st) != 0) {
            snprintf(t->error, sizeof(t->error), "profile file %s: %s", t->profile_path,
                     strerror(errno));
            fprintf(stderr, "iotconform run: %s\n", t->error);
            failed++;
            continue;
        }
        fprintf(stderr, "starting endpoint (profile %s) ...\n", t->profile);
        /* The drivers and the endpoint must read the same registry. */
        const char *extra[] = {"--registry", iotc_paths_registry(), NULL};
        iotc_errtext se = {0};
        if (iotc_serve_start_ex(&t->serve, serve_bin, o->pki_dir, t->profile, t->profile_path,
                                o->out_dir, 20000, extra, &se) != IOTC_OK) {
            iotc_errtext_copy(&se, t->error, sizeof(t->error));
            fprintf(stderr, "iotconform run: the endpoint did not start: %s\n", t->error);
            failed++;
            continue;
        }
        t->started = 1;
        iotc_jreader_init(&t->journal, t->serve.journal);
        t->env.pki_dir = o->pki_dir;
        t->env.endpoint = "localhost";
        t->env.port_8883 = t->serve.port_8883;
        t->env.port_8443 = t->serve.port_8443;
        t->env.port_443 = t->serve.port_443;
        t->env.registry = rs->registry;
        snprintf(t->env.run_tag, sizeof(t->env.run_tag), "%.8s%u", rs->run_tag, (unsigned)(k % 10));
        fprintf(stderr, "endpoint (profile %s) ready: 8883->%d 8443->%d 443->%d\n", t->profile,
                t->env.port_8883, t->env.port_8443, t->env.port_443);
    }
    return failed;
}

/* The registry the serve children use by default; the door drivers read the
 * SigV4 secrets from it. A missing one only fails the cases that need it. */
static json_t *main__registry(void)
{
    iotc_errtext ce;
    json_t *r = iotc_registry_doc(iotc_paths_registry(), &ce);
    if (!r)
        fprintf(stderr, "iotconform run: registry %s (SigV4 cases will error)\n", ce.msg);
    return r;
}

static void main__stop_targets(iotc_runner_state *rs)
{
    for (size_t k = 0; k < rs->n_targets; k++)
        if (!rs->targets[k].external)
            iotc_serve_stop(&rs->targets[k].serve, 5000);
}

static void main__one_case(size_t i, void *arg)
{
    iotc_runner_state *rs = arg;
    iotc_runner_case_exec(rs, i);
    pthread_mutex_lock(&rs->lock);
    for (size_t k = 0; k < rs->n_targets; k++)
        if (rs->targets[k].started && !rs->targets[k].external)
            iotc_serve_drain(&rs->targets[k].serve);
    pthread_mutex_unlock(&rs->lock);
}

static void main__run_cases(iotc_runner_state *rs, int jobs)
{
    /* One job runs on this thread. */
    iotc_pool_run(rs->n, jobs > 1 ? jobs : 0, main__one_case, rs);
}

static json_t *main__environment(iotc_runner_state *rs)
{
    curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    int maj, min, rev;
    char mv[32];
    mosquitto_lib_version(&maj, &min, &rev);
    snprintf(mv, sizeof(mv), "%d.%d.%d", maj, min, rev);
    json_t *env = json_pack("{s:s, s:s, s:s, s:s}", "openssl", OpenSSL_version(OPENSSL_VERSION),
                            "libcurl", cv->version, "libmosquitto", mv, "mosquitto", mv);
    json_t *profiles = json_object();
    if (rs->target) {
        json_object_set_new(env, "profile", json_string(rs->target->profile));
        json_object_set_new(env, "profiles", profiles);
        return env;
    }
    for (size_t k = 0; k < rs->n_targets; k++) {
        iotc_runner_target *t = &rs->targets[k];
        struct iotc_profile prof;
        iotc_errtext ce;
        bool loaded = iotc_profile_load(t->profile_path, &prof, &ce) == IOTC_OK;
        json_t *policy = loaded ? json_string(prof.policy_name) : NULL;
        json_t *p = json_pack("{s:s, s:s, s:b}", "file", t->profile_path, "journal",
                              t->serve.journal, "started", t->started);
        json_object_set(p, "security_policy", policy);
        if (t->started || t->env.port_8883)
            json_object_set_new(p, "ports",
                                json_pack("{s:i, s:i, s:i}", "8883", t->env.port_8883, "8443",
                                          t->env.port_8443, "443", t->env.port_443));
        if (!t->started && t->error[0])
            json_object_set_new(p, "error", json_string(t->error));
        if (k == 0) {
            json_object_set_new(env, "profile", json_string(t->profile));
            json_object_set(env, "security_policy", policy);
            json_object_set(env, "ports", json_object_get(p, "ports"));
        }
        json_object_set_new(profiles, t->profile, p);
        json_decref(policy);
        if (loaded)
            iotc_profile_free(&prof);
    }
    json_object_set_new(env, "profiles", profiles);
    return env;
}

static json_t *main__document(iotc_runner_state *rs, int argc, char **argv, const char *started,
                              long duration_ms, const char *run_id)
{
    char finished[32], host[256] = "unknown", cmd[2048] = "iotconform";
    size_t used = strlen(cmd);
    int passed = 0, failed = 0, skipped = 0, errored = 0;
    json_t *cases = json_array();

    iotc_clock_wall_iso(finished, sizeof(finished));
    gethostname(host, sizeof(host) - 1);
    for (int i = 0; i < argc && used + 2 < sizeof(cmd); i++)
        used += (size_t)snprintf(cmd + used, sizeof(cmd) - used, " %s", argv[i]);
    for (size_t i = 0; i < rs->n; i++) {
        iotc_result *r = &rs->results[i];
        passed += r->status == IOTC_ST_PASSED;
        failed += r->status == IOTC_ST_FAILED;
        skipped += r->status == IOTC_ST_SKIPPED;
        errored += r->status == IOTC_ST_ERROR;
        json_array_append_new(cases, iotc_result_case_json(r));
    }
    json_t *target = rs->target ? iotc_target_json(rs->target)
                                : json_pack("{s:s, s:s}", "kind", "emulated", "host", "localhost");
    return json_pack("{s:s, s:i, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}, s:o, "
                     "s:o, s:{s:i, s:i, s:i, s:i, s:i}, s:o}",
                     "schema", "iotconform-results", "schema_version", 1, "run", "id", run_id,
                     "kind", "conformance", "tool_version", iotc_results_tool_version(),
                     "git_revision", iotc_results_git_revision(), "started_at", started,
                     "finished_at", finished, "duration_ms", (json_int_t)duration_ms, "host", host,
                     "command", cmd, "environment", main__environment(rs), "target", target,
                     "totals", "total", (int)rs->n, "passed", passed, "failed", failed, "skipped",
                     skipped, "errored", errored, "cases", cases);
}

static void main__serve_bin(const iotc_runner_opts *o, char *out, size_t len)
{
    ssize_t n;
    if (o->serve_bin) {
        snprintf(out, len, "%s", o->serve_bin);
        return;
    }
    n = readlink("/proc/self/exe", out, len - 1);
    out[n > 0 ? n : 0] = '\0';
}

static void main__install_signals(void)
{
    iotc_install_stop_signals(main__on_signal);
}

int iotc_runner_main(int argc, char **argv)
{
    iotc_runner_opts o;
    iotc_runner_state rs;
    iotc_caseset set = {0};
    iotc_diag d;
    char serve_bin[PATH_MAX], started[32], run_id[40], report[1200], pki_ca[PATH_MAX];
    char shard_digest[80] = "";
    size_t selected = 0;
    int rc = 2;
    long t0;
    json_t *doc = NULL;
    struct stat st;

    memset(&rs, 0, sizeof(rs));
    pthread_mutex_init(&rs.lock, NULL);
    iotc_diag_init(&d);
    iotc_errtext oe;
    iotc_errtext_clear(&oe);
    if (iotc_runner_opts_parse(argc, argv, &o, &oe) != 0) {
        fprintf(stderr, "iotconform run: %s\n\n", oe.msg);
        iotc_runner_opts_usage(stderr);
        return 2;
    }
    if (o.help) {
        iotc_runner_opts_usage(stdout);
        return 0;
    }
    rs.opts = &o;
    if (o.target) {
        rs.target = calloc(1, sizeof(*rs.target));
        if (!rs.target || iotc_target_load(o.target, rs.target, &d) != IOTC_OK) {
            fprintf(stderr,
                    "iotconform run: %d problem(s) in the target file, nothing was run:\n%s",
                    d.count, d.msg);
            goto cleanup;
        }
    }
    if (main__load(&o, &set, &d) != IOTC_OK || d.count) {
        fprintf(stderr, "iotconform run: %d problem(s) in the case tables, nothing was run:\n%s",
                d.count, d.msg);
        goto cleanup;
    }
    rs.results = calloc(set.n ? set.n : 1, sizeof(*rs.results));
    if (!rs.results)
        goto cleanup;
    for (size_t i = 0; i < set.n; i++) {
        if (!main__selected(&o, &set.v[i]))
            continue;
        rs.results[rs.n].c = &set.v[i];
        rs.results[rs.n].serve_index = -1;
        rs.n++;
    }
    if (rs.n == 0) {
        fprintf(stderr, "iotconform run: no case matches the selection (%zu loaded)\n", set.n);
        goto cleanup;
    }
    selected = rs.n;
    rs.not_applicable = set.not_applicable;
    if (main__shard(&o, &rs, shard_digest) != 0)
        goto cleanup;
    if (o.list) {
        for (size_t i = 0; i < rs.n; i++)
            printf("%s\t%s\n", rs.results[i].c->id, iotc_case_str(rs.results[i].c, "title"));
        rc = 0;
        goto cleanup;
    }
    {
        /* An external target may not need it: only the emulator's cases insist. */
        iotc_errtext pe = {0};
        const char *pki = iotc_paths_pki(o.pki_dir, &pe);
        if (!pki && !o.target) {
            fprintf(stderr, "iotconform run: %s\n", pe.msg);
            goto cleanup;
        }
        o.pki_dir = pki ? pki : iotc_paths_pki_default();
    }
    iotc_paths_pki_file(pki_ca, sizeof(pki_ca), o.pki_dir, IOTC_PKI_CA_BUNDLE, "");
    if (!o.target && stat(pki_ca, &st) != 0) {
        fprintf(stderr,
                "iotconform run: no test PKI at %s (build the `pki` target or pass --pki)\n",
                o.pki_dir);
        goto cleanup;
    }

    rc = 1;
    main__install_signals();
    mosquitto_lib_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    iotc_random_hex(rs.run_tag, 4);
    iotc_uuid_v4(run_id);
    iotc_clock_wall_iso(started, sizeof(started));
    t0 = iotc_clock_ms();
    if (iotc_mkdirs(o.out_dir) != IOTC_OK) {
        fprintf(stderr, "iotconform run: cannot create %s: %s\n", o.out_dir, strerror(errno));
        goto cleanup;
    }
    main__serve_bin(&o, serve_bin, sizeof(serve_bin));
    rs.registry = main__registry();
    if (o.shard.n)
        fprintf(stderr, "iotconform run: shard %d/%d: %zu of %zu selected case(s), %s, jobs %d\n",
                o.shard.k, o.shard.n, rs.n, selected, o.target ? o.target : serve_bin, o.jobs);
    else
        fprintf(stderr, "iotconform run: %zu case(s), %s, jobs %d\n", rs.n,
                o.target ? o.target : serve_bin, o.jobs);
    if (o.target)
        main__external_target(&rs);
    else
        main__start_targets(&rs, &o, serve_bin);
    iotc_progress_init(&rs.progress, stderr,
                       o.verbose ? IOTC_PROGRESS_VERBOSE
                       : o.quiet ? IOTC_PROGRESS_QUIET
                                 : IOTC_PROGRESS_AUTO,
                       rs.n, o.jobs);
    iotc_progress_start(&rs.progress);
    main__run_cases(&rs, o.jobs);
    iotc_progress_finish(&rs.progress);
    iotc_runner_case_final_journal(&rs);
    main__stop_targets(&rs);

    doc = main__document(&rs, argc, argv, started, iotc_clock_ms() - t0, run_id);
    /* The report shows a declared cell as N/A only where the matrix has its row and family. */
    if (doc && rs.not_applicable)
        json_object_set(doc, "not_applicable", rs.not_applicable);
    if (o.shard.n)
        json_object_set_new(json_object_get(doc, "run"), "shard",
                            iotc_shard_json(&o.shard, selected, shard_digest));
    json_t *totals = json_object_get(doc, "totals");
    long passed = (long)json_integer_value(json_object_get(totals, "passed"));
    long failed = (long)json_integer_value(json_object_get(totals, "failed"));
    long errored = (long)json_integer_value(json_object_get(totals, "errored"));
    long skipped = (long)json_integer_value(json_object_get(totals, "skipped"));
    fprintf(stderr, "\n%zu case(s): %ld passed, %ld failed, %ld errored, %ld skipped (%ld ms)%s\n",
            rs.n, passed, failed, errored, skipped, (long)(iotc_clock_ms() - t0),
            iotc_run_interrupted ? " -- interrupted" : "");
    iotc_errtext we = {0};
    if (iotc_results_write(doc, o.out_dir, report, sizeof(report), &we) != IOTC_OK) {
        fprintf(stderr, "iotconform run: %s\n", we.msg);
        goto cleanup;
    }
    {
        char abs[PATH_MAX];
        printf("report: %s\n", realpath(report, abs) ? abs : report);
    }
    rc = iotc_run_interrupted ? 130 : (failed || errored) ? 1 : 0;
cleanup:
    main__stop_targets(&rs);
    for (size_t k = 0; k < rs.n_targets; k++)
        iotc_jreader_free(&rs.targets[k].journal);
    for (size_t i = 0; i < rs.n; i++) {
        json_decref(rs.results[i].observed);
        json_decref(rs.results[i].mismatches);
        json_decref(rs.results[i].journal);
    }
    free(rs.results);
    if (rs.target) {
        iotc_target_free(rs.target);
        free(rs.target);
    }
    json_decref(rs.registry);
    json_decref(doc);
    iotc_caseset_free(&set);
    pthread_mutex_destroy(&rs.lock);
    return rc;
}
