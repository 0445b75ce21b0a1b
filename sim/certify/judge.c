/* Judge registry, the preconditions every judge shares, and verdict helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cert_int.h"

static const cert_judge *const judge__families[] = {
    cert_judges_tls,    cert_judges_connect, cert_judges_backoff,
    cert_judges_pubsub, cert_judges_session, cert_judges_long,
};

const char *cert_verdict_name(cert_verdict v)
{
    switch (v) {
    case CERT_PASS:
        return "PASS";
    case CERT_WARN:
        return "PASS_WITH_WARNINGS";
    case CERT_FAIL:
        return "FAIL";
    case CERT_ERROR:
        return "ERROR";
    case CERT_SKIPPED:
        return "SKIPPED";
    case CERT_UNDECIDED:
        return "UNDECIDED";
    }
    return "ERROR";
}

const char *cert_verdict_status(cert_verdict v)
{
    switch (v) {
    case CERT_PASS:
    case CERT_WARN:
        return "passed";
    case CERT_FAIL:
        return "failed";
    case CERT_SKIPPED:
        return "skipped";
    default:
        return "error";
    }
}

const cert_judge *cert_judge_find(const char *name)
{
    for (size_t f = 0; f < sizeof(judge__families) / sizeof(judge__families[0]); f++)
        for (const cert_judge *j = judge__families[f]; j->name; j++)
            if (strcmp(j->name, name) == 0)
                return j;
    return NULL;
}

cert_verdict cert_set(cert_ctx *x, cert_verdict v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->reason, sizeof(x->reason), fmt, ap);
    va_end(ap);
    x->v = v;
    return v;
}

void cert_warn(cert_ctx *x, const char *fmt, ...)
{
    size_t used = strlen(x->reason);
    va_list ap;
    if (used && used + 2 < sizeof(x->reason)) {
        memcpy(x->reason + used, "; ", 3);
        used += 2;
    }
    va_start(ap, fmt);
    vsnprintf(x->reason + used, sizeof(x->reason) - used, fmt, ap);
    va_end(ap);
    if (x->v == CERT_PASS)
        x->v = CERT_WARN;
}

double cert_param_num(const cert_ctx *x, const char *name, double dflt)
{
    json_t *v = json_object_get(x->c->params, name);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

const char *cert_param_str(const cert_ctx *x, const char *name, const char *dflt)
{
    json_t *v = json_object_get(x->c->params, name);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

void cert_fmt_series(const double *d, size_t n, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used + 16 < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%.*f", i ? ", " : "", d[i] < 10 ? 2 : 1,
                                 d[i]);
}

/* The device's connection count over all series. */
static size_t judge__device_conns(const cert_ctx *x)
{
    size_t n = 0;
    for (size_t s = 0; s < x->n_series; s++)
        for (size_t i = 0; i < x->obs[s].n; i++)
            n += !x->obs[s].c[i].runner;
    return n;
}

cert_verdict cert_judge_run(cert_ctx *x)
{
    const cert_judge *j = cert_judge_find(x->c->judge);
    const cert_obs *o = &x->obs[x->n_series ? x->n_series - 1 : 0];
    bool exited = o->dev && o->dev->exited;

    x->v = CERT_UNDECIDED;
    x->reason[0] = '\0';
    if (!j)
        return cert_set(x, CERT_ERROR, "no judge named %s", x->c->judge);
    if (x->n_series == 0)
        return x->final ? cert_set(x, CERT_ERROR, "no series ran") : CERT_UNDECIDED;
    if (judge__device_conns(x) == 0) {
        char how[96] = "";
        if (!x->final && !exited)
            return CERT_UNDECIDED;
        if (o->dev)
            cert_device_describe(o->dev, how, sizeof(how));
        return cert_set(
            x, CERT_ERROR, "the device never connected to the endpoint (device command %s)%s%s",
            how[0] ? how : "not started", o->log_tail[0] ? "; its output ends: " : "", o->log_tail);
    }
    return j->fn(x);
}
