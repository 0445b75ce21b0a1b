/*
 * d2i_X509 with a cache of parsed certificates (why: x509_cache.h). Direct-mapped by a
 * 64-bit FNV-1a hash of the DER; a hit also compares the whole DER, so two certificates
 * never share an object. A collision replaces the older entry (its holders keep their
 * references). One mutex: the front door and the bench are single-threaded, but the
 * commands that link this file run worker threads.
 */
#include "common/x509_cache.h"
#include "common/err.h"

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct x509c_slot {
    uint64_t hash;
    size_t len;
    unsigned char *der;
    X509 *x; /* the cache's own reference */
};

static struct {
    pthread_mutex_t mu;
    bool on;
    struct x509c_slot *slots;
    size_t n, used;
    uint64_t hits, misses, bypass;
} x509c = {.mu = PTHREAD_MUTEX_INITIALIZER};

static uint64_t x509c__hash(const unsigned char *p, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The libcrypto parse, exactly what its own d2i_X509 does. */
static X509 *x509c__parse(X509 **a, const unsigned char **in, long len)
{
    return (X509 *)ASN1_item_d2i((ASN1_VALUE **)a, in, len, ASN1_ITEM_rptr(X509));
}

/* Length of the outer DER element at p (header + content), 0 when it is not one whole
 * definite-length element inside len bytes. */
static size_t x509c__der_len(const unsigned char *p, long len)
{
    const unsigned char *q = p;
    long clen = 0;
    int tag = 0, cls = 0;
    int r = ASN1_get_object(&q, &clen, &tag, &cls, len);
    if (r & 0x80 || r != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE)
        return 0;
    return (size_t)(q - p) + (size_t)clen;
}

static void x509c__clear_locked(void)
{
    for (size_t i = 0; i < x509c.n; i++) {
        free(x509c.slots[i].der);
        X509_free(x509c.slots[i].x);
    }
    free(x509c.slots);
    x509c.slots = NULL;
    x509c.n = x509c.used = 0;
}

int iotc_x509_cache_enable(size_t slots)
{
    int rc = IOTC_OK;
    pthread_mutex_lock(&x509c.mu);
    x509c__clear_locked();
    x509c.on = false;
    if (slots) {
        x509c.slots = calloc(slots, sizeof *x509c.slots);
        if (x509c.slots) {
            x509c.n = slots;
            x509c.on = true;
        } else
            rc = IOTC_ERR_NOMEM;
    }
    pthread_mutex_unlock(&x509c.mu);
    return rc;
}

void iotc_x509_cache_disable(void)
{
    iotc_x509_cache_enable(0);
}

void iotc_x509_cache_stats(struct iotc_x509_cache_stats *out)
{
    pthread_mutex_lock(&x509c.mu);
    *out = (struct iotc_x509_cache_stats){.hits = x509c.hits,
                                          .misses = x509c.misses,
                                          .bypass = x509c.bypass,
                                          .slots = x509c.n,
                                          .used = x509c.used};
    pthread_mutex_unlock(&x509c.mu);
}

/* Interposes libcrypto's d2i_X509 (see x509_cache.h); its prototype comes from x509.h. */
X509 *d2i_X509(X509 **a, const unsigned char **in, long len)
{
    if (!a || !*a || !in || !*in || len <= 0) {
        /* Not libssl's pattern; counted only when the cache is on (no lock otherwise). */
        if (x509c.on) {
            pthread_mutex_lock(&x509c.mu);
            x509c.bypass++;
            pthread_mutex_unlock(&x509c.mu);
        }
        return x509c__parse(a, in, len);
    }
    pthread_mutex_lock(&x509c.mu);
    if (!x509c.on || x509c__der_len(*in, len) != (size_t)len) {
        if (x509c.on)
            x509c.bypass++;
        pthread_mutex_unlock(&x509c.mu);
        return x509c__parse(a, in, len);
    }
    uint64_t h = x509c__hash(*in, (size_t)len);
    struct x509c_slot *s = &x509c.slots[h % x509c.n];
    if (s->x && s->hash == h && s->len == (size_t)len && memcmp(s->der, *in, (size_t)len) == 0 &&
        X509_up_ref(s->x)) {
        X509 *hit = s->x;
        x509c.hits++;
        pthread_mutex_unlock(&x509c.mu);
        X509_free(*a);
        *a = hit;
        *in += len;
        return hit;
    }
    x509c.misses++;
    pthread_mutex_unlock(&x509c.mu);

    const unsigned char *start = *in;
    X509 *x = x509c__parse(a, in, len);
    /* Only a parse that consumed exactly the element is kept (libssl then checks the
     * same), so a hit returns what this parse returned. */
    if (!x || *in != start + len)
        return x;
    unsigned char *der = malloc((size_t)len);
    if (!der || !X509_up_ref(x)) {
        free(der);
        return x;
    }
    memcpy(der, start, (size_t)len);
    pthread_mutex_lock(&x509c.mu);
    if (!x509c.on) {
        pthread_mutex_unlock(&x509c.mu);
        free(der);
        X509_free(x);
        return x;
    }
    s = &x509c.slots[h % x509c.n];
    if (s->x) {
        free(s->der);
        X509_free(s->x);
    } else
        x509c.used++;
    *s = (struct x509c_slot){.hash = h, .len = (size_t)len, .der = der, .x = x};
    pthread_mutex_unlock(&x509c.mu);
    return x;
}
