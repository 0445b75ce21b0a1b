/* Judge registry, the preconditions every judge shares, and verdict helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "cert_int.h"

static const iotc_certify_judge *const judge__families[] = {
    iotc_certify_judges_tls,    iotc_certify_judges_connect, iotc_certify_judges_backoff,
    iotc_certify_judges_pubsub, iotc_certify_judges_session, iotc_certify_judges_long,
};

const char *iotc_certify_verdict_name(iotc_certify_verdict v)
{
    switch (v) {
    case IOTC_CERTIFY_PASS:
        return "PASS";
    case IOTC_CERTIFY_WARN:
        return "PASS_WITH_WARNINGS";
    case IOTC_CERTIFY_FAIL:
        return "FAIL";
    case IOTC_CERTIFY_ERROR:
        return "ERROR";
    case IOTC_CERTIFY_SKIPPED:
        return "SKIPPED";
    case IOTC_CERTIFY_INCONCLUSIVE:
        return "INCONCLUSIVE";
    case IOTC_CERTIFY_UNDECIDED:
        return "UNDECIDED";
    }
    return "ERROR";
}

const char *iotc_certify_verdict_status(iotc_certify_verdict v)
{
    switch (v) {
    case IOTC_CERTIFY_PASS:
    case IOTC_CERTIFY_WARN:
        return "passed";
    case IOTC_CERTIFY_FAIL:
        return "failed";
    case IOTC_CERTIFY_SKIPPED:
        return "skipped";
    default:
        /* INCONCLUSIVE too: nothing was shown to pass, so CI must not count it as passed,
         * and it did run, so it is no skip (reports/SCHEMA.md). */
        return "error";
    }
}

const char *iotc_certify_end_name(iotc_certify_end e)
{
    switch (e) {
    case IOTC_CERTIFY_END_RUNNING:
        return "running";
    case IOTC_CERTIFY_END_DEVICE:
        return "device";
    case IOTC_CERTIFY_END_BUDGET:
        return "budget";
    case IOTC_CERTIFY_END_VERDICT:
        return "verdict";
    case IOTC_CERTIFY_END_INTERRUPT:
        return "interrupt";
    }
    return "running";
}

void iotc_certify_end_describe(const iotc_certify_obs *o, char *out, size_t len)
{
    char how[96];
    switch (o->ended) {
    case IOTC_CERTIFY_END_BUDGET:
        if (o->budget_ms > 0)
            snprintf(out, len, "the %.*f s budget ended while the device was still running",
                     o->budget_ms % 1000 ? 1 : 0, (double)o->budget_ms / 1000.0);
        else
            snprintf(out, len, "the budget ended while the device was still running");
        return;
    case IOTC_CERTIFY_END_VERDICT:
        snprintf(out, len, "the runner stopped the device once the judge had seen enough");
        return;
    case IOTC_CERTIFY_END_INTERRUPT:
        snprintf(out, len, "the run was interrupted while the device was running");
        return;
    case IOTC_CERTIFY_END_DEVICE:
    case IOTC_CERTIFY_END_RUNNING:
        break;
    }
    if (!o->dev) {
        snprintf(out, len, "the device was not started");
        return;
    }
    if (!o->dev->exited) {
        snprintf(out, len, "the device is still running");
        return;
    }
    iotc_certify_device_describe(o->dev, how, sizeof(how));
    snprintf(out, len, "the device %s%s", strncmp(how, "killed", 6) == 0 ? "was " : "", how);
}
const iotc_certify_judge *iotc_certify_judge_find(const char *name)
{
    for (size_t f = 0; f < sizeof(judge__families) / sizeof(judge__families[0]); f++)
        for (const iotc_certify_judge *j = judge__families[f]; j->name; j++)
            if (strcmp(j->name, name) == 0)
                return j;
    return NULL;
}

iotc_certify_verdict iotc_certify_set(iotc_certify_ctx *x, iotc_certify_verdict v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->reason, sizeof(x->reason), fmt, ap);
    va_end(ap);
    x->v = v;
    return v;
}

/* Appends "; <text>" to the reason (or the text alone when it is empty). */
static void judge__append(iotc_certify_ctx *x, const char *fmt, va_list ap)
{
    size_t used = strlen(x->reason);
    if (used && used + 2 < sizeof(x->reason)) {
        memcpy(x->reason + used, "; ", 3);
        used += 2;
    }
    vsnprintf(x->reason + used, sizeof(x->reason) - used, fmt, ap);
}

void iotc_certify_warn(iotc_certify_ctx *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    judge__append(x, fmt, ap);
    va_end(ap);
    if (x->v == IOTC_CERTIFY_PASS)
        x->v = IOTC_CERTIFY_WARN;
}

void iotc_certify_note(iotc_certify_ctx *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    judge__append(x, fmt, ap);
    va_end(ap);
}

double iotc_certify_param_num(const iotc_certify_ctx *x, const char *name, double dflt)
{
    json_t *v = json_object_get(x->c->params, name);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

const char *iotc_certify_param_str(const iotc_certify_ctx *x, const char *name, const char *dflt)
{
    json_t *v = json_object_get(x->c->params, name);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

void iotc_certify_fmt_series(const double *d, size_t n, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used + 16 < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%.*f", i ? ", " : "", d[i] < 10 ? 2 : 1,
                                 d[i]);
}

/* The device's connection count over all series. */
static size_t judge__device_conns(const iotc_certify_ctx *x)
{
    size_t n = 0;
    for (size_t s = 0; s < x->n_series; s++)
        for (size_t i = 0; i < x->obs[s].n; i++)
            n += !x->obs[s].c[i].runner;
    return n;
}

/* The device's exit status or signal reaches every verdict it may explain, and a verdict
 * reached on a budget-limited observation says so, unless the judge already did. */
static void judge__annotate(iotc_certify_ctx *x, const iotc_certify_obs *o)
{
    char end[160];
    bool by_device = o->ended == IOTC_CERTIFY_END_DEVICE && o->dev && o->dev->exited;
    bool clean_exit = by_device && WIFEXITED(o->dev->status) && WEXITSTATUS(o->dev->status) == 0;
    bool bad = x->v == IOTC_CERTIFY_FAIL || x->v == IOTC_CERTIFY_ERROR || x->v == IOTC_CERTIFY_INCONCLUSIVE;
    if (!x->final || x->v == IOTC_CERTIFY_UNDECIDED)
        return;
    if (by_device ? (clean_exit && !bad) : !(bad && o->ended == IOTC_CERTIFY_END_BUDGET))
        return;
    if (strstr(x->reason, "exited with status") || strstr(x->reason, "killed by signal") ||
        strstr(x->reason, "budget ended"))
        return;
    iotc_certify_end_describe(o, end, sizeof(end));
    iotc_certify_note(x, "%s", end);
}

/* The device's reconnects: its connections with a CONNECT after its first, per series
 * (the fewest over the series: each must have shown them). */
static int judge__reconnects(const iotc_certify_ctx *x)
{
    int fewest = -1;
    for (size_t s = 0; s < x->n_series; s++) {
        int n = 0;
        for (size_t i = 0; i < x->obs[s].n; i++)
            n += !x->obs[s].c[i].runner && x->obs[s].c[i].connect;
        n = n > 0 ? n - 1 : 0;
        if (fewest < 0 || n < fewest)
            fewest = n;
    }
    return fewest < 0 ? 0 : fewest;
}

/* The case's observation window (catalogue "observe"): a verdict before the device was
 * seen reconnecting does not end the case, and a PASS that never saw it is no PASS. */
static void judge__observed(iotc_certify_ctx *x, const iotc_certify_obs *o)
{
    int need = x->c->observe_reconnects, seen;
    bool exited = o->dev && o->dev->exited;
    if (need <= 0 || x->v == IOTC_CERTIFY_UNDECIDED || x->v == IOTC_CERTIFY_ERROR)
        return;
    seen = judge__reconnects(x);
    json_object_set_new(x->observed, "reconnects_seen", json_integer(seen));
    if (seen >= need)
        return;
    if (!x->final && !exited) {
        x->v = IOTC_CERTIFY_UNDECIDED;
        return;
    }
    if (x->v == IOTC_CERTIFY_PASS || x->v == IOTC_CERTIFY_WARN) {
        char was[2048];
        snprintf(was, sizeof(was), "%.1700s", x->reason);
        iotc_certify_set(x, IOTC_CERTIFY_INCONCLUSIVE,
                 "the case needs %d reconnect(s) of the device before a verdict and saw %d; "
                 "what was seen: %s",
                 need, seen, was);
        return;
    }
    iotc_certify_note(x, "%d of the %d reconnect(s) the case observes were seen", seen, need);
}

iotc_certify_verdict iotc_certify_judge_run(iotc_certify_ctx *x)
{
    const iotc_certify_judge *j = iotc_certify_judge_find(x->c->judge);
    const iotc_certify_obs *o = &x->obs[x->n_series ? x->n_series - 1 : 0];
    bool exited = o->dev && o->dev->exited;

    x->v = IOTC_CERTIFY_UNDECIDED;
    x->reason[0] = '\0';
    if (!j)
        return iotc_certify_set(x, IOTC_CERTIFY_ERROR, "no judge named %s", x->c->judge);
    if (x->n_series == 0)
        return x->final ? iotc_certify_set(x, IOTC_CERTIFY_ERROR, "no series ran") : IOTC_CERTIFY_UNDECIDED;
    if (judge__device_conns(x) == 0) {
        char how[160];
        if (!x->final && !exited)
            return IOTC_CERTIFY_UNDECIDED;
        iotc_certify_end_describe(o, how, sizeof(how));
        return iotc_certify_set(x, IOTC_CERTIFY_ERROR, "the device never connected to the endpoint (%s)%s%s", how,
                        o->log_tail[0] ? "; its output ends: " : "", o->log_tail);
    }
    j->fn(x);
    judge__observed(x, o);
    judge__annotate(x, o);
    return x->v;
}
