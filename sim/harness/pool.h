/* The worker pool of `run` and `certify`: cases taken in order by up to N threads. */
#ifndef IOTC_HARNESS_POOL_H
#define IOTC_HARNESS_POOL_H

#include <stddef.h>

#define IOTC_POOL_MAX_THREADS 64

/* Calls one(i, arg) once for every i in 0..n-1, in order of i, on up to threads threads
 * (at most IOTC_POOL_MAX_THREADS), each taking the next i when it is free. With threads
 * 0, or when no thread can be started, on the calling thread. Returns when all are done;
 * one does its own locking for anything else it shares. */
void iotc_pool_run(size_t n, int threads, void (*one)(size_t i, void *arg), void *arg);

#endif
