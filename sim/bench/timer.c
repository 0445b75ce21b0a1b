/* The benchmarks' timers: seconds as libevent wants them. */
#include "bench.h"

void iotc_bench_arm(struct event *ev, double s)
{
    struct timeval tv = {(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
    evtimer_add(ev, &tv);
}
