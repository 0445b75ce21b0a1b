/* The journal reader: follows the endpoint's journal (JSON lines) and cuts per-case excerpts by
 * peer_port. */
#ifndef IOTC_HARNESS_JREADER_H
#define IOTC_HARNESS_JREADER_H

#include <jansson.h>
#include <stddef.h>

#define IOTC_JREADER_MAX_EXCERPT 50

/* Where each connection and each peer port appears (iotc_jreader_index_build), so an
 * excerpt of a long journal costs its own lines, not the whole tail. */
typedef struct iotc_jreader_ix_hit {
    size_t line;
    json_int_t key;  /* conn id (by_conn) or peer port (by_port) */
    json_int_t conn; /* by_port: the line's conn id */
} iotc_jreader_ix_hit;

typedef struct iotc_jreader_index {
    size_t n_lines;                         /* lines indexed; used only while it equals the count */
    iotc_jreader_ix_hit *by_conn, *by_port; /* sorted by (key, line) */
    size_t n_conn, n_port;
} iotc_jreader_index;

typedef struct iotc_jreader {
    char path[1024];
    long offset;   /* bytes consumed so far */
    json_t *lines; /* every entry read, in order */
    char partial[8192];
    size_t partial_len;
    iotc_jreader_index ix;
} iotc_jreader;

void iotc_jreader_init(iotc_jreader *j, const char *path);
void iotc_jreader_free(iotc_jreader *j);

/* Reads what was appended since the last call. */
void iotc_jreader_poll(iotc_jreader *j);

size_t iotc_jreader_count(const iotc_jreader *j);

/* Indexes every line read so far by conn id and peer port; iotc_jreader_excerpt uses it
 * until the next poll adds lines (then it scans, as without one). For the end of a
 * run, when every case's excerpt is cut again from the whole journal. */
void iotc_jreader_index_build(iotc_jreader *j);

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
