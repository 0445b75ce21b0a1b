/*
 * Backoff classifier: what kind of reconnect schedule a device follows, from the
 * delays the journal shows between the end of one attempt and the start of the next.
 *
 * Thresholds (delays d[0..n-1], eps = absolute timing tolerance in the same unit):
 *   n < 3                                      insufficient
 *   max - min <= max(2 eps, 0.3 median)        constant
 *   least-squares fits, max relative error |d - fit| / (max(fit, median / 2) + eps):
 *     linear  d = a + b i
 *     exponential  ln(d + eps) = a + i ln g
 *   best fit error <= 0.25 ("regular"):
 *     exponential fits, g >= 1.4 and the last two increments are >= 2x the first two
 *     (a short noisy linear series fits an exponential too; its increments do not grow)
 *                                              exponential
 *     else linear fits with slope b > 0        linear
 *     else                                     irregular
 *   otherwise (jittered): Theil-Sen slope of ln(d + eps) (median of pairwise slopes,
 *   robust to the low draws of full jitter); growth >= 1.3      exponential with jitter
 *                                                      else     irregular (no growth)
 * Measured on simulated series (tests/unit/test_certify.c): deterministic constant,
 * linear and exponential schedules with timing noise are always classified right; full
 * jitter U(0, 2^i) is recognised in ~86% of 5-delay series, ~94% of 6-delay series and
 * ~97% when two 5-delay series are judged together (cert_backoff_classify_series), which
 * is why the backoff cases run two series; random delays that do not grow (U(0, 1),
 * two series) pass for jitter in ~4% of pairs.
 */
#ifndef IOTC_CERTIFY_BACKOFF_H
#define IOTC_CERTIFY_BACKOFF_H

#include <stddef.h>

typedef enum cert_backoff_class {
    CERT_BO_INSUFFICIENT,
    CERT_BO_CONSTANT,
    CERT_BO_LINEAR,
    CERT_BO_EXPONENTIAL,
    CERT_BO_EXPONENTIAL_JITTER,
    CERT_BO_IRREGULAR,
} cert_backoff_class;

#define CERT_BO_CONSTANT_SPREAD  0.3
#define CERT_BO_REGULAR_ERR      0.25
#define CERT_BO_EXP_GROWTH       1.4
#define CERT_BO_INCREMENT_GROWTH 2.0
#define CERT_BO_JITTER_GROWTH    1.3
#define CERT_BO_SAME_SERIES      0.15 /* two series this close (relative, + eps) are identical */

typedef struct cert_backoff_fit {
    cert_backoff_class cls;
    double growth;     /* least-squares growth factor per attempt (exponential fit) */
    double ts_growth;  /* Theil-Sen growth factor */
    double slope;      /* linear fit: added per attempt */
    double err_linear; /* max relative error of each fit */
    double err_exp;
} cert_backoff_fit;

cert_backoff_class cert_backoff_classify(const double *d, size_t n, double eps,
                                         cert_backoff_fit *fit);

/* Several series of the same schedule (e.g. withhold CONNACK 5 times, twice): jitter
 * when every series is jittered, or when some are and the rest are exponential but the
 * series differ (a deterministic schedule repeats itself), or when no series is smooth
 * constant/linear and the per-attempt maximum over the series (the jitter window's
 * envelope) grows by >= CERT_BO_JITTER_GROWTH (Theil-Sen); exponential when all are
 * exponential and identical within CERT_BO_SAME_SERIES. Otherwise the class of the
 * first series that is not exponential. */
cert_backoff_class cert_backoff_classify_series(const double *const *d, const size_t *n,
                                                size_t series, double eps, int *identical);

/* "constant", "linear", "exponential", "exponential with jitter", ... */
const char *cert_backoff_name(cert_backoff_class c);

#endif
