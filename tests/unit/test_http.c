/* Unit tests for sim/http: request reader, percent-decoding, query lookup, responses. */
#include "http/http.h"
#include "common/err.h"

#include <CUnit/CUnit.h>
#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U8(s) ((const uint8_t *)(s))

/* Feeds all of s at once; returns the feed code, *consumed set. */
static int feed_all(struct iotc_http_reader *r, const char *s, size_t *consumed)
{
    return iotc_http_reader_feed(r, U8(s), strlen(s), consumed);
}

/* Feeds s one byte at a time until the reader stops asking for more. */
static int feed_bytes(struct iotc_http_reader *r, const char *s, size_t len, size_t *used)
{
    size_t total = 0;
    for (size_t i = 0; i < len; i++) {
        size_t c = 99;
        int rc = iotc_http_reader_feed(r, U8(s) + i, 1, &c);
        total += c;
        if (rc != IOTC_ERR_AGAIN) {
            *used = total;
            return rc;
        }
        CU_ASSERT_EQUAL(c, 1);
    }
    *used = total;
    return IOTC_ERR_AGAIN;
}

static struct iotc_http_reader *reader_with(size_t hdr_bytes, size_t headers, size_t body)
{
    struct iotc_http_limits l = {hdr_bytes, headers, body};
    return iotc_http_reader_new(&l);
}

static void test_simple_get(void)
{
    struct iotc_http_reader *r = iotc_http_reader_new(NULL);
    const char *req = "GET /mqtt?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Two:  a b  \r\n\r\n";
    size_t used = 0;
    CU_ASSERT_EQUAL(feed_all(r, req, &used), IOTC_OK);
    CU_ASSERT_EQUAL(used, strlen(req));
    const struct iotc_http_req *q = iotc_http_reader_request(r);
    CU_ASSERT_STRING_EQUAL(q->method, "GET");
    CU_ASSERT_STRING_EQUAL(q->target, "/mqtt?x=1");
    CU_ASSERT_STRING_EQUAL(q->path, "/mqtt");
    CU_ASSERT_STRING_EQUAL(q->query, "x=1");
    CU_ASSERT_EQUAL(q->http_major, 1);
    CU_ASSERT_EQUAL(q->http_minor, 1);
    CU_ASSERT_TRUE(q->keep_alive);
    CU_ASSERT_FALSE(q->upgrade);
    CU_ASSERT_TRUE(q->head_complete);
    CU_ASSERT_EQUAL(q->header_count, 2);
    CU_ASSERT_STRING_EQUAL(iotc_http_header_get(q, "host"), "example.com");
    CU_ASSERT_STRING_EQUAL(iotc_http_header_get(q, "x-two"), "a b");
    CU_ASSERT_PTR_NULL(iotc_http_header_get(q, "Host"));
    CU_ASSERT_EQUAL(q->body.len, 0);
    /* A finished request must be collected with next() before more input. */
    CU_ASSERT_EQUAL(feed_all(r, "GET / HTTP/1.1\r\n\r\n", &used), IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(used, 0);
    iotc_http_reader_free(r);
}

static void test_byte_at_a_time(void)
{
    struct iotc_http_reader *r = iotc_http_reader_new(NULL);
    const char *req = "POST /topics/a%2Fb?qos=1 HTTP/1.1\r\nHost: h\r\nContent-Type: "
                      "application/json\r\nContent-Length: 11\r\n\r\n{\"t\":12345}";
    size_t used = 0;
    CU_ASSERT_EQUAL(feed_bytes(r, req, strlen(req), &used), IOTC_OK);
    CU_ASSERT_EQUAL(used, strlen(req));
    const struct iotc_http_req *q = iotc_http_reader_request(r);
    CU_ASSERT_STRING_EQUAL(q->method, "POST");
    CU_ASSERT_STRING_EQUAL(q->path, "/topics/a/b");
    CU_ASSERT_STRING_EQUAL(q->query, "qos=1");
    CU_ASSERT_EQUAL(q->body.len, 11);
    CU_ASSERT_STRING_EQUAL((const char *)q->body.p, "{\"t\":12345}");
    CU_ASSERT_STRING_EQUAL(iotc_http_header_get(q, "content-type"), "application/json");
    iotc_http_reader_free(r);
}

static void test_pipelined(void)
{
    struct iotc_http_reader *r = iotc_http_reader_new(NULL);
    const char *a = "POST /topics/one HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
    const char *b = "POST /topics/two HTTP/1.1\r\nContent-Length: 2\r\n\r\nde";
    char both[256];
    snprintf(both, sizeof both, "%s%s", a, b);
    size_t used = 0;
    CU_ASSERT_EQUAL(feed_all(r, both, &used), IOTC_OK);
    CU_ASSERT_EQUAL(used, strlen(a));
    const struct iotc_http_req *q = iotc_http_reader_request(r);
    CU_ASSERT_STRING_EQUAL(q->path, "/topics/one");
    CU_ASSERT_STRING_EQUAL((const char *)q->body.p, "abc");
    iotc_http_reader_next(r);
    size_t used2 = 0;
    CU_ASSERT_EQUAL(iotc_http_reader_feed(r, U8(both) + used, strlen(both) - used, &used2),
                    IOTC_OK);
    CU_ASSERT_EQUAL(used2, strlen(b));
    q = iotc_http_reader_request(r);
    CU_ASSERT_STRING_EQUAL(q->path, "/topics/two");
    CU_ASSERT_STRING_EQUAL((const char *)q->body.p, "de");

    /* Bodyless GETs back to back stop at each blank line too. */
    iotc_http_reader_next(r);
    const char *g = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    CU_ASSERT_EQUAL(feed_all(r, g, &used), IOTC_OK);
    CU_ASSERT_EQUAL(used, strlen("GET /a HTTP/1.1\r\n\r\n"));
    CU_ASSERT_STRING_EQUAL(iotc_http_reader_request(r)->path, "/a");
    iotc_http_reader_next(r);
    CU_ASSERT_EQUAL(feed_all(r, g + used, &used2), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(iotc_http_reader_request(r)->path, "/b");
    iotc_http_reader_free(r);
}

static void check_keep_alive(const char *req, bool expect)
{
    struct iotc_http_reader *r = iotc_http_reader_new(NULL);
    size_t used = 0;
    CU_ASSERT_EQUAL(feed_all(r, req, &used), IOTC_OK);
    CU_ASSERT_EQUAL(iotc_http_reader_request(r)->keep_alive, expect);
    iotc_http_reader_free(r);
}

static void test_keep_alive(void)
{
    check_keep_alive("GET / HTTP/1.1\r\nHost: h\r\n\r\n", true);
    check_keep_alive("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false);
    check_keep_alive("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", false);
    check_keep_alive("GET / HTTP/1.0\r\nHost: h\r\n\r\n", false);
    check_keep_alive("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true);
    check_keep_alive("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true);

    /* A 1.0 request must be followed by next() like any other; the parser must
     * not refuse the next request just because the previous one said close. */
    struct iotc_http_reader *r = iotc_http_reader_new(NULL);
    const char *two = "GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    size_t used = 0, used2 = 0;
    CU_ASSERT_EQUAL(feed_all(r, two, &used), IOTC_OK);
    iotc_http_reader_next(r);
    CU_ASSERT_EQUAL(feed_all(r, two + used, &used2), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(iotc_http_reader_request(r)->path, "/b");
    iotc_http_reader_free(r);
}

static const char chunked_req[] = "POST /topics/c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";

static void test_chunked(void)
{
    struct iotc_http_reader *r = iotc_http_reader_new(NULL);
    size_t used = 0;
    CU_ASSERT_EQUAL(feed_all(r, chunked_req, &used), IOTC_OK);
    CU_ASSERT_EQUAL(used, strlen(chunked_req));
    const struct iotc_http_req *q = iotc_http_reader_request(r);
    CU_ASSERT_EQUAL(q->body.len, 11);
    CU_ASSERT_STRING_EQUAL((const char *)q->body.p, "hello world");
    /* trailers are not headers */
    CU_ASSERT_PTR_NULL(iotc_http_header_get(q, "x-trailer"));
    iotc_http_reader_next(r);
    CU_ASSERT_EQUAL(feed_bytes(r, chunked_req, strlen(chunked_req), &used), IOTC_OK);
    CU_ASSERT_EQUAL(used, strlen(chunked_req));
    CU_ASSERT_STRING_EQUAL((const char *)iotc_http_reader_request(r)->body.p, "hello world");
    iotc_http_reader_free(r);

    /* limit applies to the decoded size: 11 bytes pass a limit of 11, not of 10 */
    r = reader_with(0, 0, 11);
    CU_ASSERT_EQUAL(feed_all(r, chunked_req, &used), IOTC_OK);
    iotc_http_reader_free(r);
    r = reader_with(0, 0, 10);
    CU_ASSERT_EQUAL(feed_all(r, chunked_req, &used), IOTC_ERR_TOO_LARGE);
    CU_ASSERT_STRING_EQUAL(iotc_http_reader_error(r), "body too large");
    CU_ASSERT_TRUE(iotc_http_reader_body_too_large(r));
    CU_ASSERT_TRUE(iotc_http_reader_request(r)->head_complete);
    iotc_http_reader_free(r);

    r = iotc_http_reader_new(NULL);
    CU_ASSERT_EQUAL(feed_all(r,
                             "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
                             "hello\r\n0\r\n\r\n",
                             &used),
                    IOTC_ERR_MALFORMED);
    CU_ASSERT_STRING_EQUAL(iotc_http_reader_error(r), "invalid chunk");
    iotc_http_reader_free(r);
}

static void test_limit_header_bytes(void)
{
    const char *req = "GET /abc HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t n = strlen(req), used = 0;
    struct iotc_http_reader *r = reader_with(n, 0, 0);
    CU_ASSERT_EQUAL(feed_all(r, req, &used), IOTC_OK);
    iotc_http_reader_free(r);

    r = reader_with(n - 1, 0, 0);
    CU_ASSERT_EQUAL(feed_all(r, req, &used), IOTC_ERR_TOO_LARGE);
    CU_ASSERT_STRING_EQUAL(iotc_http_reader_error(r), "header too large");
    CU_ASSERT(used <= n - 1);
    /* sticky until next() */
    CU_ASSERT_EQUAL(feed_all(r, "x", &used), IOTC_ERR_TOO_LARGE);
    iotc_http_reader_next(r);
    CU_ASSERT_STRING_EQUAL(iotc_http_reader_error(r), "");
    iotc_http_reader_free(r);

    /* byte at a time hits the same bound */
    r = reader_with(n - 1, 0, 0);
    CU_ASSERT_EQUAL(feed_bytes(r, req, n, &used), IOTC_ERR_TOO_LARGE);
    iotc_http_reader_free(r);

    /* default: 16 KiB; a 20 KiB header value is refused without buffering it all */
    r = iotc_http_reader_new(NULL);
    size_t big = 20 * 1024;
    char *huge = malloc(big + 64);
    int k = snprintf(huge, 64, "GET / HTTP/1.1\r\nX-Big: ");
    memset(huge + k, 'a', big);
    memcpy(huge + k + big, "\r\n\r\n", 5);
    CU_ASSERT_EQUAL(feed_all(r, huge, &used), IOTC_ERR_TOO_LARGE);
    CU_ASSERT(used <= IOTC_HTTP_DEFAULT_MAX_HEADER_BYTES);
    free(huge);
    iotc_http_reader_free(r);
}

static void test_limit_headers(void)
{
    const char *req = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    size_t used = 0;
    struct iotc_http_reader *r = reader_with(0, 3, 0);
    CU_ASSERT_EQUAL(feed_all(r, req, &used), IOTC_OK);
    CU_ASSERT_EQUAL(iotc_http_reader_request(r)->header_count, 3);
    iotc_http_reader_free(r);
    r = reader_with(0, 2, 0);
    CU_ASSERT_EQUAL(feed_all(r, req, &used), IOTC_ERR_TOO_LARGE);
    CU_ASSERT_STRING_EQUAL(iotc_http_reader_error(r), "too many headers");
    iotc_http_reader_free(r);
    r = reader_with(0, 2, 0);
    CU_ASSERT_EQUAL(feed_bytes(r, req, strlen(req), &used), IOTC_ERR_TOO_LARGE);
    iotc_http_reader_free(r);
}

static void test_limit_body(void)
{
    size_t used = 0;
    const char *ok = "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd";
    struct iotc_http_reader *r = reader_with(0, 0, 4);
    CU_ASSERT_EQUAL(feed_all(r, ok, &used), IOTC_OK);
    iotc_http_reader_free(r);

    /* A declared length over the limit fails as soon as the head is read. */
    r = reader_with(0, 0, 3);
    const char *head = "POST /topics/t HTTP/1.1\r\nContent-Length: 4\r\n\r\n";
    CU_ASSERT_EQUAL(feed_all(r, head, &used), IOTC_ERR_TOO_LARGE);
    CU_ASSERT_STRING_EQUAL(iotc_http_reader_error(r), "body too large");
    const struct iotc_http_req *q = iotc_http_reader_request(r);
    CU_ASSERT_TRUE(q->head_complete);
    CU_ASSERT_STRING_EQUAL(q->path, "/topics/t");
    iotc_http_reader_free(r);

    /* Default: 128 KiB + 1 passes, + 2 does not. */
    size_t lim = IOTC_HTTP_DEFAULT_MAX_BODY;
    char h[128];
    r = iotc_http_reader_new(NULL);
    snprintf(h, sizeof h, "POST / HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", lim);
    CU_ASSERT_EQUAL(feed_all(r, h, &used), IOTC_ERR_AGAIN);
    uint8_t *body = calloc(1, lim);
    CU_ASSERT_EQUAL(iotc_http_reader_feed(r, body, lim, &used), IOTC_OK);
    CU_ASSERT_EQUAL(iotc_http_reader_request(r)->body.len, lim);
    iotc_http_reader_next(r);
    snprintf(h, sizeof h, "POST / HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", lim + 1);
    CU_ASSERT_EQUAL(feed_all(r, h, &used), IOTC_ERR_TOO_LARGE);
    free(body);
    iotc_http_reader_free(r);
}

static void check_bad(const char *req, int code, const char *reason)
{
    struct iotc_http_reader *r = iotc_http_reader_new(NULL);
    size_t used = 0;
    int rc = feed_all(r, req, &used);
    CU_ASSERT_EQUAL(rc, code);
    if (reason)
        CU_ASSERT_STRING_EQUAL(iotc_http_reader_error(r), reason);
    if (rc != code || (reason && strcmp(iotc_http_reader_error(r), reason) != 0))
        fprintf(stderr, "\n  request %.40s: rc %d reason '%s'\n", req, rc,
                iotc_http_reader_error(r));
    iotc_http_reader_next(r);
    CU_ASSERT_EQUAL(feed_bytes(r, req, strlen(req), &used), code);
    iotc_http_reader_free(r);
}

static void test_malformed(void)
{
    check_bad("FOO / HTTP/1.1\r\n\r\n", IOTC_ERR_MALFORMED, "invalid method");
    check_bad("get / HTTP/1.1\r\n\r\n", IOTC_ERR_MALFORMED, "invalid method");
    check_bad("GET  HTTP/1.1\r\n\r\n", IOTC_ERR_MALFORMED, NULL);
    check_bad("GET /a b HTTP/1.1\r\n\r\n", IOTC_ERR_MALFORMED, NULL);
    check_bad("GET / HTTX/1.1\r\n\r\n", IOTC_ERR_MALFORMED, "malformed request line");
    check_bad("GET / HTTP/1.10\r\n\r\n", IOTC_ERR_MALFORMED, NULL);
    check_bad("GET  / HTTP/1.1\r\n\r\n", IOTC_ERR_MALFORMED, NULL);
    check_bad("GET / HTTP/1.1 \r\n\r\n", IOTC_ERR_MALFORMED, NULL);
    check_bad("GET / HTTP/1.x\r\n\r\n", IOTC_ERR_MALFORMED, "invalid HTTP version");
    check_bad("GET / HTTP/2.0\r\n\r\n", IOTC_ERR_UNSUPPORTED, "unsupported HTTP version");
    check_bad("GET /\x01 HTTP/1.1\r\n\r\n", IOTC_ERR_MALFORMED, "invalid request target");
    check_bad("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", IOTC_ERR_MALFORMED, "invalid header");
    check_bad("GET / HTTP/1.1\r\nNoColon\r\n\r\n", IOTC_ERR_MALFORMED, "invalid header");
    check_bad("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", IOTC_ERR_MALFORMED, "invalid header");
    check_bad("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", IOTC_ERR_MALFORMED,
              "invalid content-length");
    check_bad("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
              IOTC_ERR_MALFORMED, "invalid content-length");
    check_bad("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
              IOTC_ERR_MALFORMED, "invalid content-length");
    check_bad("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
              IOTC_ERR_MALFORMED, NULL);
    check_bad("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", IOTC_ERR_MALFORMED,
              "invalid transfer-encoding");
    check_bad("GET / HTTP/1.1\rX\n\r\n", IOTC_ERR_MALFORMED, NULL);
}

static void test_header_details(void)
{
    struct iotc_http_reader *r = iotc_http_reader_new(NULL);
    const char *req = "GET / HTTP/1.1\r\nX-Empty:\r\nHOST: h\r\nAccept: a\r\nACCEPT: b\r\n"
                      "Expect: 100-continue\r\n\r\n";
    size_t used = 0;
    CU_ASSERT_EQUAL(feed_bytes(r, req, strlen(req), &used), IOTC_OK);
    const struct iotc_http_req *q = iotc_http_reader_request(r);
    CU_ASSERT_EQUAL(q->header_count, 5);
    CU_ASSERT_STRING_EQUAL(iotc_http_header_get(q, "x-empty"), "");
    CU_ASSERT_STRING_EQUAL(iotc_http_header_get(q, "host"), "h");
    CU_ASSERT_STRING_EQUAL(iotc_http_header_get(q, "accept"), "a");
    CU_ASSERT_EQUAL(iotc_http_header_count(q, "accept"), 2);
    CU_ASSERT_STRING_EQUAL(iotc_http_header_get(q, "expect"), "100-continue");
    iotc_http_reader_free(r);
}

static void test_expect_continue(void)
{
    struct iotc_http_reader *r = iotc_http_reader_new(NULL);
    const char *head = "POST /topics/t?qos=1 HTTP/1.1\r\nContent-Length: 5\r\n"
                       "Expect: 100-continue\r\n\r\n";
    size_t used = 0;
    CU_ASSERT_EQUAL(feed_all(r, head, &used), IOTC_ERR_AGAIN);
    CU_ASSERT_EQUAL(used, strlen(head));
    const struct iotc_http_req *q = iotc_http_reader_request(r);
    CU_ASSERT_TRUE(q->head_complete);
    CU_ASSERT_STRING_EQUAL(iotc_http_header_get(q, "expect"), "100-continue");
    CU_ASSERT_EQUAL(feed_all(r, "hello", &used), IOTC_OK);
    CU_ASSERT_STRING_EQUAL((const char *)q->body.p, "hello");
    iotc_http_reader_free(r);
}

static void test_upgrade(void)
{
    struct iotc_http_reader *r = iotc_http_reader_new(NULL);
    const char *head = "GET /mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab HTTP/1.1\r\n"
                       "Host: iot.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Protocol: mqtt\r\nSec-WebSocket-Version: 13\r\n\r\n";
    char buf[512];
    size_t hl = strlen(head);
    memcpy(buf, head, hl);
    memcpy(buf + hl, "\x82\x85\x01\x02\x03\x04xxxxx", 11);
    size_t used = 0;
    CU_ASSERT_EQUAL(iotc_http_reader_feed(r, U8(buf), hl + 11, &used), IOTC_OK);
    CU_ASSERT_EQUAL(used, hl);
    const struct iotc_http_req *q = iotc_http_reader_request(r);
    CU_ASSERT_TRUE(q->upgrade);
    CU_ASSERT_STRING_EQUAL(q->path, "/mqtt");
    char *v = NULL;
    CU_ASSERT_EQUAL(iotc_http_query_get(q->query, "X-Amz-Signature", &v), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(v, "ab");
    free(v);
    iotc_http_reader_free(r);

    /* byte at a time: stops exactly at the blank line */
    r = iotc_http_reader_new(NULL);
    CU_ASSERT_EQUAL(feed_bytes(r, buf, hl + 11, &used), IOTC_OK);
    CU_ASSERT_EQUAL(used, hl);
    CU_ASSERT_TRUE(iotc_http_reader_request(r)->upgrade);
    iotc_http_reader_free(r);

    /* Upgrade without "Connection: upgrade" is only informational. */
    r = iotc_http_reader_new(NULL);
    CU_ASSERT_EQUAL(feed_all(r, "GET /mqtt HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", &used),
                    IOTC_OK);
    CU_ASSERT_FALSE(iotc_http_reader_request(r)->upgrade);
    iotc_http_reader_free(r);
}

static void test_target_forms(void)
{
    struct iotc_http_reader *r = iotc_http_reader_new(NULL);
    size_t used = 0;
    CU_ASSERT_EQUAL(feed_all(r, "GET http://h:80/p%20q?a=b#f HTTP/1.1\r\n\r\n", &used), IOTC_OK);
    const struct iotc_http_req *q = iotc_http_reader_request(r);
    CU_ASSERT_STRING_EQUAL(q->path, "/p q");
    CU_ASSERT_STRING_EQUAL(q->query, "a=b");
    iotc_http_reader_next(r);
    CU_ASSERT_EQUAL(feed_all(r, "OPTIONS * HTTP/1.1\r\n\r\n", &used), IOTC_OK);
    CU_ASSERT_PTR_NULL(iotc_http_reader_request(r)->path);
    CU_ASSERT_PTR_NULL(iotc_http_reader_request(r)->query);
    iotc_http_reader_next(r);
    /* a path that does not decode is reported as NULL, the request still parses */
    CU_ASSERT_EQUAL(feed_all(r, "POST /topics/a%zz HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &used),
                    IOTC_OK);
    CU_ASSERT_PTR_NULL(iotc_http_reader_request(r)->path);
    CU_ASSERT_STRING_EQUAL(iotc_http_reader_request(r)->target, "/topics/a%zz");
    iotc_http_reader_next(r);
    CU_ASSERT_EQUAL(feed_all(r, "GET /t? HTTP/1.1\r\n\r\n", &used), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(iotc_http_reader_request(r)->query, "");
    iotc_http_reader_next(r);
    /* empty lines before a request are skipped (RFC 9112 2.2) */
    CU_ASSERT_EQUAL(feed_bytes(r, "\r\n\r\nGET /x HTTP/1.1\r\n\r\n", 23, &used), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(iotc_http_reader_request(r)->path, "/x");
    iotc_http_reader_next(r);
    /* obsolete line folding: the value continues */
    CU_ASSERT_EQUAL(feed_all(r, "GET / HTTP/1.1\r\nX-Fold: a\r\n  b\r\nHost: h\r\n\r\n", &used),
                    IOTC_OK);
    CU_ASSERT_PTR_NOT_NULL(iotc_http_header_get(iotc_http_reader_request(r), "x-fold"));
    CU_ASSERT_STRING_EQUAL(iotc_http_header_get(iotc_http_reader_request(r), "host"), "h");
    iotc_http_reader_free(r);
}

struct decode_case {
    const char *in;
    int rc;
    const char *out;
};

static void test_url_decode(void)
{
    static const struct decode_case cases[] = {
        {"", IOTC_OK, ""},
        {"abc", IOTC_OK, "abc"},
        {"a%2Fb", IOTC_OK, "a/b"},
        {"a%2fb", IOTC_OK, "a/b"},
        {"%24aws%2Fthings%2Fx%2Fshadow%2Fupdate", IOTC_OK, "$aws/things/x/shadow/update"},
        {"a+b", IOTC_OK, "a+b"},
        {"%20", IOTC_OK, " "},
        {"%23%2B", IOTC_OK, "#+"},
        {"%C3%A9t%C3%A9", IOTC_OK, "\xC3\xA9t\xC3\xA9"},
        {"\xC3\xA9", IOTC_OK, "\xC3\xA9"},
        {"%F0%9F%98%80", IOTC_OK, "\xF0\x9F\x98\x80"},
        {"%E2%82%AC", IOTC_OK, "\xE2\x82\xAC"},
        {"%", IOTC_ERR_MALFORMED, NULL},
        {"%2", IOTC_ERR_MALFORMED, NULL},
        {"ab%", IOTC_ERR_MALFORMED, NULL},
        {"%zz", IOTC_ERR_MALFORMED, NULL},
        {"%g0", IOTC_ERR_MALFORMED, NULL},
        {"%0g", IOTC_ERR_MALFORMED, NULL},
        {"%%41", IOTC_ERR_MALFORMED, NULL},
        {"%00", IOTC_ERR_MALFORMED, NULL},
        {"%C3", IOTC_ERR_MALFORMED, NULL},          /* truncated sequence */
        {"%C3%28", IOTC_ERR_MALFORMED, NULL},       /* bad continuation */
        {"%C0%AF", IOTC_ERR_MALFORMED, NULL},       /* overlong '/' */
        {"%ED%A0%80", IOTC_ERR_MALFORMED, NULL},    /* surrogate */
        {"%F4%90%80%80", IOTC_ERR_MALFORMED, NULL}, /* above U+10FFFF */
        {"%FF", IOTC_ERR_MALFORMED, NULL},
        {"\xFF", IOTC_ERR_MALFORMED, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct iotc_buf out = {0};
        iotc_buf_append(&out, "P", 1); /* decode appends */
        int rc = iotc_url_decode(cases[i].in, strlen(cases[i].in), &out);
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (rc != cases[i].rc)
            fprintf(stderr, "\n  decode case %zu '%s': rc %d\n", i, cases[i].in, rc);
        if (cases[i].out) {
            CU_ASSERT_EQUAL(out.len, 1 + strlen(cases[i].out));
            CU_ASSERT_STRING_EQUAL((char *)out.p + 1, cases[i].out);
        } else {
            CU_ASSERT_EQUAL(out.len, 1);
        }
        iotc_buf_free(&out);
    }
    struct iotc_buf out = {0};
    CU_ASSERT_EQUAL(iotc_url_decode_form("a+b%2B", 6, &out), IOTC_OK);
    CU_ASSERT_STRING_EQUAL((char *)out.p, "a b+");
    iotc_buf_free(&out);
    /* the length bounds the input: a NUL past len is not read */
    CU_ASSERT_EQUAL(iotc_url_decode("ab%41", 2, &out), IOTC_OK);
    CU_ASSERT_STRING_EQUAL((char *)out.p, "ab");
    iotc_buf_free(&out);
    CU_ASSERT_EQUAL(iotc_url_decode("a\0b", 3, &out), IOTC_ERR_MALFORMED);
    iotc_buf_free(&out);
}

static void test_query(void)
{
    const char *q = "qos=1&retain=true&a%20b=c%2Fd&plus=a+b&empty=&flag&qos=0&x=%zz";
    char *v = NULL;
    CU_ASSERT_EQUAL(iotc_http_query_get(q, "qos", &v), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(v, "1");
    free(v);
    CU_ASSERT_EQUAL(iotc_http_query_count(q, "qos"), 2);
    CU_ASSERT_EQUAL(iotc_http_query_count(q, "retain"), 1);
    CU_ASSERT_EQUAL(iotc_http_query_count(q, "nope"), 0);
    CU_ASSERT_EQUAL(iotc_http_query_get(q, "a b", &v), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(v, "c/d");
    free(v);
    CU_ASSERT_EQUAL(iotc_http_query_get(q, "plus", &v), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(v, "a+b");
    free(v);
    CU_ASSERT_EQUAL(iotc_http_query_get_form(q, "plus", &v), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(v, "a b");
    free(v);
    CU_ASSERT_EQUAL(iotc_http_query_get(q, "empty", &v), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(v, "");
    free(v);
    CU_ASSERT_EQUAL(iotc_http_query_get(q, "flag", &v), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(v, "");
    free(v);
    CU_ASSERT_EQUAL(iotc_http_query_get(q, "x", &v), IOTC_ERR_MALFORMED);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_EQUAL(iotc_http_query_get(q, "missing", &v), IOTC_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(iotc_http_query_get(NULL, "qos", &v), IOTC_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(iotc_http_query_get("", "qos", &v), IOTC_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(iotc_http_query_get("&&qos=1&", "qos", &v), IOTC_OK);
    free(v);
    /* a name that does not decode makes the whole query malformed */
    CU_ASSERT_EQUAL(iotc_http_query_get("%zz=1&qos=1", "qos", &v), IOTC_ERR_MALFORMED);
    CU_ASSERT_EQUAL(iotc_http_query_count("%zz=1&qos=1", "qos"), 1);
    /* names are compared after decoding and case-sensitively */
    CU_ASSERT_EQUAL(iotc_http_query_get("X-Amz-Date=1&x%2Damz%2Ddate=2", "x-amz-date", &v),
                    IOTC_OK);
    CU_ASSERT_STRING_EQUAL(v, "2");
    free(v);
}

static void test_response(void)
{
    struct iotc_buf out = {0};
    CU_ASSERT_EQUAL(iotc_http_response(&out, 200, "application/json", "{}", 2, true, NULL),
                    IOTC_OK);
    iotc_buf_u8(&out, 0);
    CU_ASSERT_STRING_EQUAL((char *)out.p, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                          "Content-Length: 2\r\nConnection: keep-alive\r\n\r\n{}");
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_http_response(&out, 101, NULL, NULL, 0, true,
                                       "Upgrade: websocket\r\nSec-WebSocket-Protocol: mqtt\r\n"),
                    IOTC_OK);
    iotc_buf_u8(&out, 0);
    CU_ASSERT_STRING_EQUAL((char *)out.p,
                           "HTTP/1.1 101 Switching Protocols\r\nContent-Length: 0\r\n"
                           "Connection: keep-alive\r\nUpgrade: websocket\r\n"
                           "Sec-WebSocket-Protocol: mqtt\r\n\r\n");
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_http_response(&out, 413, "text/plain", "x", 1, false, ""), IOTC_OK);
    iotc_buf_u8(&out, 0);
    CU_ASSERT_STRING_EQUAL((char *)out.p, "HTTP/1.1 413 Payload Too Large\r\nContent-Type: "
                                          "text/plain\r\nContent-Length: 1\r\nConnection: "
                                          "close\r\n\r\nx");
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_http_response(&out, 599, NULL, NULL, 0, false, NULL), IOTC_OK);
    iotc_buf_u8(&out, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)out.p, "HTTP/1.1 599 Unknown\r\n"));
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_http_response(&out, 99, NULL, NULL, 0, false, NULL), IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(iotc_http_response(&out, 200, "a\r\nX: y", NULL, 0, false, NULL),
                    IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(iotc_http_response(&out, 200, NULL, NULL, 0, false, "X: no-crlf"),
                    IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(out.len, 0);
    CU_ASSERT_STRING_EQUAL(iotc_http_reason(400), "Bad Request");
    CU_ASSERT_STRING_EQUAL(iotc_http_reason(401), "Unauthorized");
    CU_ASSERT_STRING_EQUAL(iotc_http_reason(403), "Forbidden");
    CU_ASSERT_STRING_EQUAL(iotc_http_reason(405), "Method Not Allowed");
    CU_ASSERT_STRING_EQUAL(iotc_http_reason(500), "Internal Server Error");
    iotc_buf_free(&out);
}

static void test_json_error(void)
{
    struct iotc_buf out = {0};
    char rid[37] = "";
    CU_ASSERT_EQUAL(iotc_http_json_error(&out, 400, "bad \"topic\"\n", false, rid), IOTC_OK);
    iotc_buf_u8(&out, 0);
    const char *s = (const char *)out.p;
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "HTTP/1.1 400 Bad Request\r\n"));
    /* what AWS SDKs read: the error type (restJson1) and the request id */
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\r\nx-amzn-ErrorType: InvalidRequestException\r\n"));
    char rh[64];
    snprintf(rh, sizeof rh, "\r\nx-amzn-RequestId: %s\r\n", rid);
    CU_ASSERT_EQUAL(strlen(rid), 36);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, rh));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "Content-Type: application/json\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "Connection: close\r\n"));
    const char *body = strstr(s, "\r\n\r\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    body += 4;
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", strlen(body));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, cl));
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "message")), "bad \"topic\"\n");
    const char *trace = json_string_value(json_object_get(j, "traceId"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(trace);
    CU_ASSERT_EQUAL(strlen(trace), 36);
    CU_ASSERT_STRING_EQUAL(trace, rid);
    CU_ASSERT_EQUAL(json_object_size(j), 2);
    CU_ASSERT_EQUAL(strncmp(body, "{\"message\":", 11), 0);
    json_decref(j);
    iotc_buf_reset(&out);
    CU_ASSERT_EQUAL(iotc_http_json_error(&out, 200, "OK", true, NULL), IOTC_OK);
    iotc_buf_u8(&out, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr((const char *)out.p, "\r\nx-amzn-RequestId: "));
    CU_ASSERT_PTR_NULL(strstr((const char *)out.p, "x-amzn-ErrorType"));
    iotc_buf_reset(&out);
    CU_ASSERT_STRING_EQUAL(iotc_http_aws_error_type(403), "ForbiddenException");
    CU_ASSERT_STRING_EQUAL(iotc_http_aws_error_type(401), "UnauthorizedException");
    CU_ASSERT_STRING_EQUAL(iotc_http_aws_error_type(413), "RequestEntityTooLargeException");
    CU_ASSERT_STRING_EQUAL(iotc_http_aws_error_type(429), "ThrottlingException");
    CU_ASSERT_STRING_EQUAL(iotc_http_aws_error_type(500), "InternalFailureException");
    CU_ASSERT_PTR_NULL(iotc_http_aws_error_type(200));
    CU_ASSERT_EQUAL(iotc_http_json_error(&out, 400, "bad \xFF utf-8", true, NULL),
                    IOTC_ERR_INVALID);
    CU_ASSERT_EQUAL(out.len, 0);
    iotc_buf_free(&out);
}

static void test_uuid(void)
{
    char a[37], b[37];
    iotc_uuid4(a);
    iotc_uuid4(b);
    CU_ASSERT_EQUAL(strlen(a), 36);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    CU_ASSERT_EQUAL(a[8], '-');
    CU_ASSERT_EQUAL(a[13], '-');
    CU_ASSERT_EQUAL(a[14], '4');
    CU_ASSERT_EQUAL(a[18], '-');
    CU_ASSERT_PTR_NOT_NULL(strchr("89ab", a[19]));
    CU_ASSERT_EQUAL(a[23], '-');
    for (int i = 0; i < 36; i++)
        CU_ASSERT_PTR_NOT_NULL(strchr("0123456789abcdef-", a[i]));
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("http", NULL, NULL);
    if (!s)
        return -1;
    struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        {"simple GET", test_simple_get},
        {"byte at a time", test_byte_at_a_time},
        {"pipelined requests", test_pipelined},
        {"keep-alive 1.0/1.1", test_keep_alive},
        {"chunked body", test_chunked},
        {"limit: header bytes", test_limit_header_bytes},
        {"limit: header count", test_limit_headers},
        {"limit: body", test_limit_body},
        {"malformed requests", test_malformed},
        {"header details", test_header_details},
        {"expect 100-continue", test_expect_continue},
        {"upgrade leaves trailing bytes", test_upgrade},
        {"request target forms", test_target_forms},
        {"percent-decoding table", test_url_decode},
        {"query lookup", test_query},
        {"response formatting", test_response},
        {"json error body", test_json_error},
        {"uuid4", test_uuid},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return -1;
    return 0;
}
