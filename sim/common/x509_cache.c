/*
 * d2i_X509 with a cache of parsed certificates (why: x509_cache.h). Direct-mapped by a
 * 64-bit FNV-1a hash of the DER; a hit also compares the whole DER, so two certificates
 * never share an object. A collision replaces the older entry (its holders keep their
 * references). One mutex: the front door and the bench are single-threaded, but the
 * commands that link this file run worker threads.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include "common/x509_cache.h"
#include "common/err.h"

#include <dlfcn.h>
#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
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

/* libcrypto's own d2i_X509, found past this definition: whatever it does in the
 * installed OpenSSL (3.0.x here: ASN1_item_d2i with the X509 template) every parse
 * still does. */
typedef X509 *(*x509c_d2i_fn)(X509 **, const unsigned char **, long);

static X509 *x509c__parse(X509 **a, const unsigned char **in, long len)
{
    static x509c_d2i_fn real_fn;
    x509c_d2i_fn real = __atomic_load_n(&real_fn, __ATOMIC_ACQUIRE);
    if (!real) {
        x509c_d2i_fn f = (x509c_d2i_fn)dlsym(RTLD_NEXT, "d2i_X509");
        if (!f || f == d2i_X509) /* no library after us: the template is what it does */
            return (X509 *)ASN1_item_d2i((ASN1_VALUE **)a, in, len, ASN1_ITEM_rptr(X509));
        __atomic_store_n(&real_fn, f, __ATOMIC_RELEASE);
        real = f;
    }
    return real(a, in, len);
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

/* ---- verified chains (x509_cache.h) ---- */

struct x509m {
    uint64_t ctx_id; /* 0 while incomplete */
    char host[256];
    int n_sent, n_chain;
    X509 *sent[IOTC_X509_MEMO_MAX];  /* the peer's other certificates, in order */
    X509 *chain[IOTC_X509_MEMO_MAX]; /* the chain above the leaf, to the anchor */
};

static void x509m__release(struct x509m *m)
{
    for (int i = 0; i < m->n_sent; i++)
        X509_free(m->sent[i]);
    for (int i = 0; i < m->n_chain; i++)
        X509_free(m->chain[i]);
    m->n_sent = m->n_chain = 0;
    m->ctx_id = 0;
}

static void x509m__free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (ptr)
        x509m__release(ptr);
    free(ptr);
}

static int x509m__idx(void)
{
    static int idx = -1;
    pthread_mutex_lock(&x509c.mu);
    if (idx < 0)
        idx = X509_get_ex_new_index(0, "iotc_x509_memo", NULL, NULL, x509m__free);
    pthread_mutex_unlock(&x509c.mu);
    return idx;
}

static bool x509m__in_dates(X509 *x)
{
    return X509_cmp_current_time(X509_get0_notBefore(x)) < 0 &&
           X509_cmp_current_time(X509_get0_notAfter(x)) > 0;
}

/* The leaf first, then at most IOTC_X509_MEMO_MAX others. */
static bool x509m__shape(X509 *leaf, STACK_OF(X509) * untrusted)
{
    int n = sk_X509_num(untrusted);
    return n >= 1 && n <= 1 + IOTC_X509_MEMO_MAX && sk_X509_value(untrusted, 0) == leaf;
}

uint64_t iotc_x509_memo_context(void)
{
    static uint64_t next;
    return __atomic_add_fetch(&next, 1, __ATOMIC_RELAXED);
}

bool iotc_x509_memo_hit(X509 *leaf, STACK_OF(X509) * untrusted, uint64_t ctx_id, const char *host)
{
    int idx = x509m__idx();
    if (idx < 0 || !leaf || !ctx_id || !x509m__shape(leaf, untrusted))
        return false;
    const struct x509m *m = X509_get_ex_data(leaf, idx);
    if (!m || m->ctx_id != ctx_id || strcmp(m->host, host ? host : "") != 0 ||
        m->n_sent != sk_X509_num(untrusted) - 1)
        return false;
    for (int i = 0; i < m->n_sent; i++)
        if (m->sent[i] != sk_X509_value(untrusted, i + 1))
            return false;
    if (!x509m__in_dates(leaf))
        return false;
    for (int i = 0; i < m->n_chain; i++)
        if (!x509m__in_dates(m->chain[i]))
            return false;
    return true;
}

void iotc_x509_memo_keep(X509 *leaf, STACK_OF(X509) * untrusted, STACK_OF(X509) * chain,
                         uint64_t ctx_id, const char *host)
{
    int idx = x509m__idx();
    int nc = sk_X509_num(chain);
    if (idx < 0 || !leaf || !ctx_id || !x509m__shape(leaf, untrusted) || nc < 1 ||
        nc > 1 + IOTC_X509_MEMO_MAX || sk_X509_value(chain, 0) != leaf ||
        strlen(host ? host : "") >= sizeof((struct x509m *)0)->host)
        return;
    struct x509m *m = X509_get_ex_data(leaf, idx);
    if (!m) {
        m = calloc(1, sizeof *m);
        if (!m || !X509_set_ex_data(leaf, idx, m)) {
            free(m);
            return;
        }
    }
    x509m__release(m);
    for (int i = 1; i < sk_X509_num(untrusted); i++) {
        X509 *x = sk_X509_value(untrusted, i);
        if (!X509_up_ref(x))
            goto partial;
        m->sent[m->n_sent++] = x;
    }
    for (int i = 1; i < nc; i++) {
        X509 *x = sk_X509_value(chain, i);
        if (!X509_up_ref(x))
            goto partial;
        m->chain[m->n_chain++] = x;
    }
    snprintf(m->host, sizeof m->host, "%s", host ? host : "");
    m->ctx_id = ctx_id;
    return;
partial:
    x509m__release(m);
}
