/* Who received what: one bit per (device, seq), so duplicates and losses are
 * counted per device, and the payload header that makes it possible. */
#include "fleet_int.h"
#include "common/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEDGER_MAX_SEQ (1u << 26) /* 64 M messages per device: beyond that, a bug */

int iotc_fleet_ledger_mark(struct iotc_fleet_ledger *l, uint32_t seq)
{
    if (seq >= LEDGER_MAX_SEQ)
        return IOTC_ERR_TOO_LARGE;
    uint32_t w = seq / 64;
    if (w >= l->words) {
        uint32_t nw = l->words ? l->words : 2;
        while (nw <= w)
            nw *= 2;
        uint64_t *p = realloc(l->seen, (size_t)nw * sizeof *p);
        if (!p)
            return IOTC_ERR_NOMEM;
        memset(p + l->words, 0, (size_t)(nw - l->words) * sizeof *p);
        l->seen = p;
        l->words = nw;
    }
    uint64_t bit = 1ull << (seq % 64);
    if (l->seen[w] & bit) {
        l->dup++;
        return 0;
    }
    l->seen[w] |= bit;
    l->delivered++;
    return 1;
}

bool iotc_fleet_ledger_seen(const struct iotc_fleet_ledger *l, uint32_t seq)
{
    uint32_t w = seq / 64;
    return w < l->words && (l->seen[w] & (1ull << (seq % 64)));
}

void iotc_fleet_ledger_free(struct iotc_fleet_ledger *l)
{
    free(l->seen);
    memset(l, 0, sizeof *l);
}

size_t iotc_fleet_payload_fill(char *out, size_t size, uint32_t dev, uint32_t seq, uint64_t t_us)
{
    int n = snprintf(out, size, "%" PRIu32 " %" PRIu32 " %" PRIu64 " ", dev, seq, t_us);
    if (n < 0 || (size_t)n >= size)
        return 0;
    memset(out + n, '.', size - (size_t)n);
    return size;
}

static int ledger__num(const uint8_t *p, size_t n, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    size_t start = *i;
    while (*i < n && p[*i] >= '0' && p[*i] <= '9' && *i - start < 20) {
        v = v * 10 + (uint64_t)(p[*i] - '0');
        (*i)++;
    }
    if (*i == start || *i >= n || p[*i] != ' ')
        return IOTC_ERR_MALFORMED;
    (*i)++;
    *out = v;
    return IOTC_OK;
}

int iotc_fleet_payload_parse(const uint8_t *p, size_t n, uint32_t *dev, uint32_t *seq,
                             uint64_t *t_us)
{
    size_t i = 0;
    uint64_t a, b, c;
    if (ledger__num(p, n, &i, &a) || ledger__num(p, n, &i, &b) || ledger__num(p, n, &i, &c))
        return IOTC_ERR_MALFORMED;
    if (a > UINT32_MAX || b > UINT32_MAX)
        return IOTC_ERR_MALFORMED;
    *dev = (uint32_t)a;
    *seq = (uint32_t)b;
    *t_us = c;
    return IOTC_OK;
}

/* The shard's ledger for fleet-merge: {"sent": [[device, n], ...] for every device of this
 * shard, "seen": [[device, dup, [lo, hi, lo, hi, ...]], ...] for every publisher (of any
 * shard) whose messages reached this shard, as inclusive seq ranges: a healthy run is one
 * range per publisher, so the file stays small while the merge stays exact. */
json_t *iotc_fleet_ledger_json(const struct iotc_fleet *fl)
{
    json_t *sent = json_array(), *seen = json_array();
    for (uint32_t i = 0; i < fl->n_devs; i++)
        json_array_append_new(sent, json_pack("[I, I]", (json_int_t)fl->devs[i].idx,
                                              (json_int_t)fl->ledger[fl->devs[i].idx].sent));
    for (uint32_t g = 0; g < fl->n_global; g++) {
        const struct iotc_fleet_ledger *l = &fl->ledger[g];
        if (!l->delivered && !l->dup)
            continue;
        json_t *ranges = json_array();
        uint32_t bits = l->words * 64;
        for (uint32_t s = 0; s < bits; s++) {
            if (!iotc_fleet_ledger_seen(l, s))
                continue;
            uint32_t e = s;
            while (e + 1 < bits && iotc_fleet_ledger_seen(l, e + 1))
                e++;
            json_array_append_new(ranges, json_integer(s));
            json_array_append_new(ranges, json_integer(e));
            s = e;
        }
        json_array_append_new(seen,
                              json_pack("[I, I, o]", (json_int_t)g, (json_int_t)l->dup, ranges));
    }
    return json_pack("{s:o, s:o}", "sent", sent, "seen", seen);
}
