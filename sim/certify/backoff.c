/* The backoff classifier (thresholds and their rationale in backoff.h). */
#include "backoff.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF__MAX 256

const char *cert_backoff_name(cert_backoff_class c)
{
    switch (c) {
    case CERT_BO_INSUFFICIENT:
        return "too few retries to classify";
    case CERT_BO_CONSTANT:
        return "constant";
    case CERT_BO_LINEAR:
        return "linear";
    case CERT_BO_EXPONENTIAL:
        return "exponential";
    case CERT_BO_EXPONENTIAL_JITTER:
        return "exponential with jitter";
    case CERT_BO_IRREGULAR:
        return "irregular (no growth)";
    }
    return "unknown";
}

static int backoff__cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double backoff__median(double *v, size_t n)
{
    qsort(v, n, sizeof(double), backoff__cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* Least squares y = a + b x over x = 0..n-1. */
static void backoff__lsq(const double *y, size_t n, double *a, double *b)
{
    double mx = (double)(n - 1) / 2.0, my = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++)
        my += y[i];
    my /= (double)n;
    for (size_t i = 0; i < n; i++) {
        sxx += ((double)i - mx) * ((double)i - mx);
        sxy += ((double)i - mx) * (y[i] - my);
    }
    *b = sxx > 0 ? sxy / sxx : 0;
    *a = my - *b * mx;
}

/* Median of the pairwise slopes of ln(d + eps), pairs taken within one series. */
static double backoff__theil_sen(const double *const *d, const size_t *n, size_t series, double eps)
{
    static const size_t cap = BACKOFF__MAX * (BACKOFF__MAX - 1) / 2;
    double *s = malloc(cap * sizeof(double));
    size_t k = 0;
    double out = 0;
    if (!s)
        return 0;
    for (size_t q = 0; q < series; q++)
        for (size_t i = 0; i < n[q] && i < BACKOFF__MAX; i++)
            for (size_t j = i + 1; j < n[q] && j < BACKOFF__MAX && k < cap; j++)
                s[k++] = (log(d[q][j] + eps) - log(d[q][i] + eps)) / (double)(j - i);
    if (k)
        out = backoff__median(s, k);
    free(s);
    return out;
}

/* Sum of the last two increments over the first two. */
static double backoff__increment_growth(const double *d, size_t n)
{
    double first = (d[1] - d[0]) + (d[2] - d[1]);
    double last = (d[n - 1] - d[n - 2]) + (d[n - 2] - d[n - 3]);
    return first > 0 ? last / first : 0;
}

cert_backoff_class cert_backoff_classify(const double *d, size_t n, double eps,
                                         cert_backoff_fit *fit)
{
    double tmp[BACKOFF__MAX], l[BACKOFF__MAX], lo, hi, med, a, b, la, lb;
    cert_backoff_fit f;
    memset(&f, 0, sizeof(f));
    if (n > BACKOFF__MAX)
        n = BACKOFF__MAX;
    f.cls = CERT_BO_INSUFFICIENT;
    if (n < 3 || eps <= 0)
        goto done;
    memcpy(tmp, d, n * sizeof(double));
    med = backoff__median(tmp, n);
    lo = tmp[0];
    hi = tmp[n - 1];
    backoff__lsq(d, n, &a, &b);
    for (size_t i = 0; i < n; i++)
        l[i] = log((d[i] > 0 ? d[i] : 0) + eps);
    backoff__lsq(l, n, &la, &lb);
    f.slope = b;
    f.growth = exp(lb);
    for (size_t i = 0; i < n; i++) {
        double fl = a + b * (double)i, fe = exp(la + lb * (double)i);
        /* Relative to the fit, but never to less than half the median: one short early
         * delay must not make a whole schedule look irregular. */
        double el = fabs(d[i] - fl) / (fmax(fabs(fl), 0.5 * med) + eps);
        double ee = fabs(d[i] + eps - fe) / fmax(fe, 0.5 * med + eps);
        f.err_linear = el > f.err_linear ? el : f.err_linear;
        f.err_exp = ee > f.err_exp ? ee : f.err_exp;
    }
    {
        const double *one[1] = {d};
        f.ts_growth = exp(backoff__theil_sen(one, &n, 1, eps));
    }
    if (hi - lo <= fmax(2 * eps, CERT_BO_CONSTANT_SPREAD * med)) {
        f.cls = CERT_BO_CONSTANT;
    } else if (fmin(f.err_linear, f.err_exp) <= CERT_BO_REGULAR_ERR) {
        /* Both fit a short series: the increments decide (constant for linear, growing
         * with the factor for exponential). */
        bool exp_fits = f.err_exp <= CERT_BO_REGULAR_ERR && f.growth >= CERT_BO_EXP_GROWTH &&
                        backoff__increment_growth(d, n) >= CERT_BO_INCREMENT_GROWTH;
        if (exp_fits)
            f.cls = CERT_BO_EXPONENTIAL;
        else if (b > 0 && f.err_linear <= CERT_BO_REGULAR_ERR)
            f.cls = CERT_BO_LINEAR;
        else
            f.cls = CERT_BO_IRREGULAR;
    } else {
        f.cls =
            f.ts_growth >= CERT_BO_JITTER_GROWTH ? CERT_BO_EXPONENTIAL_JITTER : CERT_BO_IRREGULAR;
    }
done:
    if (fit)
        *fit = f;
    return f.cls;
}

static int backoff__same(const double *x, size_t nx, const double *y, size_t ny, double eps)
{
    size_t n = nx < ny ? nx : ny;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i] - y[i]) > CERT_BO_SAME_SERIES * fmax(x[i], y[i]) + eps)
            return 0;
    return 1;
}

/* Per-attempt maximum over the series: the jitter window's envelope. */
static double backoff__envelope_growth(const double *const *d, const size_t *n, size_t series,
                                       double eps)
{
    double env[BACKOFF__MAX];
    size_t m = BACKOFF__MAX;
    for (size_t q = 0; q < series; q++)
        m = n[q] < m ? n[q] : m;
    for (size_t i = 0; i < m; i++) {
        env[i] = 0;
        for (size_t q = 0; q < series; q++)
            env[i] = d[q][i] > env[i] ? d[q][i] : env[i];
    }
    const double *one[1] = {env};
    return exp(backoff__theil_sen(one, &m, 1, eps));
}

cert_backoff_class cert_backoff_classify_series(const double *const *d, const size_t *n,
                                                size_t series, double eps, int *identical)
{
    size_t jitter = 0, expo = 0, irregular = 0;
    cert_backoff_class first_other = CERT_BO_INSUFFICIENT;
    int same = series > 1;

    for (size_t q = 0; q < series; q++) {
        cert_backoff_class c = cert_backoff_classify(d[q], n[q], eps, NULL);
        if (c == CERT_BO_EXPONENTIAL_JITTER)
            jitter++;
        else if (c == CERT_BO_EXPONENTIAL)
            expo++;
        else {
            irregular += c == CERT_BO_IRREGULAR;
            if (first_other == CERT_BO_INSUFFICIENT)
                first_other = c;
        }
        if (q > 0 && !backoff__same(d[0], n[0], d[q], n[q], eps))
            same = 0;
    }
    if (identical)
        *identical = same;
    if (series == 0)
        return CERT_BO_INSUFFICIENT;
    if (jitter + expo == series) {
        if (jitter == series || (jitter > 0 && !same))
            return CERT_BO_EXPONENTIAL_JITTER;
        /* All look smooth: identical repeats are deterministic; differing ones are jitter
         * that happened to draw smooth series, if their pooled trend still grows. */
        if (!same && series > 1 &&
            exp(backoff__theil_sen(d, n, series, eps)) >= CERT_BO_JITTER_GROWTH)
            return CERT_BO_EXPONENTIAL_JITTER;
        return CERT_BO_EXPONENTIAL;
    }
    /* Full jitter can draw a series without visible growth; the per-attempt maximum over
     * the series follows the window. No series may be smooth-constant/linear. */
    if (series > 1 && jitter + expo + irregular == series && jitter + irregular > 0 &&
        backoff__envelope_growth(d, n, series, eps) >= CERT_BO_JITTER_GROWTH)
        return CERT_BO_EXPONENTIAL_JITTER;
    return first_other;
}
