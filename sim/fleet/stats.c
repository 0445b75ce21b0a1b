/* Latency histogram: buckets grow by 2%, so p50/p99 cost no per-sample memory
 * however long the run; 1200 buckets reach past 10^10 us. */
#include "fleet_int.h"

#include "common/err.h"

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

/* Sparse: [[bucket, count], ...], so shards' histograms add up bucket by bucket (a
 * merged percentile comes from the merged counts, never from averaged percentiles). */
json_t *iotc_fleet_hist_json(const struct iotc_fleet_hist *h)
{
    json_t *b = json_array();
    for (unsigned i = 0; i < IOTC_FLEET_HIST_BUCKETS; i++)
        if (h->b[i])
            json_array_append_new(b, json_pack("[i, I]", (int)i, (json_int_t)h->b[i]));
    return json_pack("{s:I, s:I, s:o}", "n", (json_int_t)h->n, "max_us", (json_int_t)h->max_us,
                     "buckets", b);
}

int iotc_fleet_hist_add_json(struct iotc_fleet_hist *h, const json_t *o)
{
    json_t *b = json_object_get(o, "buckets"), *e;
    json_int_t n = json_integer_value(json_object_get(o, "n"));
    json_int_t max = json_integer_value(json_object_get(o, "max_us"));
    uint64_t sum = 0;
    size_t i;
    if (!json_is_array(b) || n < 0 || max < 0)
        return IOTC_ERR_INVALID;
    json_array_foreach(b, i, e)
    {
        json_int_t k = json_integer_value(json_array_get(e, 0));
        json_int_t c = json_integer_value(json_array_get(e, 1));
        if (k < 0 || k >= IOTC_FLEET_HIST_BUCKETS || c < 0 || c > UINT32_MAX ||
            (uint64_t)h->b[k] + (uint64_t)c > UINT32_MAX)
            return IOTC_ERR_INVALID;
        h->b[k] += (uint32_t)c;
        sum += (uint64_t)c;
    }
    if (sum != (uint64_t)n)
        return IOTC_ERR_INVALID;
    h->n += (uint64_t)n;
    if ((uint64_t)max > h->max_us)
        h->max_us = (uint64_t)max;
    return IOTC_OK;
}
