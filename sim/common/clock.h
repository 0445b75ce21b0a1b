/*
 * The one clock. Monotonic readings (CLOCK_MONOTONIC: never steps, origin
 * unspecified) for deadlines, durations and the journal's `t`; the wall clock
 * only for the timestamps people read (results.json, the journal's `wall`).
 */
#ifndef IOTC_CLOCK_H
#define IOTC_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic, whole milliseconds / whole microseconds. */
int64_t iotc_clock_ms(void);
int64_t iotc_clock_us(void);
/* Monotonic, fractional milliseconds / seconds (sub-millisecond precision). */
double iotc_mono_ms(void);
double iotc_clock_s(void);

/* Moves the monotonic readings above forward by ms (0..1e12), for harnesses that
 * simulate the passage of time without waiting (the session fuzzer's "time passes"
 * record). The offset only grows, so readings stay monotonic; false (nothing moved) for
 * a bad ms or once the offset would overflow, and the harness must then not pretend time
 * passed. serve never calls it. The wall clock is not moved: nothing the front door
 * times reads it. */
bool iotc_clock_advance_ms(double ms);

/* Wall clock: milliseconds since the epoch, and ISO 8601 UTC with milliseconds
 * ("2026-11-22T02:29:25.670Z") into out (>= 32 bytes). */
double iotc_clock_wall_ms(void);
void iotc_clock_wall_iso(char *out, size_t len);

#endif
