/* harness/jreader: an excerpt cut through the index is the excerpt the scan cuts, on a
 * journal with interleaved connections, reused peer ports and endpoint-wide events; a
 * poll after indexing makes the reader scan again, so new lines are never missed. */
#include "harness/jreader.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[256];

/* n lines: conns open on a small set of peer ports (so ports are reused), log a few
 * events each, close; broker.* / endpoint.* / other lines without a conn between. */
static void write_journal(FILE *f, int n, unsigned seed, int first_conn)
{
    int open_conn[8] = {0}, open_port[8] = {0}, next = first_conn;
    srand(seed);
    for (int i = 0; i < n; i++) {
        int slot = rand() % 8, r = rand() % 10;
        if (r == 0) {
            fprintf(f, "{\"event\":\"broker.log\",\"t\":%d}\n", i);
        } else if (r == 1) {
            fprintf(f, "{\"event\":\"endpoint.tick\",\"t\":%d}\n", i);
        } else if (r == 2) {
            fprintf(f, "{\"event\":\"other.thing\",\"t\":%d}\n", i);
        } else if (!open_conn[slot]) {
            open_conn[slot] = next++;
            open_port[slot] = 40000 + rand() % 12;
            fprintf(f, "{\"event\":\"conn.open\",\"conn\":%d,\"peer_port\":%d,\"t\":%d}\n",
                    open_conn[slot], open_port[slot], i);
        } else if (r == 3) {
            fprintf(f, "{\"event\":\"conn.close\",\"conn\":%d,\"t\":%d}\n", open_conn[slot], i);
            open_conn[slot] = 0;
        } else {
            fprintf(f, "{\"event\":\"mqtt.x\",\"conn\":%d,\"peer_port\":%d,\"t\":%d}\n",
                    open_conn[slot], open_port[slot], i);
        }
    }
}

static int same_excerpts(iotc_jreader *indexed, iotc_jreader *plain, unsigned seed)
{
    size_t total = iotc_jreader_count(plain);
    int ok = 1, nonempty = 0;
    srand(seed);
    for (int t = 0; t < 400 && ok; t++) {
        size_t from = (size_t)rand() % total;
        size_t until = from + 1 + (size_t)rand() % 60;
        int ports[3] = {40000 + rand() % 12, 40000 + rand() % 12, 40000 + rand() % 12};
        size_t n_ports = 1 + (size_t)(rand() % 3);
        json_t *a = iotc_jreader_excerpt(indexed, from, until, ports, n_ports);
        json_t *b = iotc_jreader_excerpt(plain, from, until, ports, n_ports);
        ok = json_equal(a, b);
        nonempty += json_array_size(b) > 0;
        if (!ok) {
            char *x = json_dumps(a, JSON_COMPACT), *y = json_dumps(b, JSON_COMPACT);
            fprintf(stderr, "from %zu until %zu ports %zu\nindexed %s\nscan    %s\n", from, until,
                    n_ports, x, y);
            free(x);
            free(y);
        }
        json_decref(a);
        json_decref(b);
    }
    return ok && nonempty > 300; /* not a comparison of empty excerpts */
}

static void test_index_equals_scan(void)
{
    iotc_jreader a, b;
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    write_journal(f, 3000, 7, 1);
    fclose(f);
    iotc_jreader_init(&a, path);
    iotc_jreader_init(&b, path);
    iotc_jreader_poll(&a);
    iotc_jreader_poll(&b);
    CU_ASSERT_EQUAL(iotc_jreader_count(&a), 3000);
    iotc_jreader_index_build(&a);
    CU_ASSERT_EQUAL(a.ix.n_lines, 3000);
    CU_ASSERT_TRUE(same_excerpts(&a, &b, 11));
    CU_ASSERT_TRUE(same_excerpts(&a, &b, 12));
    /* Lines appended after the index: both readers see them (the index is set aside). */
    f = fopen(path, "a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    write_journal(f, 500, 9, 100000);
    fclose(f);
    iotc_jreader_poll(&a);
    iotc_jreader_poll(&b);
    CU_ASSERT_EQUAL(iotc_jreader_count(&a), 3500);
    CU_ASSERT_TRUE(same_excerpts(&a, &b, 13));
    iotc_jreader_free(&a);
    iotc_jreader_free(&b);
}

/* The twin: a connection's lines after `until` are in the excerpt (they trail the
 * case), endpoint-wide ones are not, and another port's connection is not. */
static void test_excerpt_bounds(void)
{
    iotc_jreader j;
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("{\"event\":\"conn.open\",\"conn\":1,\"peer_port\":5000}\n"
          "{\"event\":\"conn.open\",\"conn\":2,\"peer_port\":6000}\n"
          "{\"event\":\"broker.a\"}\n"
          "{\"event\":\"broker.b\"}\n"
          "{\"event\":\"conn.close\",\"conn\":1}\n"
          "{\"event\":\"conn.close\",\"conn\":2}\n",
          f);
    fclose(f);
    iotc_jreader_init(&j, path);
    iotc_jreader_poll(&j);
    iotc_jreader_index_build(&j);
    int port = 5000;
    json_t *ex = iotc_jreader_excerpt(&j, 0, 3, &port, 1);
    json_t *ev = iotc_jreader_events(ex);
    CU_ASSERT_EQUAL(json_array_size(ex), 3); /* open 1, broker.a, close 1 */
    json_t *want = json_string("conn.close"), *no = json_string("broker.b");
    CU_ASSERT_TRUE(iotc_jreader_has(ev, want));
    CU_ASSERT_FALSE(iotc_jreader_has(ev, no));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(ex, 2), "conn")), 1);
    json_decref(want);
    json_decref(no);
    json_decref(ev);
    json_decref(ex);
    iotc_jreader_free(&j);
}

static int cleanup(void)
{
    unlink(path);
    return 0;
}

int iotc_register_tests(void)
{
    snprintf(path, sizeof(path), "/tmp/iotc-test-jreader-%d.jsonl", (int)getpid());
    CU_pSuite s = CU_add_suite("jreader", NULL, cleanup);
    if (!s || !CU_add_test(s, "index_equals_scan", test_index_equals_scan) ||
        !CU_add_test(s, "excerpt_bounds", test_excerpt_bounds))
        return -1;
    return 0;
}
