/* What `run` and `certify` print while cases finish: on a terminal one redrawn line
 * (cases done / total, failures so far, elapsed, ETA) with failures on their own lines as
 * they happen; elsewhere (CI logs) a plain progress line at every 10% and every interval;
 * --verbose leaves the per-case lines to the caller; --quiet prints failures only.
 * Thread-safe: workers report cases, a ticker thread keeps the terminal line moving
 * while a slow case runs. */
#ifndef IOTC_HARNESS_PROGRESS_H
#define IOTC_HARNESS_PROGRESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum iotc_progress_mode {
    IOTC_PROGRESS_AUTO = 0, /* TTY if the stream is a terminal, else LINES */
    IOTC_PROGRESS_TTY,
    IOTC_PROGRESS_LINES,
    IOTC_PROGRESS_VERBOSE, /* the caller prints one line per case; nothing else here */
    IOTC_PROGRESS_QUIET,   /* failures only */
} iotc_progress_mode;

#define IOTC_PROGRESS_REDRAW_MS   100   /* terminal redraws: at most 10 a second */
#define IOTC_PROGRESS_INTERVAL_MS 10000 /* plain lines: at least every 10 s ... */
#define IOTC_PROGRESS_STEP_PCT    10    /* ... and at every 10% */

typedef struct iotc_progress {
    FILE *out;
    iotc_progress_mode mode;
    int jobs, width;
    size_t total, done, failed;
    long t0_ms, case_ms_sum, last_ms; /* last_ms: last redraw or plain line */
    int last_pct_step;
    bool drawn; /* a bar is on screen (TTY): clear it before any other line */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t ticker;
    bool ticking, stop;
} iotc_progress;

/* mode AUTO picks TTY or LINES from isatty(out). */
void iotc_progress_init(iotc_progress *p, FILE *out, iotc_progress_mode mode, size_t total,
                        int jobs);
/* Starts the ticker thread (optional: without it the line moves only when cases end). */
void iotc_progress_start(iotc_progress *p);
bool iotc_progress_verbose(const iotc_progress *p);

/* One finished case; failed: it failed or errored, and is printed with verdict, id and the
 * first line of reason (in every mode but VERBOSE, where the caller prints it). */
void iotc_progress_case(iotc_progress *p, const char *verdict, const char *id, bool failed,
                        const char *reason, long case_ms);
/* Same, at a given time (ms on iotc_clock_ms's scale): tests drive the clock. */
void iotc_progress_case_at(iotc_progress *p, const char *verdict, const char *id, bool failed,
                           const char *reason, long case_ms, long now_ms);

/* Prints a line of the caller's (setup messages) without tearing the bar. */
void iotc_progress_note(iotc_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Stops the ticker and leaves the final state on its own line (TTY) or a last plain line. */
void iotc_progress_finish(iotc_progress *p);

/* "1:05", "12:00:03": elapsed / ETA text (seconds). */
void iotc_progress_hms(long seconds, char *out, size_t len);

#endif
