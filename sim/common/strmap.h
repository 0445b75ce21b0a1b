/*
 * A string-keyed hash map of borrowed pointers (open addressing, linear probing).
 * Keys are copied. For per-connection lookups on the hot path, e.g. client ID ->
 * session, where a scan over every connection would make connects O(n).
 */
#ifndef IOTC_STRMAP_H
#define IOTC_STRMAP_H

#include <stddef.h>

struct iotc_strmap;

struct iotc_strmap *iotc_strmap_new(void);
void iotc_strmap_free(struct iotc_strmap *m);
/* Replaces an existing value. Returns IOTC_OK or IOTC_ERR_NOMEM. */
int iotc_strmap_put(struct iotc_strmap *m, const char *key, void *value);
void *iotc_strmap_get(const struct iotc_strmap *m, const char *key);
/* Removes key only if it maps to value (a newer owner may have replaced it). */
void iotc_strmap_del_if(struct iotc_strmap *m, const char *key, const void *value);

#endif
