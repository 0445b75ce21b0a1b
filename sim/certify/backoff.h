/*
 * Backoff classifier: what kind of reconnect schedule a device follows, from the
 * delays the journal shows between the end of one attempt and the start of the next.
 *
 * Likelihood-based. Each candidate schedule is a model of the delay s_i of attempt i
 * (i = 0, 1, ... within a series; several series of the same case share the model's
 * parameters, so a deterministic schedule must repeat itself):
 *   constant            s_i = c                                        1 parameter
 *   linear              s_i = a + b i                                  2
 *   exponential         s_i = b g^i, g in [1.5, 3]                     2
 *   full jitter         s_i ~ U(0, b g^i)          (AWS SDK default)   2
 *   equal jitter        s_i ~ U(b g^i / 2, b g^i)                      2
 *   irregular           s_i ~ U(lo, hi), random without growth         2
 * The observed delay is s_i plus timing noise: Gaussian with
 * sigma^2 = eps^2 + (IOTC_CERTIFY_BO_REL_NOISE s)^2 (eps is the caller's absolute tolerance:
 * connect time, scheduling, time-scale rounding), mixed with a IOTC_CERTIFY_BO_OUTLIER share
 * of delays that can land anywhere (one slow accept under load must not turn a constant
 * schedule into "irregular"). Parameters are fitted by maximum likelihood (iterated
 * weighted least squares for the deterministic models, grid over g and window
 * candidates for the random ones); each model scores log-likelihood - k/2 ln N (BIC)
 * and the scores give posterior weights.
 *
 * The label is the best model when its weight is >= IOTC_CERTIFY_BO_DECIDE; when only the
 * jittered models together are that sure, IOTC_CERTIFY_BO_JITTER (kind undetermined); else
 * IOTC_CERTIFY_BO_AMBIGUOUS naming the two best and why. Minimum delays per series for a
 * verdict: 3 (constant, irregular), IOTC_CERTIFY_BO_MIN_SHAPE = 4 to tell linear from
 * exponential growth (3 delays leave one residual: 1, 2, 4 is a curve or a slow
 * timer), and for jitter see the measured table in the README (two series of
 * IOTC_CERTIFY_BO_MIN_JITTER delays). Accuracy is measured in tests/unit/test_backoff.c.
 */
#ifndef IOTC_CERTIFY_BACKOFF_H
#define IOTC_CERTIFY_BACKOFF_H

#include <stddef.h>

typedef enum iotc_certify_backoff_class {
    IOTC_CERTIFY_BO_INSUFFICIENT,
    IOTC_CERTIFY_BO_CONSTANT,
    IOTC_CERTIFY_BO_LINEAR,
    IOTC_CERTIFY_BO_EXPONENTIAL,
    IOTC_CERTIFY_BO_FULL_JITTER,
    IOTC_CERTIFY_BO_EQUAL_JITTER,
    IOTC_CERTIFY_BO_IRREGULAR,
    IOTC_CERTIFY_BO_JITTER,    /* full or equal jitter, kind undetermined */
    IOTC_CERTIFY_BO_AMBIGUOUS, /* the evidence cannot separate best and second */
} iotc_certify_backoff_class;

#define IOTC_CERTIFY_BO_MODELS     6    /* CONSTANT .. IRREGULAR */
#define IOTC_CERTIFY_BO_REL_NOISE  0.03 /* relative timer/scheduling noise */
#define IOTC_CERTIFY_BO_OUTLIER    0.02 /* share of delays that may land anywhere */
#define IOTC_CERTIFY_BO_DECIDE     0.95 /* posterior weight a label needs */
#define IOTC_CERTIFY_BO_MIN_SHAPE  4    /* delays per series to tell linear from exponential */
#define IOTC_CERTIFY_BO_MIN_JITTER 6    /* delays per series (two series) the jitter cases observe */
#define IOTC_CERTIFY_BO_SAME       0.15 /* two series this close (relative, + eps) are identical */

typedef struct iotc_certify_backoff_result {
    iotc_certify_backoff_class cls;    /* the label */
    iotc_certify_backoff_class best;   /* most likely model */
    iotc_certify_backoff_class second; /* runner-up */
    double p[IOTC_CERTIFY_BO_MODELS];  /* posterior weight per model, index cls - IOTC_CERTIFY_BO_CONSTANT */
    double p_jitter;           /* full + equal jitter */
    double p_growth;           /* exponential + full + equal jitter */
    double growth;             /* fitted factor per attempt of the best growth model */
    int identical;             /* several series, equal within IOTC_CERTIFY_BO_SAME */
    size_t n_min;              /* fewest delays in a series */
    char why[160];             /* for AMBIGUOUS / INSUFFICIENT: what could not be told */
} iotc_certify_backoff_result;

/* Classifies `series` series d[q][0..n[q]-1] (seconds; eps > 0 seconds). r may be NULL. */
iotc_certify_backoff_class iotc_certify_backoff_classify(const double *const *d, const size_t *n, size_t series,
                                         double eps, iotc_certify_backoff_result *r);

/* One series. */
iotc_certify_backoff_class iotc_certify_backoff_classify1(const double *d, size_t n, double eps,
                                          iotc_certify_backoff_result *r);

/* What a backoff case can conclude from a result; the judges and the accuracy test share
 * it. Jitter and exponential growth each need posterior weight >= IOTC_CERTIFY_BO_DECIDE; no growth
 * at that weight is NO_GROWTH; anything in between is UNSURE (never a guess). */
typedef enum iotc_certify_backoff_evidence {
    IOTC_CERTIFY_BO_SAYS_JITTER,      /* exponential with jitter */
    IOTC_CERTIFY_BO_SAYS_EXPONENTIAL, /* exponential, no jitter */
    IOTC_CERTIFY_BO_SAYS_GROWTH,      /* exponential growth, jitter undetermined */
    IOTC_CERTIFY_BO_SAYS_NO_GROWTH,   /* constant, linear, irregular (or undetermined among them) */
    IOTC_CERTIFY_BO_SAYS_UNSURE,
} iotc_certify_backoff_evidence;

iotc_certify_backoff_evidence iotc_certify_backoff_evidence_of(const iotc_certify_backoff_result *r);

/* "constant", "linear", "exponential", "exponential with full jitter", ... */
const char *iotc_certify_backoff_name(iotc_certify_backoff_class c);

/* The label with its reason when undetermined, e.g. "undetermined: exponential or
 * linear (3 delays per series cannot separate them)". */
void iotc_certify_backoff_describe(const iotc_certify_backoff_result *r, char *out, size_t len);

#endif
