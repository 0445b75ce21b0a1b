/* `--shard K/N` for `run` and `certify`: which of the selected cases this process runs.
 * The split is round-robin over the selected case ids sorted bytewise: every shard gets
 * the same number of cases (+-1), and since ids of one template sort next to each other
 * (template.row.ip.tls) each shard gets about 1/N of every family, so the shards take
 * about the same time. It depends only on the selection, which results.json records as a
 * digest so `iotconform report` can refuse shards of different selections. */
#ifndef IOTC_HARNESS_SHARD_H
#define IOTC_HARNESS_SHARD_H

#include <jansson.h>
#include "common/errtext.h"
#include <stddef.h>

#define IOTC_SHARD_MAX 1000

typedef struct iotc_shard {
    int k, n; /* 1 <= k <= n <= IOTC_SHARD_MAX; n == 0: not sharded */
} iotc_shard;

/* "K/N" -> s; a clear message in err otherwise. */
int iotc_shard_parse(const char *arg, iotc_shard *s, iotc_errtext *err);

/* keep[i] = 1 when ids[i] is in shard s (all 1 when s->n == 0). digest (72 bytes) gets
 * "sha256:<hex>" of the sorted ids joined by '\n'. Returns how many are kept, -1 on ENOMEM. */
long iotc_shard_select(const iotc_shard *s, const char *const *ids, size_t n, unsigned char *keep,
                       char *digest);

/* run.shard of results.json: {"index", "count", "selection", "selected"}. */
json_t *iotc_shard_json(const iotc_shard *s, size_t selected, const char *digest);

#endif
