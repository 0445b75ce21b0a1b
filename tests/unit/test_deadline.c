/* unit.test_deadline: the endpoint's deadline heap (endpoint/deadline.c) on the fake
 * clock (common/clock.h iotc_clock_advance_ms) and once on a real libevent loop: firing
 * order, clear, moving an entry either way, callbacks that clear, set and free entries,
 * and thousands of entries against a brute-force model. */
#include "endpoint/deadline.h"
#include "common/clock.h"
#include "common/err.h"

#include <CUnit/CUnit.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define MAXLOG 20000

struct owner {
    int id;
    struct iotc_deadline d;
    double due;                   /* when it was set to fire, for the checks */
    void (*then)(struct owner *); /* what the callback does besides logging */
};

static struct iotc_deadlines H;
static struct event_base *B;
static int fired_ids[MAXLOG];
static double fired_at[MAXLOG], fired_due[MAXLOG];
static size_t nfired;

static void on_fire(struct iotc_deadline *d)
{
    struct owner *o = IOTC_DEADLINE_OWNER(d, struct owner, d);
    CU_ASSERT(!iotc_deadline_is_set(d)); /* popped before its callback */
    if (nfired < MAXLOG) {
        fired_ids[nfired] = o->id;
        fired_at[nfired] = iotc_mono_ms();
        fired_due[nfired] = o->due;
        nfired++;
    }
    if (o->then)
        o->then(o);
}

static void owner_init(struct owner *o, int id)
{
    memset(o, 0, sizeof *o);
    o->id = id;
    o->d.fire = on_fire;
}

static void set_ms(struct owner *o, double ms)
{
    double before = iotc_mono_ms();
    CU_ASSERT_EQUAL(iotc_deadline_set(&H, &o->d, ms), IOTC_OK);
    o->due = o->d.at_ms;
    CU_ASSERT(o->due >= before + (ms > 0 ? ms : 0));
}

/* Fake-time tests count in units of U ms: wide enough that real time passing on a loaded
 * machine (the fake clock moves with the real one) never makes a deadline due early. */
#define U 100.0

static void set(struct owner *o, double units)
{
    set_ms(o, units * U);
}

/* Fake time passes, then the heap runs as its timer would. */
static size_t pass(double units)
{
    CU_ASSERT_FATAL(iotc_clock_advance_ms(units * U));
    return iotc_deadlines_run(&H);
}

/* The heap's shape: every parent no later than its children, every slot its index + 1. */
static bool heap_ok(void)
{
    for (uint32_t i = 0; i < H.n; i++) {
        if (H.heap[i]->slot != i + 1)
            return false;
        if (i > 0 && H.heap[(i - 1) / 2]->at_ms > H.heap[i]->at_ms)
            return false;
    }
    return true;
}

static int setup(void)
{
    B = event_base_new();
    if (!B)
        return -1;
    iotc_deadlines_init(&H, B);
    nfired = 0;
    return 0;
}

static int teardown(void)
{
    iotc_deadlines_free(&H);
    event_base_free(B);
    return 0;
}

static void reset(void)
{
    teardown();
    setup();
}

static void test_order(void)
{
    reset();
    struct owner o[6];
    const double ms[6] = {500, 100, 300, 600, 200, 400};
    for (int i = 0; i < 6; i++) {
        owner_init(&o[i], i);
        set(&o[i], ms[i]);
    }
    CU_ASSERT(heap_ok());
    CU_ASSERT_EQUAL(iotc_deadlines_run(&H), 0); /* nothing due yet */
    CU_ASSERT_EQUAL(pass(250), 2);              /* 100, 200 */
    CU_ASSERT_EQUAL(pass(1000), 4);
    const int want[6] = {1, 4, 2, 5, 0, 3};
    CU_ASSERT_EQUAL_FATAL(nfired, 6);
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(fired_ids[i], want[i]);
    CU_ASSERT_EQUAL(H.n, 0);
    for (int i = 0; i < 6; i++)
        CU_ASSERT(!iotc_deadline_is_set(&o[i].d));
}

static void test_clear(void)
{
    reset();
    struct owner o[5];
    for (int i = 0; i < 5; i++) {
        owner_init(&o[i], i);
        set(&o[i], 100.0 * (i + 1));
    }
    iotc_deadline_clear(&H, &o[0].d); /* the earliest */
    iotc_deadline_clear(&H, &o[2].d); /* one in the middle */
    iotc_deadline_clear(&H, &o[4].d); /* the last slot */
    iotc_deadline_clear(&H, &o[4].d); /* again: no-op */
    CU_ASSERT(heap_ok());
    CU_ASSERT_EQUAL(H.n, 2);
    CU_ASSERT_EQUAL(pass(1000), 2);
    CU_ASSERT_EQUAL_FATAL(nfired, 2);
    CU_ASSERT_EQUAL(fired_ids[0], 1);
    CU_ASSERT_EQUAL(fired_ids[1], 3);
    /* cleared ones can be set again */
    set(&o[0], 10);
    CU_ASSERT_EQUAL(pass(20), 1);
    CU_ASSERT_EQUAL(fired_ids[2], 0);
}

static void test_reset_moves(void)
{
    reset();
    struct owner a, b, c;
    owner_init(&a, 'a');
    owner_init(&b, 'b');
    owner_init(&c, 'c');
    set(&a, 100);
    set(&b, 200);
    set(&c, 300);
    set(&a, 400); /* later: a keep-alive window moved on */
    set(&c, 50);  /* earlier */
    CU_ASSERT(heap_ok());
    CU_ASSERT_EQUAL(pass(150), 1); /* c only: a no longer fires at 100 */
    CU_ASSERT_EQUAL(pass(100), 1); /* b */
    CU_ASSERT_EQUAL(pass(100), 0); /* 350: a still waits */
    CU_ASSERT_EQUAL(pass(100), 1); /* a */
    CU_ASSERT_EQUAL_FATAL(nfired, 3);
    CU_ASSERT_EQUAL(fired_ids[0], 'c');
    CU_ASSERT_EQUAL(fired_ids[1], 'b');
    CU_ASSERT_EQUAL(fired_ids[2], 'a');
    /* negative counts as now */
    set(&a, -5);
    CU_ASSERT_EQUAL(pass(0.001), 1);
}

/* ---- callbacks that change the heap ---- */

static struct owner *cb_other, *cb_new;
static int self_resets;

static void then_clear_other(struct owner *o)
{
    (void)o;
    iotc_deadline_clear(&H, &cb_other->d);
}

static void then_set_new_now(struct owner *o)
{
    (void)o;
    set(cb_new, 0); /* due at once, but on the next run, not this one */
}

static void then_reset_self(struct owner *o)
{
    if (++self_resets < 3)
        set(o, 0);
}

static void then_free_self(struct owner *o)
{
    free(o); /* ASan: the heap must not touch it after the callback */
}

static void test_callbacks_change_heap(void)
{
    reset();
    struct owner a, b, c, d, e;
    owner_init(&a, 'a');
    owner_init(&b, 'b');
    owner_init(&c, 'c');
    owner_init(&d, 'd');
    owner_init(&e, 'e');
    struct owner *f = malloc(sizeof *f);
    CU_ASSERT_FATAL(f != NULL);
    owner_init(f, 'f');
    f->then = then_free_self;
    a.then = then_clear_other; /* clears b, which is due in the same run */
    cb_other = &b;
    c.then = then_set_new_now; /* sets e */
    cb_new = &e;
    d.then = then_reset_self; /* fires three times, once per run */
    self_resets = 0;
    set(&a, 10);
    set(&b, 20);
    set(f, 25);
    set(&c, 30);
    set(&d, 40);
    CU_ASSERT_EQUAL(pass(100), 4); /* a, f, c, d; b cleared; e and d wait */
    CU_ASSERT(heap_ok());
    CU_ASSERT_EQUAL(H.n, 2);
    CU_ASSERT_EQUAL(pass(1), 2); /* e, d again */
    CU_ASSERT_EQUAL(pass(1), 1); /* d, which stops re-setting itself */
    CU_ASSERT_EQUAL(pass(1), 0);
    const int want[] = {'a', 'f', 'c', 'd', 'e', 'd', 'd'};
    CU_ASSERT_EQUAL_FATAL(nfired, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < nfired; i++) {
        if (i == 4 || i == 5) /* e and d: set within microseconds, either order is fine */
            continue;
        CU_ASSERT_EQUAL(fired_ids[i], want[i]);
    }
    CU_ASSERT(fired_ids[4] + fired_ids[5] == 'e' + 'd');
    CU_ASSERT(!iotc_deadline_is_set(&b.d));
}

/* ---- many entries ---- */

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return rnd_state >> 8;
}

#define MANY 5000

static void test_many(void)
{
    reset();
    struct owner *o = calloc(MANY, sizeof *o);
    CU_ASSERT_FATAL(o != NULL);
    for (int i = 0; i < MANY; i++) {
        owner_init(&o[i], i);
        set(&o[i], (double)(rnd() % 100000));
    }
    CU_ASSERT(heap_ok());
    /* churn: a third moved, a tenth cleared (what keep-alives and closes do) */
    size_t want = MANY;
    for (int k = 0; k < MANY; k++) {
        struct owner *x = &o[rnd() % MANY];
        if (k % 10 == 0) {
            if (iotc_deadline_is_set(&x->d))
                want--;
            iotc_deadline_clear(&H, &x->d);
        } else if (k % 3 == 0 && iotc_deadline_is_set(&x->d)) {
            set(x, (double)(rnd() % 100000));
        }
    }
    CU_ASSERT(heap_ok());
    CU_ASSERT_EQUAL(H.n, want);
    size_t total = 0;
    for (int step = 0; step < 120 && H.n > 0; step++) {
        size_t before = nfired;
        CU_ASSERT_FATAL(iotc_clock_advance_ms(1000 * U));
        double t = iotc_mono_ms(); /* the run reads the clock after this */
        total += iotc_deadlines_run(&H);
        CU_ASSERT(heap_ok());
        /* each fired no earlier than it was due, and in order of due time */
        for (size_t i = before; i < nfired; i++) {
            CU_ASSERT(fired_due[i] <= fired_at[i]);
            if (i > before)
                CU_ASSERT(fired_due[i - 1] <= fired_due[i]);
        }
        /* whatever is left was not due when it ran */
        if (H.n > 0)
            CU_ASSERT(H.heap[0]->at_ms > t);
    }
    CU_ASSERT_EQUAL(total, want);
    CU_ASSERT_EQUAL(H.n, 0);
    bool *seen = calloc(MANY, sizeof *seen);
    CU_ASSERT_FATAL(seen != NULL);
    for (size_t i = 0; i < nfired; i++) {
        CU_ASSERT(!seen[fired_ids[i]]); /* once each */
        seen[fired_ids[i]] = true;
    }
    free(seen);
    free(o);
}

/* ---- a real loop: the one libevent timer drives them ---- */

static void then_break_at_last(struct owner *o)
{
    if (o->id == 3)
        event_base_loopbreak(B);
}

static void test_real_loop(void)
{
    reset();
    struct owner o[3];
    const double ms[3] = {30, 10, 20};
    for (int i = 0; i < 3; i++) {
        owner_init(&o[i], i + 1);
        set_ms(&o[i], ms[i]);
        o[i].then = then_break_at_last;
    }
    set_ms(&o[1], 35); /* the earliest moved last: the timer wakes early once */
    o[1].id = 3;
    o[0].id = 2;
    o[2].id = 1;
    double t0 = iotc_mono_ms();
    struct timeval guard = {2, 0};
    event_base_loopexit(B, &guard);
    event_base_dispatch(B);
    CU_ASSERT_EQUAL_FATAL(nfired, 3);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(fired_ids[i], i + 1);
        CU_ASSERT(fired_at[i] >= fired_due[i]);
    }
    CU_ASSERT(iotc_mono_ms() - t0 < 1000);
    /* freeing the heap unsets what is still set */
    set_ms(&o[0], 1000);
    iotc_deadlines_free(&H);
    CU_ASSERT(!iotc_deadline_is_set(&o[0].d));
    iotc_deadline_clear(&H, &o[0].d); /* harmless */
    iotc_deadlines_init(&H, B);
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("deadline", setup, teardown);
    if (!s)
        return -1;
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"fires earliest first, only when due", test_order},
        {"clear: first, middle, last, twice", test_clear},
        {"set again moves an entry later or earlier", test_reset_moves},
        {"callbacks clear, set, re-set themselves and free their owner",
         test_callbacks_change_heap},
        {"5000 entries with churn: each once, in order, never early", test_many},
        {"a real loop: one timer, re-armed for the earliest", test_real_loop},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return -1;
    return 0;
}
