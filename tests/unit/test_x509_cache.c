/* common/x509_cache: identical DER shares one parsed object, anything else does not;
 * a remembered chain applies only to the same inputs and only within its dates. */
#include "common/x509_cache.h"

#include <CUnit/CUnit.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PKI IOTC_BINARY_DIR "/pki/"

static X509 *load(const char *name)
{
    FILE *f = fopen(name, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return x;
}

/* The DER of a PKI certificate (malloc'ed). */
static unsigned char *der_of(const char *name, int *len)
{
    X509 *x = load(name);
    unsigned char *der = NULL;
    *len = x ? i2d_X509(x, &der) : -1;
    X509_free(x);
    return der;
}

/* libssl's pattern: a pre-allocated object, then d2i_X509 into it. */
static X509 *parse_like_libssl(const unsigned char *der, long len)
{
    X509 *x = X509_new();
    const unsigned char *p = der;
    if (!d2i_X509(&x, &p, len)) {
        X509_free(x);
        return NULL;
    }
    CU_ASSERT_PTR_EQUAL(p, der + len);
    return x;
}

static void test_identical_der_shares(void)
{
    int len;
    unsigned char *der = der_of(PKI "device-02.crt", &len);
    CU_ASSERT_FATAL(der != NULL);
    struct iotc_x509_cache_stats st;

    /* Off: two parses, two objects. */
    iotc_x509_cache_disable();
    X509 *a = parse_like_libssl(der, len), *b = parse_like_libssl(der, len);
    CU_ASSERT_PTR_NOT_NULL(a);
    CU_ASSERT(a != b);
    X509_free(a);
    X509_free(b);

    /* On: the second parse is the first object, with a reference of its own. */
    CU_ASSERT_EQUAL(iotc_x509_cache_enable(16), 0);
    a = parse_like_libssl(der, len);
    b = parse_like_libssl(der, len);
    CU_ASSERT_PTR_NOT_NULL(a);
    CU_ASSERT_PTR_EQUAL(a, b);
    iotc_x509_cache_stats(&st);
    CU_ASSERT_EQUAL(st.hits, 1);
    CU_ASSERT_EQUAL(st.misses, 1);
    X509_free(a);
    CU_ASSERT(X509_cmp(b, b) == 0); /* still alive: b holds its own reference */
    X509_free(b);
    iotc_x509_cache_disable();
    free(der);
}

static void test_other_der_does_not_share(void)
{
    int l1, l2;
    unsigned char *d1 = der_of(PKI "device-01.crt", &l1), *d2 = der_of(PKI "device-02.crt", &l2);
    CU_ASSERT_FATAL(d1 && d2);
    CU_ASSERT_EQUAL(iotc_x509_cache_enable(1), 0); /* one slot: every entry collides */
    X509 *a = parse_like_libssl(d1, l1), *b = parse_like_libssl(d2, l2);
    CU_ASSERT(a && b && a != b);
    CU_ASSERT(X509_cmp(a, b) != 0);

    /* One byte of the signature changed: same length, same slot, not the same object
     * (the hit compares the whole DER, not only its hash). */
    unsigned char *t = malloc((size_t)l2);
    memcpy(t, d2, (size_t)l2);
    t[l2 - 1] ^= 0x01;
    X509 *c = parse_like_libssl(t, l2);
    CU_ASSERT(c != NULL && c != b);

    /* Trailing bytes after the certificate (d2i_X509_AUX's trust settings): a private
     * object, never the cached one. */
    unsigned char *u = malloc((size_t)l2 + 4);
    memcpy(u, d2, (size_t)l2);
    memset(u + l2, 0, 4);
    X509 *d = X509_new();
    const unsigned char *p = u;
    CU_ASSERT_PTR_NOT_NULL(d2i_X509(&d, &p, l2 + 4));
    X509 *e = parse_like_libssl(d2, l2);
    CU_ASSERT(d != e);

    /* No pre-allocated object (PEM and file readers): never cached. */
    p = d2;
    X509 *f = d2i_X509(NULL, &p, l2), *g = parse_like_libssl(d2, l2);
    CU_ASSERT(f && f != g);
    struct iotc_x509_cache_stats st;
    iotc_x509_cache_stats(&st);
    CU_ASSERT(st.bypass >= 2);

    X509 *all[] = {a, b, c, d, e, f, g};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        X509_free(all[i]);
    iotc_x509_cache_disable();
    free(d1);
    free(d2);
    free(t);
    free(u);
}

/* Verifies leaf (sent alone or with extra) against ca; keeps the memo on success. */
static int verify_keep(X509_STORE *store, X509 *leaf, X509 *extra, uint64_t id, const char *host)
{
    STACK_OF(X509) *sent = sk_X509_new_null();
    sk_X509_push(sent, leaf);
    if (extra)
        sk_X509_push(sent, extra);
    X509_STORE_CTX *v = X509_STORE_CTX_new();
    X509_STORE_CTX_init(v, store, leaf, sent);
    int ok = X509_verify_cert(v);
    if (ok == 1)
        iotc_x509_memo_keep(leaf, sent, X509_STORE_CTX_get0_chain(v), id, host);
    X509_STORE_CTX_free(v);
    sk_X509_free(sent);
    return ok;
}

static bool hit(X509 *leaf, X509 *extra, uint64_t id, const char *host)
{
    STACK_OF(X509) *sent = sk_X509_new_null();
    sk_X509_push(sent, leaf);
    if (extra)
        sk_X509_push(sent, extra);
    bool h = iotc_x509_memo_hit(leaf, sent, id, host);
    sk_X509_free(sent);
    return h;
}

static void test_memo_same_inputs_only(void)
{
    X509 *leaf = load(PKI "device-02.crt"), *ca = load(PKI "ca-ec.crt");
    X509 *other = load(PKI "ca-rsa.crt");
    CU_ASSERT_FATAL(leaf && ca && other);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, ca);
    uint64_t id = iotc_x509_memo_context(), id2 = iotc_x509_memo_context();
    CU_ASSERT(id != id2);

    CU_ASSERT_FALSE(hit(leaf, ca, id, NULL)); /* nothing verified yet */
    CU_ASSERT_EQUAL(verify_keep(store, leaf, ca, id, NULL), 1);
    CU_ASSERT_TRUE(hit(leaf, ca, id, NULL));
    CU_ASSERT_FALSE(hit(leaf, ca, id2, NULL));       /* another store / context */
    CU_ASSERT_FALSE(hit(leaf, ca, id, "localhost")); /* another host name */
    CU_ASSERT_FALSE(hit(leaf, NULL, id, NULL));      /* sent without its CA */
    CU_ASSERT_FALSE(hit(leaf, other, id, NULL));     /* sent with something else */

    /* A refused chain leaves no memo: device-rogue is not under ca-ec. */
    X509 *rogue = load(PKI "device-rogue.crt");
    uint64_t id3 = iotc_x509_memo_context();
    CU_ASSERT_NOT_EQUAL(verify_keep(store, rogue, NULL, id3, NULL), 1);
    CU_ASSERT_FALSE(hit(rogue, NULL, id3, NULL));

    X509_free(rogue);
    X509_STORE_free(store);
    X509_free(leaf); /* frees the memo and its references */
    X509_free(ca);
    X509_free(other);
}

static void test_memo_rechecks_dates(void)
{
    /* A chain whose certificate has expired since it was remembered must not hit: keep
     * the memo by hand (the verification itself would refuse it today). */
    X509 *leaf = load(PKI "server-expired.crt"), *ca = load(PKI "ca-ec.crt");
    CU_ASSERT_FATAL(leaf && ca);
    STACK_OF(X509) *sent = sk_X509_new_null(), *chain = sk_X509_new_null();
    sk_X509_push(sent, leaf);
    sk_X509_push(chain, leaf);
    sk_X509_push(chain, ca);
    uint64_t id = iotc_x509_memo_context();
    iotc_x509_memo_keep(leaf, sent, chain, id, NULL);
    CU_ASSERT_FALSE(iotc_x509_memo_hit(leaf, sent, id, NULL));

    /* Its twin with a valid leaf hits. */
    X509 *good = load(PKI "server-ec.crt");
    sk_X509_set(sent, 0, good);
    sk_X509_set(chain, 0, good);
    iotc_x509_memo_keep(good, sent, chain, id, NULL);
    CU_ASSERT_TRUE(iotc_x509_memo_hit(good, sent, id, NULL));
    sk_X509_free(sent);
    sk_X509_free(chain);
    X509_free(good);
    X509_free(leaf);
    X509_free(ca);
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("x509_cache", NULL, NULL);
    if (!s)
        return -1;
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"identical DER shares one object (off: two)", test_identical_der_shares},
        {"other, tampered, trailing or unallocated DER does not share",
         test_other_der_does_not_share},
        {"memo: same store, host and sent certificates only", test_memo_same_inputs_only},
        {"memo: dates re-checked on every hit", test_memo_rechecks_dates},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return -1;
    return 0;
}
