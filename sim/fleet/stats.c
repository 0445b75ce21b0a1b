/* Latency histogram: buckets grow by 2%, so p50/p99 cost no per-sample memory
 * however long the run; 1200 buckets reach past 10^10 us. */
#include "fleet_int.h"

#include <math.h>

#define STATS_GROWTH 1.02

static unsigned stats__bucket(uint64_t us)
{
    if (us < 1)
        return 0;
    double b = log((double)us) / log(STATS_GROWTH) + 1.0;
    return b >= IOTC_FLEET_HIST_BUCKETS - 1 ? IOTC_FLEET_HIST_BUCKETS - 1 : (unsigned)b;
}

void iotc_fleet_hist_add(struct iotc_fleet_hist *h, uint64_t us)
{
    h->b[stats__bucket(us)]++;
    h->n++;
    if (us > h->max_us)
        h->max_us = us;
}

double iotc_fleet_hist_pct_ms(const struct iotc_fleet_hist *h, double pct)
{
    if (h->n == 0)
        return 0;
    uint64_t want = (uint64_t)ceil((double)h->n * pct / 100.0), seen = 0;
    if (want == 0)
        want = 1;
    for (unsigned i = 0; i < IOTC_FLEET_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want) {
            /* Upper edge of the bucket, never above the largest sample seen. */
            double us = i == 0 ? 1.0 : pow(STATS_GROWTH, (double)i);
            if (us > (double)h->max_us)
                us = (double)h->max_us;
            return us / 1000.0;
        }
    }
    return (double)h->max_us / 1000.0;
}
