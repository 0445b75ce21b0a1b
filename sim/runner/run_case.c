/* One case: pick the driver, run it, cut the journal excerpt, judge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cases/judge.h"
#include "run.h"

static int case__dispatch(const iotc_env *env, const iotc_case *c, size_t idx, iotc_drv_out *out)
{
    switch (c->client.driver) {
    case IOTC_CASE_DRV_WSS:
        return iotc_drv_wss(env, c, idx, out);
    case IOTC_CASE_DRV_PROBE:
        return iotc_drv_probe(env, c, idx, out);
    case IOTC_CASE_DRV_HELLO:
        return iotc_drv_hello(env, c, idx, out);
    case IOTC_CASE_DRV_MQTT:
        return iotc_drv_mqtt(env, c, idx, out);
    case IOTC_CASE_DRV_SESSION:
        return iotc_drv_session(env, c, idx, out);
    case IOTC_CASE_DRV_HTTPS:
        break;
    }
    return iotc_drv_https(env, c, idx, out);
}

static iotc_runner_target *case__target(iotc_runner_state *rs, const iotc_case *c)
{
    const char *p = c->profile;
    if (rs->target)
        return &rs->targets[0];
    for (size_t i = 0; i < rs->n_targets; i++)
        if (strcmp(rs->targets[i].profile, p) == 0)
            return &rs->targets[i];
    return NULL;
}

/* The journal is written by another process: events can trail our socket close. */
static json_t *case__excerpt(iotc_runner_state *rs, iotc_runner_target *t, iotc_result *r,
                             json_t *want)
{
    long deadline = iotc_clock_ms() + (want ? 500 : 0);
    json_t *ex = NULL;
    for (;;) {
        pthread_mutex_lock(&rs->lock);
        iotc_jreader_poll(&t->journal);
        ex = iotc_jreader_excerpt(&t->journal, r->jstart, 0, r->ports, r->n_ports);
        pthread_mutex_unlock(&rs->lock);
        if (!want || iotc_clock_ms() >= deadline)
            return ex;
        json_t *evs = iotc_jreader_events(ex);
        size_t i;
        json_t *w;
        int all = 1;
        json_array_foreach(want, i, w)
        {
            if (!iotc_jreader_has(evs, w))
                all = 0;
        }
        json_decref(evs);
        if (all)
            return ex;
        json_decref(ex);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void case__progress(iotc_runner_state *rs, iotc_result *r)
{
    bool bad = r->status == IOTC_ST_FAILED || r->status == IOTC_ST_ERROR;
    pthread_mutex_lock(&rs->lock);
    rs->finished++;
    if (iotc_progress_verbose(&rs->progress)) {
        fprintf(stderr, "[%zu/%zu] %-5s %s (%ld ms)\n", rs->finished, rs->n,
                iotc_status_verdict(r->status), r->c->id, r->duration_ms);
        if (bad)
            fprintf(stderr, "        %s\n", r->reason);
    }
    iotc_progress_case(&rs->progress, iotc_status_verdict(r->status), r->c->id, bad, r->reason,
                       r->duration_ms);
    pthread_mutex_unlock(&rs->lock);
}

void iotc_runner_case_exec(iotc_runner_state *rs, size_t i)
{
    iotc_result *r = &rs->results[i];
    const iotc_case *c = r->c;
    iotc_runner_target *t = case__target(rs, c);
    iotc_drv_out out;
    long t0;

    iotc_clock_wall_iso(r->started_at, sizeof(r->started_at));
    t0 = iotc_clock_ms();
    r->mismatches = json_array();
    if (iotc_run_interrupted) {
        r->status = IOTC_ST_SKIPPED;
        snprintf(r->reason, sizeof(r->reason), "run interrupted");
        goto done;
    }
    if (!t || !t->started) {
        r->status = IOTC_ST_ERROR;
        snprintf(r->reason, sizeof(r->reason), "endpoint for profile %s is not running: %.1500s",
                 c->profile, t ? t->error : "unknown profile");
        goto done;
    }
    if (rs->target) {
        char why[sizeof(r->reason)];
        if (iotc_target_skip(rs->target, c, rs->registry, why, sizeof(why))) {
            r->status = IOTC_ST_SKIPPED;
            snprintf(r->reason, sizeof(r->reason), "%s", why);
            goto done;
        }
    }
    r->serve_index = (int)(t - rs->targets);
    pthread_mutex_lock(&rs->lock);
    iotc_jreader_poll(&t->journal);
    r->jstart = iotc_jreader_count(&t->journal);
    pthread_mutex_unlock(&rs->lock);

    memset(&out, 0, sizeof(out));
    out.observed = json_object();
    case__dispatch(&t->env, c, i, &out);
    r->observed = out.observed;
    memcpy(r->ports, out.local_ports, sizeof(r->ports));
    r->n_ports = out.n_ports;
    if (out.error[0]) {
        r->status = IOTC_ST_ERROR;
        snprintf(r->reason, sizeof(r->reason), "%s", out.error);
        goto done;
    }

    json_t *expect, *dropped = NULL;
    if (t->external) {
        /* No journal: what only the emulator can show is not judged, and says so. */
        expect = iotc_target_expect(c, &dropped);
        if (json_array_size(dropped))
            json_object_set(r->observed, "not_judged", dropped);
        json_decref(dropped);
        r->journal = json_array();
    } else {
        expect = json_incref(iotc_case_expect(c));
        r->journal = case__excerpt(rs, t, r, c->expect.journal_has);
    }
    json_object_set_new(r->observed, "journal_events", iotc_jreader_events(r->journal));
    int mismatched = iotc_judge(expect, r->observed, r->mismatches);
    json_decref(expect);
    if (mismatched == 0) {
        r->status = IOTC_ST_PASSED;
    } else {
        char *why = iotc_judge_reason(r->mismatches);
        r->status = IOTC_ST_FAILED;
        snprintf(r->reason, sizeof(r->reason), "%s", why ? why : "mismatch");
        free(why);
    }
    pthread_mutex_lock(&rs->lock);
    int alive = t->external || iotc_serve_alive(&t->serve);
    pthread_mutex_unlock(&rs->lock);
    if (!alive && r->status == IOTC_ST_PASSED) {
        /* A case that crashes the endpoint did not pass, whatever it observed. */
        r->status = IOTC_ST_ERROR;
        snprintf(r->reason, sizeof(r->reason), "the endpoint (profile %s) exited during the case",
                 t->profile);
        t->started = 0;
        snprintf(t->error, sizeof(t->error), "it exited during %s", c->id);
    }
done:
    pthread_mutex_lock(&rs->lock);
    if (t)
        r->jend = iotc_jreader_count(&t->journal);
    pthread_mutex_unlock(&rs->lock);
    r->duration_ms = iotc_clock_ms() - t0;
    case__progress(rs, r);
}

void iotc_runner_case_final_journal(iotc_runner_state *rs)
{
    /* Every case's excerpt is cut again from the whole journal: index it once, or each
     * cut scans the rest of the journal (minutes on a full run). */
    for (size_t k = 0; k < rs->n_targets; k++) {
        iotc_jreader_poll(&rs->targets[k].journal);
        iotc_jreader_index_build(&rs->targets[k].journal);
    }
    for (size_t i = 0; i < rs->n; i++) {
        iotc_result *r = &rs->results[i];
        if (r->serve_index < 0 || !r->n_ports || rs->targets[r->serve_index].external)
            continue;
        json_decref(r->journal);
        r->journal = iotc_jreader_excerpt(&rs->targets[r->serve_index].journal, r->jstart, r->jend,
                                          r->ports, r->n_ports);
    }
}
