/*
 * The journal: one JSON object per line, flushed per line, with a monotonic
 * timestamp. A line is written whole or not at all. The runner judges from it, so
 * every decision the endpoint makes (handshake, authentication, refusal, packet,
 * disconnect) goes through here.
 */
#ifndef IOTC_JOURNAL_H
#define IOTC_JOURNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "clock.h" /* iotc_mono_ms: the endpoint times with the journal's clock */

struct iotc_journal;

/* path NULL or "-" writes to stderr; "" disables. */
int iotc_journal_open(const char *path, struct iotc_journal **out);
/* A cap on the bytes this journal writes (0: none). At the cap the journal writes one
 * journal.truncated line and nothing after it (a warning goes to stderr). */
void iotc_journal_set_max_bytes(struct iotc_journal *j, long long max_bytes);
/* serve --workers: several processes append to one file. Every line's "t" counts from
 * t0 (the parent's, on the system-wide monotonic clock, so lines of all workers order
 * by t), carries "worker", and the cap counts the whole file. */
void iotc_journal_share(struct iotc_journal *j, double t0, int worker);
double iotc_journal_t0(const struct iotc_journal *j);
/* Called once when a write fails (disk full, EIO): the journal has written its reason
 * to stderr, removed any partial line and writes nothing more. why is borrowed. */
typedef void (*iotc_journal_fail_fn)(void *arg, const char *why);
void iotc_journal_on_fail(struct iotc_journal *j, iotc_journal_fail_fn fn, void *arg);
bool iotc_journal_failed(const struct iotc_journal *j);
void iotc_journal_close(struct iotc_journal *j);
/* Adds t/wall/event to fields (stolen; may be NULL) and writes the line. */
void iotc_journal_emit(struct iotc_journal *j, const char *event, json_t *fields);
/* False for a disabled journal: callers skip building events nobody will read. */
bool iotc_journal_enabled(const struct iotc_journal *j);
/* Milliseconds since the journal opened (monotonic). */
double iotc_journal_now_ms(const struct iotc_journal *j);

#endif
