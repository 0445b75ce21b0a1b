/* The backoff classifier (models, noise and decision rule in backoff.h). */
#include "backoff.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF__MAX   128 /* delays over all series */
#define BACKOFF__ITERS 4   /* reweighting rounds of the least-squares fits */
#define BACKOFF__G_MIN 1.5 /* growth factors the exponential models consider */
#define BACKOFF__G_MAX 3.0
#define BACKOFF__G_N   9
/* The jittered models: SDKs double their window (aws-c-io, paho, mqtt.js); a free factor
 * would let equal jitter with a slow window mimic full jitter. */
#define BACKOFF__GW_MIN 2.0
#define BACKOFF__GW_MAX 2.0
#define BACKOFF__GW_N   1
/* Linear needs a real slope, or it would tie with constant on every constant schedule. */
#define BACKOFF__LIN_MIN_ABS 3.0 /* x eps */
#define BACKOFF__LIN_MIN_REL 0.05
/* Random without growth needs a real spread, for the same reason. */
#define BACKOFF__IRR_MIN_ABS 6.0 /* x eps */
#define BACKOFF__IRR_MIN_REL 0.25
/* Random delays without growth are rare in devices; at prior 1 the unlucky low draws of
 * full jitter would be taken for them (2x6 delays: 98.0% instead of 99.8%). */
#define BACKOFF__IRR_PRIOR 0.02

/* Every delay of every series, with its attempt index within its series. */
typedef struct backoff__pts {
    double d[BACKOFF__MAX];
    double x[BACKOFF__MAX]; /* attempt index */
    size_t n;
    double eps;
    double log_outlier; /* log of the outlier density IOTC_CERTIFY_BO_OUTLIER / range */
} backoff__pts;

const char *iotc_certify_backoff_name(iotc_certify_backoff_class c)
{
    switch (c) {
    case IOTC_CERTIFY_BO_INSUFFICIENT:
        return "too few retries to classify";
    case IOTC_CERTIFY_BO_CONSTANT:
        return "constant";
    case IOTC_CERTIFY_BO_LINEAR:
        return "linear";
    case IOTC_CERTIFY_BO_EXPONENTIAL:
        return "exponential";
    case IOTC_CERTIFY_BO_FULL_JITTER:
        return "exponential with full jitter";
    case IOTC_CERTIFY_BO_EQUAL_JITTER:
        return "exponential with equal jitter";
    case IOTC_CERTIFY_BO_IRREGULAR:
        return "irregular (random, no growth)";
    case IOTC_CERTIFY_BO_JITTER:
        return "exponential with jitter";
    case IOTC_CERTIFY_BO_AMBIGUOUS:
        return "undetermined";
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

static double backoff__sigma(const backoff__pts *p, double s)
{
    double rel = IOTC_CERTIFY_BO_REL_NOISE * s;
    return sqrt(p->eps * p->eps + rel * rel);
}

/* log((1 - outlier) density + outlier / range) */
static double backoff__mix(const backoff__pts *p, double density)
{
    double a = log1p(-IOTC_CERTIFY_BO_OUTLIER) + log(density > 1e-300 ? density : 1e-300);
    double b = p->log_outlier, hi = a > b ? a : b;
    return hi + log(exp(a - hi) + exp(b - hi));
}

/* Deterministic delay s observed as d. */
static double backoff__ll_point(const backoff__pts *p, double d, double s)
{
    double sg = backoff__sigma(p, s), z = (d - s) / sg;
    return backoff__mix(p, exp(-0.5 * z * z) / (sg * 2.5066282746310002));
}

/* Delay max(floor, U(lo, hi)) observed as d: the uniform (and the floor's point mass)
 * convolved with the Gaussian. floor <= lo: no floor. */
static double backoff__ll_floored(const backoff__pts *p, double d, double lo, double hi,
                                  double floor)
{
    double sg = backoff__sigma(p, d), s2 = sg * 1.4142135623730951, dens, from = lo;
    dens = 0;
    if (floor > lo && floor < hi) {
        double z = (d - floor) / sg;
        dens = (floor - lo) / (hi - lo) * exp(-0.5 * z * z) / (sg * 2.5066282746310002);
        from = floor;
    }
    dens += 0.5 * (erfc((from - d) / s2) - erfc((hi - d) / s2)) / (hi - lo);
    return backoff__mix(p, dens);
}

static double backoff__ll_uniform(const backoff__pts *p, double d, double lo, double hi)
{
    return backoff__ll_floored(p, d, lo, hi, lo);
}

/* Outlier responsibility-weighted 1/sigma^2 of a delay against its fit. */
static double backoff__weight(const backoff__pts *p, double d, double s)
{
    double sg = backoff__sigma(p, s), z = (d - s) / sg;
    double in = (1 - IOTC_CERTIFY_BO_OUTLIER) * exp(-0.5 * z * z) / (sg * 2.5066282746310002);
    double out = exp(p->log_outlier);
    return in / (in + out) / (sg * sg);
}

static double backoff__fit_constant(const backoff__pts *p)
{
    double tmp[BACKOFF__MAX], c, ll = 0;
    memcpy(tmp, p->d, p->n * sizeof(double));
    c = backoff__median(tmp, p->n);
    for (int it = 0; it < BACKOFF__ITERS; it++) {
        double sw = 0, swd = 0;
        for (size_t k = 0; k < p->n; k++) {
            double w = backoff__weight(p, p->d[k], c);
            sw += w;
            swd += w * p->d[k];
        }
        if (sw > 0)
            c = swd / sw;
    }
    for (size_t k = 0; k < p->n; k++)
        ll += backoff__ll_point(p, p->d[k], c);
    return ll;
}

/* Theil-Sen start (robust to one slow accept), then reweighted least squares. */
static double backoff__fit_linear(const backoff__pts *p)
{
    double s[BACKOFF__MAX * 4], a, b, ll = 0;
    size_t m = 0;
    for (size_t j = 0; j < p->n; j++)
        for (size_t k = j + 1; k < p->n && m < sizeof(s) / sizeof(s[0]); k++)
            if (p->x[k] != p->x[j])
                s[m++] = (p->d[k] - p->d[j]) / (p->x[k] - p->x[j]);
    b = m ? backoff__median(s, m) : 0;
    for (size_t k = 0; k < p->n; k++)
        s[k] = p->d[k] - b * p->x[k];
    a = backoff__median(s, p->n);
    for (int it = 0; it < BACKOFF__ITERS; it++) {
        double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (size_t k = 0; k < p->n; k++) {
            double w = backoff__weight(p, p->d[k], a + b * p->x[k]);
            sw += w;
            sx += w * p->x[k];
            sy += w * p->d[k];
            sxx += w * p->x[k] * p->x[k];
            sxy += w * p->x[k] * p->d[k];
        }
        double det = sw * sxx - sx * sx;
        if (sw <= 0 || fabs(det) < 1e-12)
            break;
        b = (sw * sxy - sx * sy) / det;
        a = (sy - b * sx) / sw;
        double b_min = BACKOFF__LIN_MIN_ABS * p->eps + BACKOFF__LIN_MIN_REL * fabs(a);
        if (b < b_min) {
            b = b_min;
            a = (sy - b * sx) / sw;
        }
    }
    for (size_t k = 0; k < p->n; k++)
        ll += backoff__ll_point(p, p->d[k], a + b * p->x[k]);
    return ll;
}

static double backoff__grid(double lo, double hi, int n, int j)
{
    return n > 1 ? lo * pow(hi / lo, (double)j / (n - 1)) : sqrt(lo * hi);
}

static double backoff__fit_exponential(const backoff__pts *p, double *growth)
{
    double best = -INFINITY;
    for (int j = 0; j < BACKOFF__G_N; j++) {
        double g = backoff__grid(BACKOFF__G_MIN, BACKOFF__G_MAX, BACKOFF__G_N, j);
        double r[BACKOFF__MAX], gi[BACKOFF__MAX], b, ll = 0;
        for (size_t k = 0; k < p->n; k++) {
            gi[k] = pow(g, p->x[k]);
            r[k] = p->d[k] / gi[k];
        }
        b = backoff__median(r, p->n);
        for (int it = 0; it < BACKOFF__ITERS; it++) {
            double num = 0, den = 0;
            for (size_t k = 0; k < p->n; k++) {
                double w = backoff__weight(p, p->d[k], b * gi[k]);
                num += w * p->d[k] * gi[k];
                den += w * gi[k] * gi[k];
            }
            if (den > 0)
                b = num / den;
        }
        /* Below eps the first delay is noise: that is the constant schedule near 0. */
        b = b > p->eps ? b : p->eps;
        for (size_t k = 0; k < p->n; k++)
            ll += backoff__ll_point(p, p->d[k], b * gi[k]);
        if (ll > best) {
            best = ll;
            *growth = g;
        }
    }
    return best;
}

/* Windows [lo_frac, 1] x b g^i, delays raised to floor (0: none). The likelihood falls with b once
 * every delay is inside, so the best b is the largest d / g^i, or the second or third when those
 * are outliers. */
static double backoff__fit_window(const backoff__pts *p, double lo_frac, double floor,
                                  double *growth)
{
    double best = -INFINITY;
    for (int j = 0; j < BACKOFF__GW_N; j++) {
        double g = backoff__grid(BACKOFF__GW_MIN, BACKOFF__GW_MAX, BACKOFF__GW_N, j);
        double r[BACKOFF__MAX], gi[BACKOFF__MAX];
        for (size_t k = 0; k < p->n; k++) {
            gi[k] = pow(g, p->x[k]);
            r[k] = p->d[k] / gi[k];
        }
        qsort(r, p->n, sizeof(double), backoff__cmp);
        for (size_t c = 0; c < 3 && c < p->n; c++) {
            double b = r[p->n - 1 - c], ll = 0;
            if (b <= p->eps)
                break;
            for (size_t k = 0; k < p->n; k++)
                ll += backoff__ll_floored(p, p->d[k], lo_frac * b * gi[k], b * gi[k], floor);
            if (ll > best) {
                best = ll;
                *growth = g;
            }
        }
    }
    return best;
}

static double backoff__fit_irregular(const backoff__pts *p)
{
    double s[BACKOFF__MAX], best = -INFINITY;
    memcpy(s, p->d, p->n * sizeof(double));
    qsort(s, p->n, sizeof(double), backoff__cmp);
    double los[3] = {0, s[0], p->n > 3 ? s[1] : s[0]};
    double his[2] = {s[p->n - 1], p->n > 3 ? s[p->n - 2] : s[p->n - 1]};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 2; b++) {
            double lo = los[a], hi = his[b], ll = 0;
            double min_w = BACKOFF__IRR_MIN_ABS * p->eps + BACKOFF__IRR_MIN_REL * hi;
            if (hi - lo < min_w)
                lo = hi - min_w;
            for (size_t k = 0; k < p->n; k++)
                ll += backoff__ll_uniform(p, p->d[k], lo, hi);
            best = ll > best ? ll : best;
        }
    return best;
}

static bool backoff__same(const double *x, size_t nx, const double *y, size_t ny, double eps)
{
    size_t n = nx < ny ? nx : ny;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i] - y[i]) > IOTC_CERTIFY_BO_SAME * fmax(x[i], y[i]) + eps)
            return false;
    return true;
}

static size_t backoff__gather(const double *const *d, const size_t *n, size_t series, double eps,
                              backoff__pts *p)
{
    double hi = 0;
    size_t n_min = series ? (size_t)-1 : 0;
    p->n = 0;
    p->eps = eps;
    for (size_t q = 0; q < series; q++) {
        n_min = n[q] < n_min ? n[q] : n_min;
        for (size_t i = 0; i < n[q] && p->n < BACKOFF__MAX; i++) {
            double v = d[q][i] > 0 && isfinite(d[q][i]) ? d[q][i] : 0;
            p->d[p->n] = v;
            p->x[p->n++] = (double)i;
            hi = v > hi ? v : hi;
        }
    }
    p->log_outlier = log(IOTC_CERTIFY_BO_OUTLIER / (1.5 * hi + 10 * eps));
    return n_min;
}

static void backoff__decide(iotc_certify_backoff_result *r, const double *score)
{
    double top = -INFINITY, sum = 0;
    for (int m = 0; m < IOTC_CERTIFY_BO_MODELS; m++)
        top = score[m] > top ? score[m] : top;
    for (int m = 0; m < IOTC_CERTIFY_BO_MODELS; m++)
        sum += r->p[m] = exp(score[m] - top);
    int b1 = 0, b2 = 1;
    for (int m = 0; m < IOTC_CERTIFY_BO_MODELS; m++) {
        r->p[m] /= sum;
        if (r->p[m] > r->p[b1])
            b1 = m;
    }
    b2 = b1 == 0 ? 1 : 0;
    for (int m = 0; m < IOTC_CERTIFY_BO_MODELS; m++)
        if (m != b1 && r->p[m] > r->p[b2])
            b2 = m;
    r->best = (iotc_certify_backoff_class)(IOTC_CERTIFY_BO_CONSTANT + b1);
    r->second = (iotc_certify_backoff_class)(IOTC_CERTIFY_BO_CONSTANT + b2);
    r->p_jitter = r->p[IOTC_CERTIFY_BO_FULL_JITTER - 1] + r->p[IOTC_CERTIFY_BO_EQUAL_JITTER - 1];
    r->p_growth = r->p_jitter + r->p[IOTC_CERTIFY_BO_EXPONENTIAL - 1];
    if (r->p[b1] >= IOTC_CERTIFY_BO_DECIDE)
        r->cls = r->best;
    else if (r->p_jitter >= IOTC_CERTIFY_BO_DECIDE)
        r->cls = IOTC_CERTIFY_BO_JITTER;
    else {
        r->cls = IOTC_CERTIFY_BO_AMBIGUOUS;
        snprintf(r->why, sizeof(r->why), "%s (%.0f%%) or %s (%.0f%%)", iotc_certify_backoff_name(r->best),
                 100 * r->p[b1], iotc_certify_backoff_name(r->second), 100 * r->p[b2]);
    }
}

/* A shape claim (growth, jitter) resting on fewer than IOTC_CERTIFY_BO_MIN_SHAPE delays per series
 * is one residual deep: say so instead of guessing. */
static void backoff__short(iotc_certify_backoff_result *r)
{
    bool shape = r->cls == IOTC_CERTIFY_BO_LINEAR || r->cls == IOTC_CERTIFY_BO_EXPONENTIAL ||
                 r->cls == IOTC_CERTIFY_BO_FULL_JITTER || r->cls == IOTC_CERTIFY_BO_EQUAL_JITTER ||
                 r->cls == IOTC_CERTIFY_BO_JITTER ||
                 (r->cls == IOTC_CERTIFY_BO_AMBIGUOUS && r->best != IOTC_CERTIFY_BO_CONSTANT &&
                  r->best != IOTC_CERTIFY_BO_IRREGULAR);
    if (!shape || r->n_min >= IOTC_CERTIFY_BO_MIN_SHAPE)
        return;
    r->cls = IOTC_CERTIFY_BO_AMBIGUOUS;
    snprintf(r->why, sizeof(r->why),
             "growing, exponential or linear (%zu delays per series cannot "
             "separate them; %d can)",
             r->n_min, IOTC_CERTIFY_BO_MIN_SHAPE);
}

iotc_certify_backoff_class iotc_certify_backoff_classify(const double *const *d, const size_t *n, size_t series,
                                         double eps, iotc_certify_backoff_result *out)
{
    backoff__pts p;
    iotc_certify_backoff_result r;
    double score[IOTC_CERTIFY_BO_MODELS], ll[IOTC_CERTIFY_BO_MODELS], g_exp = 0, g_full = 0, g_equal = 0;
    static const int k[IOTC_CERTIFY_BO_MODELS] = {1, 2, 2, 2, 2, 2};
    static const double prior[IOTC_CERTIFY_BO_MODELS] = {1, 1, 1, 1, 1, BACKOFF__IRR_PRIOR};

    memset(&r, 0, sizeof(r));
    r.cls = r.best = r.second = IOTC_CERTIFY_BO_INSUFFICIENT;
    r.n_min = backoff__gather(d, n, series, eps, &p);
    r.identical = series > 1;
    for (size_t q = 1; q < series; q++)
        if (!backoff__same(d[0], n[0], d[q], n[q], eps))
            r.identical = 0;
    if (r.n_min < 3 || eps <= 0) {
        snprintf(r.why, sizeof(r.why), "%zu delays in a series, 3 needed", r.n_min);
        goto done;
    }
    ll[0] = backoff__fit_constant(&p);
    ll[1] = backoff__fit_linear(&p);
    ll[2] = backoff__fit_exponential(&p, &g_exp);
    ll[3] = backoff__fit_window(&p, 0.0, 0.0, &g_full);
    {
        /* Full jitter raised to a floor (AWS allows one CONNECT per second per client id,
         * so devices wait >= 1 s after an accepted connection): the floor is the shortest
         * delay, one more parameter. */
        double g_floor = 0, floor = p.d[0];
        for (size_t i = 1; i < p.n; i++)
            floor = p.d[i] < floor ? p.d[i] : floor;
        double ll_floor = backoff__fit_window(&p, 0.0, floor, &g_floor) - 0.5 * log((double)p.n);
        if (r.n_min >= IOTC_CERTIFY_BO_MIN_SHAPE && floor > 2 * eps && ll_floor > ll[3]) {
            ll[3] = ll_floor;
            g_full = g_floor;
        }
    }
    ll[4] = backoff__fit_window(&p, 0.5, 0.0, &g_equal);
    ll[5] = backoff__fit_irregular(&p);
    for (int m = 0; m < IOTC_CERTIFY_BO_MODELS; m++)
        score[m] = ll[m] - 0.5 * k[m] * log((double)p.n) + log(prior[m]);
    backoff__decide(&r, score);
    r.growth = r.best == IOTC_CERTIFY_BO_FULL_JITTER    ? g_full
               : r.best == IOTC_CERTIFY_BO_EQUAL_JITTER ? g_equal
                                                : g_exp;
    backoff__short(&r);
done:
    if (out)
        *out = r;
    return r.cls;
}

iotc_certify_backoff_class iotc_certify_backoff_classify1(const double *d, size_t n, double eps,
                                          iotc_certify_backoff_result *r)
{
    const double *one[1] = {d};
    return iotc_certify_backoff_classify(one, &n, 1, eps, r);
}

iotc_certify_backoff_evidence iotc_certify_backoff_evidence_of(const iotc_certify_backoff_result *r)
{
    if (r->cls == IOTC_CERTIFY_BO_INSUFFICIENT)
        return IOTC_CERTIFY_BO_SAYS_UNSURE;
    if (r->p_jitter >= IOTC_CERTIFY_BO_DECIDE)
        return IOTC_CERTIFY_BO_SAYS_JITTER;
    if (r->cls == IOTC_CERTIFY_BO_EXPONENTIAL)
        return IOTC_CERTIFY_BO_SAYS_EXPONENTIAL;
    if (r->p_growth >= IOTC_CERTIFY_BO_DECIDE)
        return IOTC_CERTIFY_BO_SAYS_GROWTH;
    if (r->p_growth <= 1 - IOTC_CERTIFY_BO_DECIDE)
        return IOTC_CERTIFY_BO_SAYS_NO_GROWTH;
    return IOTC_CERTIFY_BO_SAYS_UNSURE;
}

void iotc_certify_backoff_describe(const iotc_certify_backoff_result *r, char *out, size_t len)
{
    if (r->cls == IOTC_CERTIFY_BO_AMBIGUOUS || r->cls == IOTC_CERTIFY_BO_INSUFFICIENT)
        snprintf(out, len, "%s: %s", iotc_certify_backoff_name(r->cls), r->why);
    else
        snprintf(out, len, "%s", iotc_certify_backoff_name(r->cls));
}
