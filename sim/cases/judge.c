#include "judge.h"

#include "harness/jreader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void judge__add(json_t *mm, const char *field, json_t *expected, json_t *observed)
{
    json_array_append_new(mm, json_pack("{s:s, s:O, s:O}", "field", field, "expected", expected,
                                        "observed", observed ? observed : json_null()));
}

/* "4xx" matches 400..499; an integer matches itself. */
static int judge__status(json_t *exp, json_t *obs)
{
    if (!json_is_integer(obs))
        return 0;
    if (json_is_integer(exp))
        return json_integer_value(exp) == json_integer_value(obs);
    const char *s = json_string_value(exp);
    if (s && strlen(s) == 3 && s[1] == 'x' && s[2] == 'x')
        return json_integer_value(obs) / 100 == s[0] - '0';
    return 0;
}

/* Members must match; "*" only requires presence (traceId is a fresh uuid). */
static int judge__body(json_t *exp, json_t *obs, json_t *mm)
{
    const char *k;
    json_t *v;
    int n = 0;
    char field[128];

    if (!json_is_object(obs)) {
        judge__add(mm, "http_body", exp, obs);
        return 1;
    }
    json_object_foreach(exp, k, v)
    {
        json_t *o = json_object_get(obs, k);
        int ok = json_is_string(v) && strcmp(json_string_value(v), "*") == 0 ? o != NULL
                                                                             : json_equal(v, o);
        if (!ok) {
            snprintf(field, sizeof(field), "http_body.%s", k);
            judge__add(mm, field, v, o);
            n++;
        }
    }
    return n;
}

static int judge__alert(json_t *exp, json_t *obs)
{
    size_t i;
    json_t *a;
    if (json_is_array(exp)) {
        json_array_foreach(exp, i, a) if (json_equal(a, obs)) return 1;
        return 0;
    }
    if (json_is_null(exp))
        return !obs || json_is_null(obs);
    return json_equal(exp, obs);
}

static int judge__journal(json_t *exp, json_t *events, json_t *mm)
{
    size_t i;
    json_t *want;
    int n = 0;
    json_array_foreach(exp, i, want)
    {
        if (!iotc_jreader_has(events, want)) {
            char field[128];
            snprintf(field, sizeof(field), "journal_has[%s]", json_string_value(want));
            judge__add(mm, field, want, NULL);
            n++;
        }
    }
    return n;
}

/* "a.b.c" inside obj; NULL when any part is missing. */
static json_t *judge__path(json_t *obj, const char *path)
{
    char part[128];
    while (obj && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof(part))
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        obj = json_object_get(obj, part);
        path += n + (dot ? 1 : 0);
    }
    return obj;
}

/* {"min": a, "max": b} (either may be absent) matches a number inside the range. */
static int judge__range(json_t *exp, json_t *obs, int *is_range)
{
    json_t *lo = json_object_get(exp, "min"), *hi = json_object_get(exp, "max");
    *is_range = json_is_object(exp) && (lo || hi) &&
                json_object_size(exp) == (size_t)(lo != NULL) + (size_t)(hi != NULL);
    if (!*is_range)
        return 0;
    if (!json_is_number(obs))
        return 0;
    double v = json_number_value(obs);
    return (!lo || v >= json_number_value(lo)) && (!hi || v <= json_number_value(hi));
}

/* expect.steps: "label.key[.key...]" -> value or range, against observed.steps. */
static int judge__steps(json_t *exp, json_t *steps, json_t *mm)
{
    const char *k;
    json_t *v;
    int n = 0;
    json_object_foreach(exp, k, v)
    {
        json_t *o = judge__path(steps, k);
        int is_range, ok = judge__range(v, o, &is_range);
        if (!is_range)
            ok = o && json_equal(v, o);
        if (!ok) {
            char field[192];
            snprintf(field, sizeof(field), "steps.%s", k);
            judge__add(mm, field, v, o);
            n++;
        }
    }
    return n;
}

int iotc_judge(json_t *expect, json_t *observed, json_t *mm)
{
    const char *k;
    json_t *v;
    int n = 0;

    json_object_foreach(expect, k, v)
    {
        json_t *o = json_object_get(observed, k);
        int ok;
        if (strcmp(k, "http_body") == 0) {
            n += judge__body(v, o, mm);
            continue;
        }
        if (strcmp(k, "steps") == 0) {
            n += judge__steps(v, o, mm);
            continue;
        }
        if (strcmp(k, "journal_has") == 0) {
            n += judge__journal(v, json_object_get(observed, "journal_events"), mm);
            continue;
        }
        if (strcmp(k, "alert") == 0)
            ok = judge__alert(v, o);
        else if (strcmp(k, "http_status") == 0)
            ok = judge__status(v, o);
        else
            ok = json_equal(v, o);
        if (!ok) {
            judge__add(mm, k, v, o);
            n++;
        }
    }
    /* Implicit: an accepted handshake must present a certificate chaining to the
     * trusted bundle, whatever the case is about. */
    json_t *hs = json_object_get(observed, "handshake");
    json_t *sc = json_object_get(observed, "server_cert");
    if (json_is_string(hs) && strcmp(json_string_value(hs), "accepted") == 0 &&
        json_is_string(sc) && strcmp(json_string_value(sc), "valid") != 0) {
        json_t *valid = json_string("valid");
        judge__add(mm, "server_cert", valid, sc);
        json_decref(valid);
        n++;
    }
    return n;
}

static void judge__repr(json_t *v, char *out, size_t len)
{
    if (!v || json_is_null(v)) {
        snprintf(out, len, "none");
        return;
    }
    if (json_is_string(v)) {
        snprintf(out, len, "%s", json_string_value(v));
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(out, len, "%s", s ? s : "?");
    free(s);
}

char *iotc_judge_reason(json_t *mm)
{
    size_t i, used = 0, cap = 1024;
    json_t *m;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[0] = '\0';
    json_array_foreach(mm, i, m)
    {
        char e[256], o[256];
        judge__repr(json_object_get(m, "expected"), e, sizeof(e));
        judge__repr(json_object_get(m, "observed"), o, sizeof(o));
        size_t need = strlen(e) + strlen(o) + 128;
        if (used + need >= cap) {
            cap = (used + need) * 2;
            char *n = realloc(out, cap);
            if (!n)
                break;
            out = n;
        }
        used +=
            (size_t)snprintf(out + used, cap - used, "%s%s: expected %s, observed %s",
                             i ? "; " : "", json_string_value(json_object_get(m, "field")), e, o);
    }
    return out;
}
