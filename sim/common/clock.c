#include "clock.h"

#include <stdio.h>
#include <time.h>

/* Microseconds added to every monotonic reading (iotc_clock_advance_ms); 0 outside
 * harnesses. Microseconds: a fuzz campaign fakes centuries in total. */
static int64_t clock__skew_us;

static struct timespec clock__mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (clock__skew_us) {
        int64_t ns = (int64_t)ts.tv_nsec + clock__skew_us % 1000000 * 1000;
        ts.tv_sec += (time_t)(clock__skew_us / 1000000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
    }
    return ts;
}

bool iotc_clock_advance_ms(double ms)
{
    if (!(ms >= 0) || ms > 1e12)
        return false;
    int64_t us = (int64_t)(ms * 1000.0);
    if (clock__skew_us > INT64_MAX / 4 - us)
        return false; /* about 70,000 years in total: the caller's time stops */
    clock__skew_us += us;
    return true;
}

int64_t iotc_clock_ms(void)
{
    struct timespec ts = clock__mono();
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t iotc_clock_us(void)
{
    struct timespec ts = clock__mono();
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double iotc_mono_ms(void)
{
    struct timespec ts = clock__mono();
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

double iotc_clock_s(void)
{
    struct timespec ts = clock__mono();
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double iotc_clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void iotc_clock_wall_iso(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    char base[24];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%03ldZ", base, ts.tv_nsec / 1000000L);
}
