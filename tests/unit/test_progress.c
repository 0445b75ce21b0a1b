/* harness/progress (the live line of run/certify) driven with a made-up clock, and
 * harness/shard (the --shard K/N split). */
#include "harness/progress.h"
#include "harness/shard.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Plain lines: one at every 10%, one after 10 s without any, failures at once. */
static void test_lines(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    iotc_progress p;
    iotc_progress_init(&p, f, IOTC_PROGRESS_AUTO, 40, 2); /* a memstream is no terminal */
    CU_ASSERT_EQUAL(p.mode, IOTC_PROGRESS_LINES);
    long t = p.t0_ms;
    for (int i = 1; i <= 3; i++) /* 7.5%: no line yet */
        iotc_progress_case_at(&p, "PASS", "a", false, "", 100, t += 100);
    fflush(f);
    CU_ASSERT_EQUAL(count(buf, "progress:"), 0);
    iotc_progress_case_at(&p, "PASS", "a", false, "", 100, t += 100); /* 10% */
    fflush(f);
    CU_ASSERT_EQUAL(count(buf, "progress: 4/40   10%  0 failed"), 1);
    /* a slow case: 10 s since the last line prints one before the next 10% */
    iotc_progress_case_at(&p, "PASS", "b", false, "", 100, t += IOTC_PROGRESS_INTERVAL_MS);
    fflush(f);
    CU_ASSERT_EQUAL(count(buf, "progress: 5/40"), 1);
    iotc_progress_case_at(&p, "FAIL", "x509.c", true, "handshake: expected refused\nmore", 100,
                          t += 10);
    fflush(f);
    CU_ASSERT_EQUAL(count(buf, "[6/40] FAIL x509.c: handshake: expected refused\n"), 1);
    CU_ASSERT_EQUAL(count(buf, "more"), 0);
    for (int i = 7; i <= 40; i++)
        iotc_progress_case_at(&p, "PASS", "a", false, "", 100, t += 10);
    iotc_progress_finish(&p);
    fclose(f);
    CU_ASSERT_EQUAL(count(buf, "progress:"), 11); /* 10 steps + the 10 s one */
    CU_ASSERT_EQUAL(count(buf, "progress: 40/40  100%  1 failed"), 1);
    CU_ASSERT_EQUAL(count(buf, "\r"), 0);
    free(buf);
}

/* Terminal: redraws at most every 100 ms, a failure on its own line, ETA from the mean. */
static void test_tty(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    iotc_progress p;
    iotc_progress_init(&p, f, IOTC_PROGRESS_TTY, 100, 2);
    long t = p.t0_ms;
    for (int i = 0; i < 10; i++) /* 10 cases in 50 ms: one redraw, at the 100 ms mark */
        iotc_progress_case_at(&p, "PASS", "a", false, "", 1000, t += 5);
    fflush(f);
    CU_ASSERT_EQUAL(count(buf, "\r\033[K"), 0);
    iotc_progress_case_at(&p, "PASS", "a", false, "", 1000, t += 100);
    fflush(f);
    CU_ASSERT_EQUAL(count(buf, "\r\033[K"), 1);
    /* mean 1 s x 89 left / 2 jobs = 44.5 s */
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "] 11/100   11%  0 failed  elapsed 0:00  ETA 0:45"));
    iotc_progress_case_at(&p, "ERROR", "x.y", true, "boom", 1000, t += 1);
    fflush(f);
    /* the bar is erased, the failure gets a line, the bar comes back */
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\r\033[K[12/100] ERROR x.y: boom\n\r\033[K["));
    iotc_progress_finish(&p);
    fclose(f);
    CU_ASSERT_EQUAL(buf[len - 1], '\n');
    free(buf);
}

static void test_verbose_quiet(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    iotc_progress p;
    iotc_progress_init(&p, f, IOTC_PROGRESS_VERBOSE, 2, 1);
    iotc_progress_start(&p);
    iotc_progress_case(&p, "FAIL", "a", true, "r", 1);
    iotc_progress_case(&p, "PASS", "b", false, "", 1);
    iotc_progress_finish(&p);
    fflush(f);
    CU_ASSERT_EQUAL(len, 0); /* the caller prints its per-case lines */
    iotc_progress_init(&p, f, IOTC_PROGRESS_QUIET, 2, 1);
    iotc_progress_case(&p, "FAIL", "a", true, "r", 1);
    iotc_progress_case(&p, "PASS", "b", false, "", 1);
    iotc_progress_finish(&p);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(buf, "[1/2] FAIL a: r\n");
    free(buf);
}

static void test_hms(void)
{
    char b[24];
    iotc_progress_hms(65, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "1:05");
    iotc_progress_hms(3600 * 12 + 3, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "12:00:03");
}

static void test_shard_parse(void)
{
    iotc_shard s;
    iotc_errtext err = {0};
    CU_ASSERT_EQUAL(iotc_shard_parse("2/3", &s, &err), 0);
    CU_ASSERT(s.k == 2 && s.n == 3);
    CU_ASSERT_EQUAL(iotc_shard_parse("1000/1000", &s, &err), 0);
    const char *bad[] = {"0/3", "4/3", "1/1001", "1/0", "3", "1/3x", "/3", "a/b", "-1/3", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_NOT_EQUAL(iotc_shard_parse(bad[i], &s, &err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "1 <= K <= N <= 1000"));
}

/* Every id in exactly one shard, sizes within one, independent of the input order. */
static void test_shard_split(void)
{
    const char *ids[] = {"e", "a", "d", "b", "c", "g", "f"};
    const char *rev[] = {"f", "g", "c", "b", "d", "a", "e"};
    unsigned char keep[7], keep2[7];
    char d1[80], d2[80];
    int owner[7] = {0};
    for (int k = 1; k <= 3; k++) {
        iotc_shard s = {k, 3};
        long n = iotc_shard_select(&s, ids, 7, keep, d1);
        CU_ASSERT(n == (k == 1 ? 3 : 2));
        iotc_shard_select(&s, rev, 7, keep2, d2);
        CU_ASSERT_STRING_EQUAL(d1, d2); /* the same selection, whatever its order */
        for (int i = 0; i < 7; i++) {
            owner[i] += keep[i] ? k : 0;
            for (int j = 0; j < 7; j++)
                if (!strcmp(ids[i], rev[j]))
                    CU_ASSERT_EQUAL(keep[i], keep2[j]);
        }
    }
    /* sorted a..g round-robin: a d g -> 1, b e -> 2, c f -> 3 */
    CU_ASSERT(owner[1] == 1 && owner[2] == 1 && owner[5] == 1);
    CU_ASSERT(owner[3] == 2 && owner[0] == 2);
    CU_ASSERT(owner[4] == 3 && owner[6] == 3);
    CU_ASSERT_EQUAL(strncmp(d1, "sha256:", 7), 0);
    CU_ASSERT_EQUAL(strlen(d1), 7 + 64);
    iotc_shard none = {0, 0};
    CU_ASSERT_EQUAL(iotc_shard_select(&none, ids, 7, keep, d2), 7);
    CU_ASSERT_STRING_EQUAL(d1, d2);
    CU_ASSERT_NOT_EQUAL(iotc_shard_select(&none, ids, 6, keep, d2), 7);
    CU_ASSERT_STRING_NOT_EQUAL(d1, d2);
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("progress", NULL, NULL);
    if (!s)
        return -1;
    CU_add_test(s, "plain lines: every 10% and every 10 s, failures", test_lines);
    CU_add_test(s, "terminal: rate-limited redraw, ETA, failure lines", test_tty);
    CU_add_test(s, "verbose and quiet", test_verbose_quiet);
    CU_add_test(s, "elapsed/ETA text", test_hms);
    CU_add_test(s, "shard: K/N parse", test_shard_parse);
    CU_add_test(s, "shard: round-robin over sorted ids", test_shard_split);
    return 0;
}
