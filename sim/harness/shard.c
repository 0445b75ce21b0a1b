/* Deterministic split of a selection into N shards (shard.h). */
#define _GNU_SOURCE /* qsort_r */
#include "harness/shard.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

int iotc_shard_parse(const char *arg, iotc_shard *s, iotc_errtext *err)
{
    char *end;
    long k, n;
    k = strtol(arg, &end, 10);
    if (end == arg || *end != '/')
        goto bad;
    const char *ns = end + 1;
    n = strtol(ns, &end, 10);
    if (end == ns || *end || n < 1 || n > IOTC_SHARD_MAX || k < 1 || k > n)
        goto bad;
    s->k = (int)k;
    s->n = (int)n;
    return IOTC_OK;
bad:
    return iotc_errtext_set(err, IOTC_ERR_INVALID,
                            "--shard wants K/N with 1 <= K <= N <= %d (e.g. 2/4), not \"%s\"",
                            IOTC_SHARD_MAX, arg);
}

static int shard__cmp(const void *a, const void *b, void *ids)
{
    const char *const *v = ids;
    return strcmp(v[*(const size_t *)a], v[*(const size_t *)b]);
}

long iotc_shard_select(const iotc_shard *s, const char *const *ids, size_t n, unsigned char *keep,
                       char *digest)
{
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char h[32];
    unsigned hl = 0;
    long kept = 0;
    if (!order || !md) {
        free(order);
        EVP_MD_CTX_free(md);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, shard__cmp, (void *)ids);
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (size_t r = 0; r < n; r++) {
        size_t i = order[r];
        EVP_DigestUpdate(md, ids[i], strlen(ids[i]));
        EVP_DigestUpdate(md, "\n", 1);
        keep[i] = s->n == 0 || (int)(r % (size_t)s->n) == s->k - 1;
        kept += keep[i];
    }
    EVP_DigestFinal_ex(md, h, &hl);
    strcpy(digest, "sha256:");
    for (unsigned b = 0; b < hl; b++)
        snprintf(digest + 7 + 2 * b, 3, "%02x", h[b]);
    EVP_MD_CTX_free(md);
    free(order);
    return kept;
}

json_t *iotc_shard_json(const iotc_shard *s, size_t selected, const char *digest)
{
    return json_pack("{s:i, s:i, s:s, s:I}", "index", s->k, "count", s->n, "selection", digest,
                     "selected", (json_int_t)selected);
}
