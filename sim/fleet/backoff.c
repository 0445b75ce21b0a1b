/* Reconnect strategies. Pure functions of (config, attempt, rng) so the unit
 * tests can check each series, its caps and the jitter bounds. */
#include "fleet_int.h"

#include <string.h>

static const char *const backoff__names[] = {
    [IOTC_FLEET_BACKOFF_EXP_JITTER] = "exponential_jitter",
    [IOTC_FLEET_BACKOFF_EXP] = "exponential",
    [IOTC_FLEET_BACKOFF_LINEAR] = "linear",
    [IOTC_FLEET_BACKOFF_CONSTANT] = "constant",
    [IOTC_FLEET_BACKOFF_NONE] = "none",
};

const char *iotc_fleet_backoff_name(int kind)
{
    if (kind < 0 || kind > IOTC_FLEET_BACKOFF_NONE)
        return "?";
    return backoff__names[kind];
}

int iotc_fleet_backoff_parse(const char *name)
{
    for (int k = 0; k <= IOTC_FLEET_BACKOFF_NONE; k++)
        if (name && strcmp(name, backoff__names[k]) == 0)
            return k;
    return -1;
}

uint64_t iotc_fleet_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

double iotc_fleet_rand01(uint64_t *s)
{
    return (double)(iotc_fleet_rand(s) >> 11) / (double)(1ull << 53);
}

/* base * factor^(n-1), saturating at cap without overflowing on long outages. */
static long long backoff__exp(const struct iotc_fleet_backoff *b, unsigned n)
{
    long long v = b->base_ms;
    for (unsigned i = 1; i < n && v < b->cap_ms; i++)
        v = v > b->cap_ms / (b->factor > 1 ? b->factor : 2) ? b->cap_ms : v * b->factor;
    return v < b->cap_ms ? v : b->cap_ms;
}

long long iotc_fleet_backoff_delay(const struct iotc_fleet_backoff *b, unsigned n, uint64_t *rng)
{
    if (n == 0)
        n = 1;
    if (b->kind == IOTC_FLEET_BACKOFF_NONE || (b->max_attempts > 0 && n > b->max_attempts))
        return -1;
    long long v;
    switch (b->kind) {
    case IOTC_FLEET_BACKOFF_CONSTANT:
        v = b->base_ms;
        break;
    case IOTC_FLEET_BACKOFF_LINEAR: {
        long long steps = (long long)n - 1;
        v = b->step_ms > 0 && steps > (b->cap_ms - b->base_ms) / b->step_ms
                ? b->cap_ms
                : b->base_ms + b->step_ms * steps;
        break;
    }
    case IOTC_FLEET_BACKOFF_EXP:
        v = backoff__exp(b, n);
        break;
    case IOTC_FLEET_BACKOFF_EXP_JITTER:
    default:
        /* Full jitter: uniform in [0, ceiling], which spreads a fleet that lost its
         * endpoint at one instant instead of bringing it back in waves. */
        v = (long long)(iotc_fleet_rand01(rng) * (double)(backoff__exp(b, n) + 1));
        break;
    }
    return v < b->cap_ms ? v : b->cap_ms;
}
