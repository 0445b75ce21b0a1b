/*
 * IAM condition operators: their names, how a policy value is compiled for each
 * family, and how one request value compares with one policy value. Set qualifiers,
 * negation and absent keys are condition.c's business.
 */
#define _GNU_SOURCE /* timegm */
#include "policy_int.h"
#include "common/err.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const struct {
    const char *name;
    uint8_t fam, cmp;
    bool negated, fold;
} cop__table[] = {
    {"StringEquals", IOTC_POLICY__CF_STRING, IOTC_POLICY__CC_EQ, false, false},
    {"StringNotEquals", IOTC_POLICY__CF_STRING, IOTC_POLICY__CC_EQ, true, false},
    {"StringEqualsIgnoreCase", IOTC_POLICY__CF_STRING, IOTC_POLICY__CC_EQ, false, true},
    {"StringNotEqualsIgnoreCase", IOTC_POLICY__CF_STRING, IOTC_POLICY__CC_EQ, true, true},
    {"StringLike", IOTC_POLICY__CF_STRING, IOTC_POLICY__CC_LIKE, false, false},
    {"StringNotLike", IOTC_POLICY__CF_STRING, IOTC_POLICY__CC_LIKE, true, false},
    {"NumericEquals", IOTC_POLICY__CF_NUMERIC, IOTC_POLICY__CC_EQ, false, false},
    {"NumericNotEquals", IOTC_POLICY__CF_NUMERIC, IOTC_POLICY__CC_EQ, true, false},
    {"NumericLessThan", IOTC_POLICY__CF_NUMERIC, IOTC_POLICY__CC_LT, false, false},
    {"NumericLessThanEquals", IOTC_POLICY__CF_NUMERIC, IOTC_POLICY__CC_LE, false, false},
    {"NumericGreaterThan", IOTC_POLICY__CF_NUMERIC, IOTC_POLICY__CC_GT, false, false},
    {"NumericGreaterThanEquals", IOTC_POLICY__CF_NUMERIC, IOTC_POLICY__CC_GE, false, false},
    {"DateEquals", IOTC_POLICY__CF_DATE, IOTC_POLICY__CC_EQ, false, false},
    {"DateNotEquals", IOTC_POLICY__CF_DATE, IOTC_POLICY__CC_EQ, true, false},
    {"DateLessThan", IOTC_POLICY__CF_DATE, IOTC_POLICY__CC_LT, false, false},
    {"DateLessThanEquals", IOTC_POLICY__CF_DATE, IOTC_POLICY__CC_LE, false, false},
    {"DateGreaterThan", IOTC_POLICY__CF_DATE, IOTC_POLICY__CC_GT, false, false},
    {"DateGreaterThanEquals", IOTC_POLICY__CF_DATE, IOTC_POLICY__CC_GE, false, false},
    {"Bool", IOTC_POLICY__CF_BOOL, IOTC_POLICY__CC_EQ, false, false},
    {"IpAddress", IOTC_POLICY__CF_IP, IOTC_POLICY__CC_EQ, false, false},
    {"NotIpAddress", IOTC_POLICY__CF_IP, IOTC_POLICY__CC_EQ, true, false},
    /* IAM: ArnEquals and ArnLike behave the same (both take wildcards per segment). */
    {"ArnEquals", IOTC_POLICY__CF_ARN, IOTC_POLICY__CC_LIKE, false, false},
    {"ArnLike", IOTC_POLICY__CF_ARN, IOTC_POLICY__CC_LIKE, false, false},
    {"ArnNotEquals", IOTC_POLICY__CF_ARN, IOTC_POLICY__CC_LIKE, true, false},
    {"ArnNotLike", IOTC_POLICY__CF_ARN, IOTC_POLICY__CC_LIKE, true, false},
    {"Null", IOTC_POLICY__CF_NULL, IOTC_POLICY__CC_EQ, false, false},
};

bool iotc_policy__cop_parse(const char *name, struct iotc_policy__cop *out)
{
    memset(out, 0, sizeof *out);
    /* Operator names are case-sensitive in IAM; a misspelling is an error, not a guess. */
    if (strncmp(name, "ForAllValues:", 13) == 0) {
        out->set = IOTC_POLICY__SET_ALL;
        name += 13;
    } else if (strncmp(name, "ForAnyValue:", 12) == 0) {
        out->set = IOTC_POLICY__SET_ANY;
        name += 12;
    }
    size_t len = strlen(name);
    if (len > 8 && strcmp(name + len - 8, "IfExists") == 0) {
        out->if_exists = true;
        len -= 8;
    }
    for (size_t i = 0; i < sizeof cop__table / sizeof cop__table[0]; i++) {
        if (strlen(cop__table[i].name) != len || strncmp(cop__table[i].name, name, len) != 0)
            continue;
        out->fam = cop__table[i].fam;
        out->cmp = cop__table[i].cmp;
        out->negated = cop__table[i].negated;
        out->fold = cop__table[i].fold;
        /* Null has no IfExists form and takes no set qualifier in IAM. */
        if (out->fam == IOTC_POLICY__CF_NULL && (out->if_exists || out->set))
            return false;
        return true;
    }
    return false;
}

/* A whole-string decimal number (IAM numbers: integers and decimals). */
static bool cop__number(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*end || errno || !isfinite(d))
        return false;
    /* strtod also reads hex and "inf"; IAM numbers are decimal digits only. */
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !strchr("+-.eE", *p))
            return false;
    *out = d;
    return true;
}

static bool cop__digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* ISO 8601 as IAM takes it: "2026-01-31", "2026-01-31T12:00:00Z", with optional fraction
 * and a "+hh:mm"/"-hh:mm" offset instead of Z; or whole seconds since the epoch. */
static bool cop__date(const char *s, double *out)
{
    size_t len = strlen(s);
    if (len > 0 && strspn(s, "0123456789") == len)
        return cop__number(s, out);
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0, off = 0;
    if (len < 10 || !cop__digits(s, 4, &y) || s[4] != '-' || !cop__digits(s + 5, 2, &mo) ||
        s[7] != '-' || !cop__digits(s + 8, 2, &d))
        return false;
    const char *p = s + 10;
    double frac = 0;
    if (*p == 'T') {
        if (strlen(p) < 9 || !cop__digits(p + 1, 2, &h) || p[3] != ':' ||
            !cop__digits(p + 4, 2, &mi) || p[6] != ':' || !cop__digits(p + 7, 2, &sec))
            return false;
        p += 9;
        if (*p == '.') {
            double scale = 0.1;
            for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
                frac += (*p - '0') * scale;
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (strlen(p) != 6 || !cop__digits(p + 1, 2, &oh) || p[3] != ':' ||
                !cop__digits(p + 4, 2, &om) || oh > 23 || om > 59)
                return false;
            off = (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60);
            p += 6;
        } else {
            return false;
        }
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *out = (double)t - off + frac;
    return true;
}

static bool cop__bool(const char *s, bool *out)
{
    if (strcasecmp(s, "true") == 0)
        *out = true;
    else if (strcasecmp(s, "false") == 0)
        *out = false;
    else
        return false;
    return true;
}

/* An address, optionally "/prefix". A v4-mapped IPv6 address counts as IPv4. */
static bool cop__ip(const char *s, bool allow_prefix, uint8_t addr[16], uint8_t *alen,
                    uint8_t *prefix)
{
    char buf[INET6_ADDRSTRLEN + 8];
    size_t len = strlen(s);
    if (len >= sizeof buf)
        return false;
    memcpy(buf, s, len + 1);
    char *slash = strchr(buf, '/');
    int pre = -1;
    if (slash) {
        if (!allow_prefix || !slash[1] || strlen(slash + 1) > 3 ||
            strspn(slash + 1, "0123456789") != strlen(slash + 1))
            return false;
        pre = atoi(slash + 1);
        *slash = '\0';
    }
    if (inet_pton(AF_INET, buf, addr) == 1) {
        *alen = 4;
    } else if (inet_pton(AF_INET6, buf, addr) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        *alen = 16;
        if (memcmp(addr, mapped, 12) == 0) {
            memmove(addr, addr + 12, 4);
            *alen = 4;
            pre = pre >= 0 ? pre - 96 : -1;
            if (slash && pre < 0)
                return false;
        }
    } else {
        return false;
    }
    if (pre > *alen * 8)
        return false;
    *prefix = (uint8_t)(pre < 0 ? *alen * 8 : pre);
    return true;
}

int iotc_policy__cval_compile(const struct iotc_policy__cop *op, const char *s, size_t len,
                              bool variables, struct iotc_policy__cval *out, iotc_errtext *why)
{
    memset(out, 0, sizeof *out);
    if (memchr(s, '\0', len)) {
        return iotc_errtext_set(why, IOTC_ERR_MALFORMED, "a condition value must not contain NUL");
    }
    switch (op->fam) {
    case IOTC_POLICY__CF_STRING:
    case IOTC_POLICY__CF_ARN: {
        int rc = iotc_policy__compile_resource(s, len, variables, &out->pat, why);
        if (rc != IOTC_OK || op->cmp == IOTC_POLICY__CC_LIKE)
            return rc;
        /* StringEquals: `*` and `?` are ordinary characters. */
        for (size_t i = 0; i < out->pat.n; i++)
            if (out->pat.items[i].kind == IOTC_POLICY__STAR ||
                out->pat.items[i].kind == IOTC_POLICY__QMARK)
                out->pat.items[i].kind = IOTC_POLICY__LIT;
        return IOTC_OK;
    }
    case IOTC_POLICY__CF_NUMERIC:
        if (cop__number(s, &out->num))
            return IOTC_OK;
        return iotc_errtext_set(why, IOTC_ERR_MALFORMED, "'%.60s' is not a number", s);
    case IOTC_POLICY__CF_DATE:
        if (cop__date(s, &out->num))
            return IOTC_OK;
        return iotc_errtext_set(why, IOTC_ERR_MALFORMED,
                                "'%.60s' is not a date (ISO 8601 or epoch seconds)", s);
    case IOTC_POLICY__CF_BOOL:
    case IOTC_POLICY__CF_NULL:
        if (cop__bool(s, &out->b))
            return IOTC_OK;
        return iotc_errtext_set(why, IOTC_ERR_MALFORMED,
                                "'%.60s' is neither \"true\" nor \"false\"", s);
    case IOTC_POLICY__CF_IP:
        if (cop__ip(s, true, out->addr, &out->alen, &out->prefix))
            return IOTC_OK;
        return iotc_errtext_set(why, IOTC_ERR_MALFORMED,
                                "'%.60s' is not an IP address or CIDR block", s);
    }
    return iotc_errtext_set(why, IOTC_ERR_MALFORMED, "unknown operator family");
}

void iotc_policy__cval_free(struct iotc_policy__cval *v)
{
    iotc_policy__pattern_free(&v->pat);
}

static int cop__order(uint8_t cmp, double a, double b)
{
    switch (cmp) {
    case IOTC_POLICY__CC_EQ:
        return a == b;
    case IOTC_POLICY__CC_LT:
        return a < b;
    case IOTC_POLICY__CC_LE:
        return a <= b;
    case IOTC_POLICY__CC_GT:
        return a > b;
    case IOTC_POLICY__CC_GE:
        return a >= b;
    }
    return 0;
}

static int cop__pattern(const struct iotc_policy__cval *pv, const char *value, bool fold, bool arn,
                        const struct iotc_policy_ctx *ctx)
{
    struct iotc_policy__pattern x = {0};
    const struct iotc_policy__pattern *p = &pv->pat;
    if (pv->pat.has_var) {
        int rc = iotc_policy__expand(&pv->pat, ctx, &x);
        if (rc <= 0) /* an unresolved variable matches nothing */
            return rc < 0 ? -2 : 0;
        p = &x;
    }
    int rc;
    if (!arn) {
        rc = iotc_policy__glob(p->items, p->n, value, strlen(value), fold);
    } else {
        /* The request value must itself be an ARN of six segments. */
        struct iotc_policy__arn a = {.full = value, .len = strlen(value)};
        size_t seg = 1;
        for (size_t i = 0; i < a.len && seg < 6; i++)
            if (value[i] == ':')
                a.seg[seg++] = i + 1;
        rc = seg == 6 && strncmp(value, "arn:", 4) == 0 ? iotc_policy__segments_match(p, &a) : -1;
    }
    free(x.items);
    return rc;
}

int iotc_policy__cval_match(const struct iotc_policy__cop *op, const struct iotc_policy__cval *pv,
                            const char *value, const struct iotc_policy_ctx *ctx)
{
    double d;
    bool b;
    uint8_t addr[16], alen, prefix;
    switch (op->fam) {
    case IOTC_POLICY__CF_STRING:
        return cop__pattern(pv, value, op->fold, false, ctx);
    case IOTC_POLICY__CF_ARN:
        return cop__pattern(pv, value, false, true, ctx);
    case IOTC_POLICY__CF_NUMERIC:
        return cop__number(value, &d) ? cop__order(op->cmp, d, pv->num) : -1;
    case IOTC_POLICY__CF_DATE:
        return cop__date(value, &d) ? cop__order(op->cmp, d, pv->num) : -1;
    case IOTC_POLICY__CF_BOOL:
        return cop__bool(value, &b) ? b == pv->b : -1;
    case IOTC_POLICY__CF_IP:
        if (!cop__ip(value, false, addr, &alen, &prefix))
            return -1;
        if (alen != pv->alen)
            return 0;
        for (unsigned bit = 0; bit < pv->prefix; bit += 8) {
            unsigned n = pv->prefix - bit >= 8 ? 8 : pv->prefix - bit;
            uint8_t mask = (uint8_t)(0xff00u >> n);
            if ((addr[bit / 8] & mask) != (pv->addr[bit / 8] & mask))
                return 0;
        }
        return 1;
    default:
        return -1;
    }
}
