#include "strmap.h"
#include "err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct strmap__slot {
    char *key; /* NULL: empty; TOMBSTONE: deleted */
    void *value;
};

struct iotc_strmap {
    struct strmap__slot *slots;
    size_t cap;  /* power of two */
    size_t used; /* live + tombstones */
    size_t live;
};

static char strmap__tombstone;
#define TOMBSTONE (&strmap__tombstone)

static uint64_t strmap__hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

struct iotc_strmap *iotc_strmap_new(void)
{
    struct iotc_strmap *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cap = 64;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

void iotc_strmap_free(struct iotc_strmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMBSTONE)
            free(m->slots[i].key);
    free(m->slots);
    free(m);
}

static struct strmap__slot *strmap__find(const struct iotc_strmap *m, const char *key)
{
    size_t mask = m->cap - 1;
    for (size_t i = strmap__hash(key) & mask, n = 0; n < m->cap; i = (i + 1) & mask, n++) {
        struct strmap__slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != TOMBSTONE && strcmp(s->key, key) == 0)
            return s;
    }
    return NULL;
}

static int strmap__grow(struct iotc_strmap *m)
{
    size_t cap = m->live * 4 > m->cap ? m->cap * 2 : m->cap; /* else only purge tombstones */
    struct strmap__slot *old = m->slots, *slots = calloc(cap, sizeof *slots);
    size_t old_cap = m->cap;
    if (!slots)
        return IOTC_ERR_NOMEM;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].key || old[i].key == TOMBSTONE)
            continue;
        size_t j = strmap__hash(old[i].key) & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = old[i];
    }
    free(old);
    m->slots = slots;
    m->cap = cap;
    m->used = m->live;
    return IOTC_OK;
}

int iotc_strmap_put(struct iotc_strmap *m, const char *key, void *value)
{
    struct strmap__slot *s = strmap__find(m, key);
    if (s) {
        s->value = value;
        return IOTC_OK;
    }
    if ((m->used + 1) * 4 > m->cap * 3 && strmap__grow(m) != IOTC_OK)
        return IOTC_ERR_NOMEM;
    char *copy = strdup(key);
    if (!copy)
        return IOTC_ERR_NOMEM;
    size_t mask = m->cap - 1, i = strmap__hash(key) & mask;
    while (m->slots[i].key && m->slots[i].key != TOMBSTONE)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        m->used++;
    m->slots[i].key = copy;
    m->slots[i].value = value;
    m->live++;
    return IOTC_OK;
}

void *iotc_strmap_get(const struct iotc_strmap *m, const char *key)
{
    struct strmap__slot *s = strmap__find(m, key);
    return s ? s->value : NULL;
}

void iotc_strmap_del_if(struct iotc_strmap *m, const char *key, const void *value)
{
    struct strmap__slot *s = strmap__find(m, key);
    if (!s || s->value != value)
        return;
    free(s->key);
    s->key = TOMBSTONE;
    s->value = NULL;
    m->live--;
}
