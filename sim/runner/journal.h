/* Follows the endpoint's journal (JSON lines) and cuts per-case excerpts by peer_port. */
#ifndef IOTC_RUNNER_JOURNAL_H
#define IOTC_RUNNER_JOURNAL_H

#include <jansson.h>
#include <stddef.h>

#define IOTC_JOURNAL_MAX_EXCERPT 50

typedef struct iotc_journal {
    char path[1024];
    long offset;   /* bytes consumed so far */
    json_t *lines; /* every entry read, in order */
    char partial[8192];
    size_t partial_len;
} iotc_journal;

void iotc_journal_init(iotc_journal *j, const char *path);
void iotc_journal_free(iotc_journal *j);

/* Reads what was appended since the last call. */
void iotc_journal_poll(iotc_journal *j);

size_t iotc_journal_count(const iotc_journal *j);

/* Entries from index `from` on that belong to connections whose peer_port is one
 * of ports (matched by peer_port, then followed by conn id), plus endpoint-wide
 * events (broker.*, endpoint.*) in that window before `until` (0 = no end).
 * New array, at most IOTC_JOURNAL_MAX_EXCERPT entries, each with t_ms added. */
json_t *iotc_journal_excerpt(const iotc_journal *j, size_t from, size_t until, const int *ports,
                             size_t n_ports);

/* The distinct event names of an excerpt. */
json_t *iotc_journal_events(json_t *excerpt);

#endif
