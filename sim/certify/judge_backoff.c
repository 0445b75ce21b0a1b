/*
 * Reconnect judges. A retry delay is the time from the end of one attempt (the device
 * closing a connection whose CONNACK was withheld, or the server cutting it) to the
 * start of the next (conn.accept). Delays are divided by the run's time scale before
 * classification, so a compressed reference device is judged on its real schedule.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cert_int.h"

#define BACKOFF__MAX     64
#define BACKOFF__NOISE_S 0.03 /* real-time measurement tolerance (spawn, TLS, scheduling) */
/* Silence after a server disconnect that is no backoff any more (AWS SDKs start at 1 s and
 * cap at 120 s with full jitter, so a first reconnect comes well within this). */
#define RECONNECT__SILENT_S 30.0

typedef struct backoff__series {
    double d[BACKOFF__MAX]; /* seconds, unscaled */
    size_t n;
    size_t attempts;   /* withheld / cut attempts seen */
    bool open_end;     /* the last such attempt has no successor yet */
    double last_close; /* journal ms the last such attempt ended, -1 while it is open */
} backoff__series;

/* mode "connack": attempts whose CONNACK was withheld; "disconnect": sessions the server cut. */
static void backoff__collect(const iotc_certify_obs *o, bool cut, double scale, backoff__series *s)
{
    const iotc_certify_conn *c[BACKOFF__MAX + 1];
    size_t n = iotc_certify_obs_device_conns(o, c, BACKOFF__MAX + 1);
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < n; i++) {
        bool failed = cut ? c[i]->scenario_cut : c[i]->connack_withheld;
        if (!failed)
            continue;
        s->attempts++;
        s->last_close = c[i]->t_close;
        if (c[i]->t_close < 0 || i + 1 >= n || c[i + 1]->t_accept < 0) {
            s->open_end = true;
            continue;
        }
        double d = (c[i + 1]->t_accept - c[i]->t_close) / 1000.0;
        if (s->n < BACKOFF__MAX)
            s->d[s->n++] = (d > 0 ? d : 0) / scale;
    }
}

static json_t *backoff__json(const backoff__series *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n; i++)
        json_array_append_new(a, json_real(round(s->d[i] * 1000) / 1000));
    return a;
}

/* Collects every series; returns how many are complete (want delays each). */
static size_t backoff__gather(iotc_certify_ctx *x, bool cut, size_t want, backoff__series *ss)
{
    size_t complete = 0;
    json_t *arr = json_array();
    for (size_t q = 0; q < x->n_series; q++) {
        backoff__collect(&x->obs[q], cut, x->scale, &ss[q]);
        complete += ss[q].n >= want;
        json_array_append_new(arr, backoff__json(&ss[q]));
    }
    json_object_set_new(x->observed, "retry_delays_s", arr);
    if (x->scale != 1.0)
        json_object_set_new(x->observed, "time_scale", json_real(x->scale));
    x->series_done = x->n_series && ss[x->n_series - 1].n >= want;
    return complete;
}

/* A series that saw fewer attempts than the case needs, and did not end because the
 * device exited: is the device still retrying, or silent for longer than its schedule
 * explains (3x its longest delay, the fastest growth the classifier fits)? */
static void backoff__still(const iotc_certify_ctx *x, const iotc_certify_obs *o, const backoff__series *s,
                           char *out, size_t len)
{
    double longest = 0, stop = o->stop_t >= 0 ? o->stop_t : o->t_end;
    for (size_t i = 0; i < s->n; i++)
        longest = s->d[i] > longest ? s->d[i] : longest;
    double silent = s->last_close >= 0 ? (stop - s->last_close) / 1000.0 / x->scale : 0;
    if (s->last_close < 0 || !s->open_end || silent <= 3 * longest + 1.0)
        snprintf(out, len, "still retrying");
    else
        snprintf(out, len,
                 "still running, %.1f s after its last attempt ended (its longest delay was "
                 "%.2f s)",
                 silent, longest);
}

/* Fewer attempts than needed in some series, at the end. A device that exited FAILs with
 * its exit status; when the budget (not the device) ended a short series, the delays seen
 * so far decide if they support a verdict, else INCONCLUSIVE says why. *budget_ended is
 * set when the caller must judge the partial evidence. */
static iotc_certify_verdict backoff__too_few(iotc_certify_ctx *x, const backoff__series *ss, size_t want, bool cut,
                                     bool *budget_ended)
{
    *budget_ended = false;
    for (size_t q = 0; q < x->n_series; q++) {
        char how[200];
        if (ss[q].n >= want)
            continue;
        if (ss[q].attempts == 0)
            return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                            cut ? "the server never got to cut a session (series %zu)"
                                : "no CONNECT reached the withheld CONNACK (series %zu)",
                            q + 1);
        if (x->obs[q].ended != IOTC_CERTIFY_END_DEVICE && x->obs[q].ended != IOTC_CERTIFY_END_RUNNING) {
            *budget_ended = true;
            continue;
        }
        iotc_certify_end_describe(&x->obs[q], how, sizeof(how));
        return iotc_certify_set(x, IOTC_CERTIFY_FAIL, "only %zu retr%s after %s (series %zu, %zu needed): %s",
                        ss[q].n, ss[q].n == 1 ? "y" : "ies",
                        cut ? "the server closed the connection" : "the CONNACK was withheld",
                        q + 1, want, how);
    }
    if (*budget_ended && x->n_series >= (size_t)x->c->repeat)
        return IOTC_CERTIFY_UNDECIDED;
    *budget_ended = false;
    return iotc_certify_set(x, IOTC_CERTIFY_ERROR, "only %zu of %d series ran", x->n_series, x->c->repeat);
}

/* "the 240 s budget ended while the device was still retrying, after 4 of the 6 delays
 * the case observes (series 1, 2)": one clause per distinct story, naming its series. */
static void backoff__budget_note(iotc_certify_ctx *x, const backoff__series *ss, size_t want)
{
    char text[8][300], series[8][64];
    size_t n = 0;
    for (size_t q = 0; q < x->n_series && q < 8; q++) {
        const iotc_certify_obs *o = &x->obs[q];
        char still[160], one[300];
        size_t k;
        if (ss[q].n >= want)
            continue;
        backoff__still(x, o, &ss[q], still, sizeof(still));
        if (o->ended == IOTC_CERTIFY_END_BUDGET && o->budget_ms > 0)
            snprintf(one, sizeof(one),
                     "the %.0f s budget ended while the device was %s, after %zu of the %zu "
                     "delays the case observes",
                     (double)o->budget_ms / 1000.0, still, ss[q].n, want);
        else {
            iotc_certify_end_describe(o, still, sizeof(still));
            snprintf(one, sizeof(one), "%s, after %zu of the %zu delays the case observes", still,
                     ss[q].n, want);
        }
        for (k = 0; k < n && strcmp(text[k], one) != 0; k++)
            ;
        if (k == n) {
            snprintf(text[n], sizeof(text[n]), "%s", one);
            snprintf(series[n++], sizeof(series[0]), "series %zu", q + 1);
        } else
            snprintf(series[k] + strlen(series[k]), sizeof(series[k]) - strlen(series[k]), ", %zu",
                     q + 1);
    }
    for (size_t k = 0; k < n; k++)
        iotc_certify_note(x, "%s (%s)", text[k], series[k]);
}

/* The verdict the evidence supports; UNSURE warns with what could not be told. */
static iotc_certify_verdict backoff__verdict(iotc_certify_ctx *x, const iotc_certify_backoff_result *r, const char *label,
                                     const char *series, bool jitter_rule)
{
    const char *scale_note = x->scale != 1.0 ? " (at time scale 1)" : "";
    switch (iotc_certify_backoff_evidence_of(r)) {
    case IOTC_CERTIFY_BO_SAYS_JITTER:
        return iotc_certify_set(x, IOTC_CERTIFY_PASS, "retry delays %s s%s: %s", series, scale_note, label);
    case IOTC_CERTIFY_BO_SAYS_EXPONENTIAL:
        if (!jitter_rule)
            return iotc_certify_set(x, IOTC_CERTIFY_PASS, "retry delays %s s%s: exponential", series, scale_note);
        return iotc_certify_set(x, IOTC_CERTIFY_WARN,
                        "retry delays %s s%s: exponential without jitter%s; add random jitter so "
                        "a fleet does not reconnect in lockstep",
                        series, scale_note, r->identical ? " (identical in every series)" : "");
    case IOTC_CERTIFY_BO_SAYS_GROWTH:
        if (!jitter_rule)
            return iotc_certify_set(x, IOTC_CERTIFY_PASS, "retry delays %s s%s: exponential growth (%s)", series,
                            scale_note, label);
        return iotc_certify_set(x, IOTC_CERTIFY_WARN,
                        "retry delays %s s%s: exponential growth, jitter not established (%s)",
                        series, scale_note, label);
    case IOTC_CERTIFY_BO_SAYS_NO_GROWTH:
        return iotc_certify_set(x, IOTC_CERTIFY_FAIL, "retry delays %s s%s: %s; exponential backoff%s expected",
                        series, scale_note, label, jitter_rule ? " with jitter" : "");
    case IOTC_CERTIFY_BO_SAYS_UNSURE:
        break;
    }
    return iotc_certify_set(x, IOTC_CERTIFY_WARN,
                    "retry delays %s s%s: %s; exponential backoff%s not established (%.0f%% "
                    "likely)",
                    series, scale_note, label, jitter_rule ? " with jitter" : "",
                    100 * (jitter_rule ? r->p_jitter : r->p_growth));
}

/* params: retries (delays needed per series), expect ("exponential" | "jitter"), mode. */
static iotc_certify_verdict judge_backoff(iotc_certify_ctx *x)
{
    backoff__series ss[8];
    size_t want = (size_t)iotc_certify_param_num(x, "retries", 5);
    bool cut = strcmp(iotc_certify_param_str(x, "mode", "connack"), "disconnect") == 0;
    bool jitter_rule = strcmp(iotc_certify_param_str(x, "expect", "jitter"), "jitter") == 0;
    const double *d[8];
    size_t n[8];
    char series[512] = "";
    size_t complete;

    if (x->n_series > 8)
        return iotc_certify_set(x, IOTC_CERTIFY_ERROR, "too many series");
    bool partial = false;
    complete = backoff__gather(x, cut, want, ss);
    if (complete < (size_t)x->c->repeat) {
        if (!x->final)
            return IOTC_CERTIFY_UNDECIDED;
        if (backoff__too_few(x, ss, want, cut, &partial) != IOTC_CERTIFY_UNDECIDED)
            return x->v;
    }
    for (size_t q = 0; q < x->n_series; q++) {
        char one[200];
        d[q] = ss[q].d;
        n[q] = ss[q].n < want ? ss[q].n : want;
        iotc_certify_fmt_series(ss[q].d, n[q], one, sizeof(one));
        snprintf(series + strlen(series), sizeof(series) - strlen(series), "%s%s", q ? " | " : "",
                 one);
    }
    iotc_certify_backoff_result r;
    char label[224];
    iotc_certify_backoff_classify(d, n, x->n_series, BACKOFF__NOISE_S / x->scale, &r);
    iotc_certify_backoff_describe(&r, label, sizeof(label));
    json_object_set_new(x->observed, "class", json_string(label));
    json_object_set_new(x->observed, "p_jitter", json_real(round(r.p_jitter * 1000) / 1000));
    json_object_set_new(x->observed, "p_exponential_growth",
                        json_real(round(r.p_growth * 1000) / 1000));
    if (x->n_series > 1)
        json_object_set_new(x->observed, "series_identical", json_boolean(r.identical));
    if (!partial)
        return backoff__verdict(x, &r, label, series, jitter_rule);
    /* The budget ended first: the evidence seen so far decides when it can, else nothing
     * is made up. */
    json_object_set_new(x->observed, "budget_ended", json_true());
    /* Fewer delays than the case observes: only a label the classifier is sure of counts
     * (an undetermined one would become a guess). */
    if (iotc_certify_backoff_evidence_of(&r) == IOTC_CERTIFY_BO_SAYS_UNSURE || r.cls == IOTC_CERTIFY_BO_AMBIGUOUS ||
        r.cls == IOTC_CERTIFY_BO_INSUFFICIENT)
        iotc_certify_set(x, IOTC_CERTIFY_INCONCLUSIVE, "retry delays %s s%s: %s", series,
                 x->scale != 1.0 ? " (at time scale 1)" : "", label);
    else
        backoff__verdict(x, &r, label, series, jitter_rule);
    backoff__budget_note(x, ss, want);
    return x->v;
}

/* MQTT_ReconnectionAfterSuccessfulConnection. params: min_s (1), retries (reconnects needed). */
static iotc_certify_verdict judge_reconnect_min(iotc_certify_ctx *x)
{
    backoff__series ss[8];
    size_t want = (size_t)iotc_certify_param_num(x, "retries", 3);
    double min_s = iotc_certify_param_num(x, "min_s", 1.0);
    char series[256];
    size_t complete = backoff__gather(x, true, want, ss);
    const backoff__series *s = &ss[0];

    for (size_t i = 0; i < s->n; i++)
        if (s->d[i] + BACKOFF__NOISE_S / x->scale < min_s) {
            iotc_certify_fmt_series(s->d, s->n, series, sizeof(series));
            return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                            "reconnected %.2f s after the server closed an accepted connection "
                            "(delays %s s%s): wait at least %.1f s (AWS IoT allows one CONNECT per "
                            "second per client id)",
                            s->d[i], series, x->scale != 1.0 ? " at time scale 1" : "", min_s);
        }
    if (complete < 1 && !x->final && !(x->obs[0].dev && x->obs[0].dev->exited))
        return IOTC_CERTIFY_UNDECIDED;
    if (s->attempts == 0) {
        bool partial;
        return backoff__too_few(x, ss, 1, true, &partial) == IOTC_CERTIFY_UNDECIDED
                   ? iotc_certify_set(x, IOTC_CERTIFY_FAIL, "the server never got to cut a session")
                   : x->v;
    }
    iotc_certify_fmt_series(s->d, s->n, series, sizeof(series));
    if (s->n < want) {
        const iotc_certify_obs *o = &x->obs[0];
        char how[200];
        if (!x->final && !(o->dev && o->dev->exited))
            return IOTC_CERTIFY_UNDECIDED;
        if (o->ended != IOTC_CERTIFY_END_DEVICE && o->ended != IOTC_CERTIFY_END_RUNNING) {
            /* The device was still running: what it did so far is the evidence. */
            if (s->n == 0) {
                double stop = o->stop_t >= 0 ? o->stop_t : o->t_end;
                double silent =
                    s->last_close >= 0 ? (stop - s->last_close) / 1000.0 / x->scale : 0.0;
                iotc_certify_end_describe(o, how, sizeof(how));
                return iotc_certify_set(x, silent >= RECONNECT__SILENT_S ? IOTC_CERTIFY_FAIL : IOTC_CERTIFY_INCONCLUSIVE,
                                "no reconnect within %.1f s after the server closed the "
                                "connection%s (%s): %s",
                                silent, x->scale != 1.0 ? " at time scale 1" : "", how,
                                silent >= RECONNECT__SILENT_S
                                    ? "a device must keep reconnecting"
                                    : "too short to tell a slow backoff from none");
            }
            iotc_certify_set(x, IOTC_CERTIFY_PASS,
                     "every reconnect waited at least %.1f s (delays %s s%s; %zu of the %zu "
                     "reconnects the case observes)",
                     min_s, series, x->scale != 1.0 ? " at time scale 1" : "", s->n, want);
            iotc_certify_end_describe(o, how, sizeof(how));
            iotc_certify_note(x, "%s", how);
            return x->v;
        }
        iotc_certify_end_describe(o, how, sizeof(how));
        return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                        "stopped reconnecting after %zu of %zu server disconnects "
                        "(%s%s%s; %s): a device must keep reconnecting",
                        s->n, want, s->n ? "delays " : "no reconnect", series, s->n ? " s" : "",
                        how);
    }
    return iotc_certify_set(x, IOTC_CERTIFY_PASS, "every reconnect waited at least %.1f s (delays %s s)", min_s,
                    series);
}

static const char *const backoff__params[] = {"retries", "expect", "mode", NULL};
static const char *const reconnect__params[] = {"retries", "min_s", NULL};

const iotc_certify_judge iotc_certify_judges_backoff[] = {
    {"backoff", judge_backoff, backoff__params},
    {"reconnect_min", judge_reconnect_min, reconnect__params},
    {NULL, NULL, NULL},
};
