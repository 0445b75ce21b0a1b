/* Fleet internals: reconnect strategies (series, jitter bounds, caps, attempt
 * limits), the delivery ledger, the payload header and the latency histogram. */
#include "fleet/fleet_int.h"

#include <CUnit/CUnit.h>
#include <string.h>

static struct fleet_backoff bo(int kind, long long base, long long cap)
{
    return (struct fleet_backoff){.kind = kind,
                                  .base_ms = base,
                                  .cap_ms = cap,
                                  .step_ms = 250,
                                  .factor = 2,
                                  .max_attempts = 0};
}

static void test_constant(void)
{
    struct fleet_backoff b = bo(FLEET_BACKOFF_CONSTANT, 300, 1000);
    uint64_t rng = 1;
    for (unsigned n = 1; n <= 50; n++)
        CU_ASSERT_EQUAL(fleet_backoff_delay(&b, n, &rng), 300);
    b.base_ms = 5000; /* a constant above the cap is capped */
    CU_ASSERT_EQUAL(fleet_backoff_delay(&b, 1, &rng), 1000);
}

static void test_linear(void)
{
    struct fleet_backoff b = bo(FLEET_BACKOFF_LINEAR, 100, 1000);
    uint64_t rng = 1;
    const long long want[] = {100, 350, 600, 850, 1000, 1000, 1000};
    for (unsigned n = 1; n <= 7; n++)
        CU_ASSERT_EQUAL(fleet_backoff_delay(&b, n, &rng), want[n - 1]);
    CU_ASSERT_EQUAL(fleet_backoff_delay(&b, 4000000000u, &rng), 1000); /* no overflow */
}

static void test_exponential(void)
{
    struct fleet_backoff b = bo(FLEET_BACKOFF_EXP, 100, 5000);
    uint64_t rng = 1;
    const long long want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
    for (unsigned n = 1; n <= 8; n++)
        CU_ASSERT_EQUAL(fleet_backoff_delay(&b, n, &rng), want[n - 1]);
    CU_ASSERT_EQUAL(fleet_backoff_delay(&b, 100000, &rng), 5000); /* saturates, no overflow */
    b.factor = 3;
    CU_ASSERT_EQUAL(fleet_backoff_delay(&b, 3, &rng), 900);
}

static void test_full_jitter(void)
{
    struct fleet_backoff b = bo(FLEET_BACKOFF_EXP_JITTER, 100, 5000);
    uint64_t rng = 42;
    for (unsigned n = 1; n <= 10; n++) {
        long long ceiling = n >= 7 ? 5000 : 100LL << (n - 1);
        long long lo = ceiling, hi = 0;
        double sum = 0;
        for (int i = 0; i < 4000; i++) {
            long long v = fleet_backoff_delay(&b, n, &rng);
            CU_ASSERT(v >= 0 && v <= ceiling);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            sum += (double)v;
        }
        /* Full jitter spreads over the whole range: near 0, near the ceiling, mean ~ half. */
        CU_ASSERT(lo <= ceiling / 20);
        CU_ASSERT(hi >= ceiling - ceiling / 20);
        double mean = sum / 4000;
        CU_ASSERT(mean > ceiling * 0.4 && mean < ceiling * 0.6);
    }
}

static void test_jitter_differs_per_device(void)
{
    struct fleet_backoff b = bo(FLEET_BACKOFF_EXP_JITTER, 1000, 60000);
    uint64_t rng = 7;
    long long first = fleet_backoff_delay(&b, 5, &rng);
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += fleet_backoff_delay(&b, 5, &rng) == first;
    CU_ASSERT(same < 5); /* a fleet that lost its endpoint does not come back in one wave */
}

static void test_none_and_max_attempts(void)
{
    struct fleet_backoff b = bo(FLEET_BACKOFF_NONE, 100, 1000);
    uint64_t rng = 1;
    CU_ASSERT_EQUAL(fleet_backoff_delay(&b, 1, &rng), -1);
    b = bo(FLEET_BACKOFF_EXP, 100, 1000);
    b.max_attempts = 3;
    CU_ASSERT_EQUAL(fleet_backoff_delay(&b, 3, &rng), 400);
    CU_ASSERT_EQUAL(fleet_backoff_delay(&b, 4, &rng), -1);
}

static void test_names(void)
{
    const char *names[] = {"exponential_jitter", "exponential", "linear", "constant", "none"};
    for (int k = 0; k < 5; k++) {
        CU_ASSERT_EQUAL(fleet_backoff_parse(names[k]), k);
        CU_ASSERT_STRING_EQUAL(fleet_backoff_name(k), names[k]);
    }
    CU_ASSERT_EQUAL(fleet_backoff_parse("fibonacci"), -1);
    CU_ASSERT_EQUAL(fleet_backoff_parse(NULL), -1);
}

static void test_defaults(void)
{
    struct fleet_behave b;
    fleet_behave_defaults(&b);
    CU_ASSERT_EQUAL(b.backoff.kind, FLEET_BACKOFF_EXP_JITTER); /* the default strategy */
    CU_ASSERT_EQUAL(b.qos, 1);
    CU_ASSERT(b.backoff.cap_ms >= b.backoff.base_ms);
}

static void test_ledger(void)
{
    struct fleet_ledger l = {0};
    CU_ASSERT_EQUAL(fleet_ledger_mark(&l, 0), 1);
    CU_ASSERT_EQUAL(fleet_ledger_mark(&l, 1000), 1); /* grows */
    CU_ASSERT_EQUAL(fleet_ledger_mark(&l, 0), 0);    /* duplicate */
    CU_ASSERT_EQUAL(l.delivered, 2);
    CU_ASSERT_EQUAL(l.dup, 1);
    CU_ASSERT(fleet_ledger_seen(&l, 1000));
    CU_ASSERT(!fleet_ledger_seen(&l, 999));
    CU_ASSERT(!fleet_ledger_seen(&l, 1u << 20));
    CU_ASSERT(fleet_ledger_mark(&l, 1u << 30) < 0); /* absurd seq refused, not allocated */
    fleet_ledger_free(&l);
}

static void test_payload(void)
{
    char buf[64];
    uint32_t dev, seq;
    uint64_t t;
    CU_ASSERT_EQUAL(fleet_payload_fill(buf, sizeof buf, 4294967295u, 12, 1234567890123ull), 64);
    CU_ASSERT_EQUAL(fleet_payload_parse((uint8_t *)buf, sizeof buf, &dev, &seq, &t), 0);
    CU_ASSERT_EQUAL(dev, 4294967295u);
    CU_ASSERT_EQUAL(seq, 12);
    CU_ASSERT_EQUAL(t, 1234567890123ull);
    CU_ASSERT_EQUAL(fleet_payload_fill(buf, 8, 1, 2, 3333333333ull), 0); /* too small */
    CU_ASSERT(fleet_payload_parse((const uint8_t *)"1 2", 3, &dev, &seq, &t) < 0);
    CU_ASSERT(fleet_payload_parse((const uint8_t *)"x 2 3 ", 6, &dev, &seq, &t) < 0);
    CU_ASSERT(fleet_payload_parse((const uint8_t *)"99999999999 2 3 ", 16, &dev, &seq, &t) < 0);
}

static void test_hist(void)
{
    static struct fleet_hist h;
    memset(&h, 0, sizeof h);
    CU_ASSERT_EQUAL(fleet_hist_pct_ms(&h, 50), 0);
    for (int i = 1; i <= 1000; i++)
        fleet_hist_add(&h, (uint64_t)i * 1000); /* 1..1000 ms */
    double p50 = fleet_hist_pct_ms(&h, 50), p99 = fleet_hist_pct_ms(&h, 99);
    CU_ASSERT(p50 > 490 && p50 < 512);
    CU_ASSERT(p99 > 980 && p99 <= 1000);
    CU_ASSERT(fleet_hist_pct_ms(&h, 100) <= 1000.0);
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("fleet", NULL, NULL);
    if (!s)
        return -1;
    CU_add_test(s, "backoff constant", test_constant);
    CU_add_test(s, "backoff linear", test_linear);
    CU_add_test(s, "backoff exponential", test_exponential);
    CU_add_test(s, "backoff full jitter bounds", test_full_jitter);
    CU_add_test(s, "backoff jitter spreads", test_jitter_differs_per_device);
    CU_add_test(s, "backoff none / max attempts", test_none_and_max_attempts);
    CU_add_test(s, "backoff names", test_names);
    CU_add_test(s, "behaviour defaults", test_defaults);
    CU_add_test(s, "ledger", test_ledger);
    CU_add_test(s, "payload header", test_payload);
    CU_add_test(s, "latency histogram", test_hist);
    return 0;
}
