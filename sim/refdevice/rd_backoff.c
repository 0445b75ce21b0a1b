/*
 * Reconnect schedule of the reference device (AWS "exponential backoff and jitter"):
 * attempt n (failures since the last connection that stayed up IOTC_REFDEVICE_STABLE_MS) waits
 * U(0, min(cap, base * 2^n)) -- full jitter -- and never less than IOTC_REFDEVICE_MIN_RECONNECT_MS
 * after a CONNECT the endpoint answered, accepted or not (AWS allows one CONNECT per
 * second per client id; after a CONNACK timeout a second has passed already). The counter survives
 * short-lived connections on purpose: a server that drops the device right after CONNACK must see
 * the delays grow, not restart.
 */
#include <math.h>

#include "refdevice.h"

void iotc_refdevice_backoff_init(struct iotc_refdevice_backoff *b, uint64_t seed)
{
    b->attempt = 0;
    b->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

void iotc_refdevice_backoff_reset(struct iotc_refdevice_backoff *b)
{
    b->attempt = 0;
}

/* splitmix64: small, seedable, good enough for jitter. */
static double backoff__uniform(struct iotc_refdevice_backoff *b)
{
    uint64_t z = (b->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

double iotc_refdevice_backoff_next_ms(struct iotc_refdevice_backoff *b,
                                      const struct iotc_refdevice_opts *o, bool answered)
{
    unsigned n = b->attempt < 30 ? b->attempt : 30;
    double window =
        fmin(IOTC_REFDEVICE_BACKOFF_CAP_MS, IOTC_REFDEVICE_BACKOFF_BASE_MS * ldexp(1.0, (int)n));
    double d;

    b->attempt++;
    if (o->misbehave & IOTC_REFDEVICE_RECONNECT_INSTANTLY)
        return 0;
    if (o->misbehave & IOTC_REFDEVICE_BACKOFF_CONSTANT)
        d = IOTC_REFDEVICE_BACKOFF_BASE_MS;
    else if (o->misbehave & IOTC_REFDEVICE_BACKOFF_LINEAR)
        d = IOTC_REFDEVICE_BACKOFF_BASE_MS * (n + 1);
    else if (o->misbehave & IOTC_REFDEVICE_BACKOFF_EXP_NOJITTER)
        d = window;
    else
        d = window * backoff__uniform(b);
    if (answered && d < IOTC_REFDEVICE_MIN_RECONNECT_MS)
        d = IOTC_REFDEVICE_MIN_RECONNECT_MS;
    return d * o->time_scale;
}
