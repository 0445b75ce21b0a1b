/* The journal reader: follows the endpoint's journal (JSON lines) and cuts per-case excerpts by
 * peer_port. */
#ifndef IOTC_HARNESS_JREADER_H
#define IOTC_HARNESS_JREADER_H

#include <jansson.h>
#include <stddef.h>

#define IOTC_JREADER_MAX_EXCERPT 50

typedef struct iotc_jreader {
    char path[1024];
    long offset;   /* bytes consumed so far */
    json_t *lines; /* every entry read, in order */
    char partial[8192];
    size_t partial_len;
} iotc_jreader;

void iotc_jreader_init(iotc_jreader *j, const char *path);
void iotc_jreader_free(iotc_jreader *j);

/* Reads what was appended since the last call. */
void iotc_jreader_poll(iotc_jreader *j);

size_t iotc_jreader_count(const iotc_jreader *j);

/* Entries from index `from` on that belong to connections whose peer_port is one
 * of ports (matched by peer_port, then followed by conn id), plus endpoint-wide
 * events (broker.*, endpoint.*) in that window before `until` (0 = no end).
 * New array, at most IOTC_JREADER_MAX_EXCERPT entries, each with t_ms added. */
json_t *iotc_jreader_excerpt(const iotc_jreader *j, size_t from, size_t until, const int *ports,
                             size_t n_ports);

/* The distinct event names of an excerpt. */
json_t *iotc_jreader_events(json_t *excerpt);

/* 1 when the event names (iotc_jreader_events) hold one equal to name, else 0. */
int iotc_jreader_has(json_t *events, json_t *name);

#endif
