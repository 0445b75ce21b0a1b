/* unit.test_journal_shared: the journal of serve --workers (common/journal.h): several
 * handles on one file, one clock origin, one cap for the whole file. */
#include "common/clock.h"
#include "common/journal.h"

#include <CUnit/CUnit.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[256];

static void js__path(void)
{
    snprintf(path, sizeof path, "/tmp/iotc-journal-shared-%d.jsonl", (int)getpid());
    unlink(path);
}

static long js__size(void)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Two workers' handles: every line carries its worker, t counts from the shared t0. */
static void test_shared_lines(void)
{
    js__path();
    struct iotc_journal *a = NULL, *b = NULL;
    CU_ASSERT_FATAL(iotc_journal_open(path, &a) == 0 && iotc_journal_open(path, &b) == 0);
    double t0 = iotc_mono_ms() - 5000.0; /* the parent started 5 s ago */
    iotc_journal_share(a, t0, 0);
    iotc_journal_share(b, t0, 1);
    for (int i = 0; i < 10; i++) {
        iotc_journal_emit(a, "x.a", json_pack("{s:i}", "i", i));
        iotc_journal_emit(b, "x.b", json_pack("{s:i}", "i", i));
    }
    FILE *f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    char line[1024];
    int n = 0, bad = 0;
    double last = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        double t = json_real_value(json_object_get(o, "t"));
        const char *ev = json_string_value(json_object_get(o, "event"));
        json_int_t w = json_integer_value(json_object_get(o, "worker"));
        if (!o || t < 5000.0 || t < last || !ev || w != (strcmp(ev, "x.b") == 0))
            bad++;
        last = t;
        json_decref(o);
        n++;
    }
    fclose(f);
    CU_ASSERT_EQUAL(n, 20);
    CU_ASSERT_EQUAL(bad, 0);
    iotc_journal_close(a);
    iotc_journal_close(b);
    unlink(path);
}

/* Twin of the cap test: without share each handle counts only its own lines, so two
 * together write past the cap (why shared handles count the file). */
static void js__cap(bool share, long *size, int *markers)
{
    js__path();
    struct iotc_journal *a = NULL, *b = NULL;
    CU_ASSERT_FATAL(iotc_journal_open(path, &a) == 0 && iotc_journal_open(path, &b) == 0);
    if (share) {
        iotc_journal_share(a, iotc_mono_ms(), 0);
        iotc_journal_share(b, iotc_mono_ms(), 1);
    }
    iotc_journal_set_max_bytes(a, 4096);
    iotc_journal_set_max_bytes(b, 4096);
    for (int i = 0; i < 100; i++) {
        iotc_journal_emit(a, "x.a", json_pack("{s:i}", "i", i));
        iotc_journal_emit(b, "x.b", json_pack("{s:i}", "i", i));
    }
    *size = js__size();
    *markers = 0;
    FILE *f = fopen(path, "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f))
        *markers += strstr(line, "journal.truncated") != NULL;
    if (f)
        fclose(f);
    iotc_journal_close(a);
    iotc_journal_close(b);
    unlink(path);
}

static void test_shared_cap(void)
{
    long size;
    int markers;
    js__cap(true, &size, &markers);
    CU_ASSERT(size > 0 && size <= 4096);
    CU_ASSERT_EQUAL(markers, 2); /* one per worker that reached it */
    js__cap(false, &size, &markers);
    CU_ASSERT(size > 4096); /* the twin: per-handle counting overshoots */
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("journal_shared", NULL, NULL);
    if (!s || !CU_add_test(s, "shared lines: worker, t0, order", test_shared_lines) ||
        !CU_add_test(s, "shared cap counts the whole file", test_shared_cap))
        return -1;
    return 0;
}
