/*
 * The journal: one JSON object per line, flushed per line, with a monotonic
 * timestamp. The runner judges from it, so every decision the endpoint makes
 * (handshake, authentication, refusal, packet, disconnect) goes through here.
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
void iotc_journal_close(struct iotc_journal *j);
/* Adds t/wall/event to fields (stolen; may be NULL) and writes the line. */
void iotc_journal_emit(struct iotc_journal *j, const char *event, json_t *fields);
/* False for a disabled journal: callers skip building events nobody will read. */
bool iotc_journal_enabled(const struct iotc_journal *j);
/* Milliseconds since the journal opened (monotonic). */
double iotc_journal_now_ms(const struct iotc_journal *j);

#endif
