/*
 * Fuzz harness for the HTTP request reader. The first two bytes choose where the
 * input is cut into up to three slices (so split points inside tokens, CRLFs and
 * chunk sizes get exercised) and which limits apply; the rest is fed as a stream,
 * pipelined requests included. Also runs the query and percent-decoding helpers on
 * whatever request comes out.
 */
#include "http/http.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

static void fuzz__use_request(const struct iotc_http_req *q)
{
    char *v = NULL;
    if (iotc_http_query_get(q->query, "qos", &v) == IOTC_OK)
        free(v);
    if (iotc_http_query_get_form(q->query, "X-Amz-Signature", &v) == IOTC_OK)
        free(v);
    (void)iotc_http_query_count(q->query, "retain");
    (void)iotc_http_header_get(q, "content-length");
    for (size_t i = 0; i < q->header_count; i++)
        (void)strlen(q->headers[i].name), (void)strlen(q->headers[i].value);
    if (q->path)
        (void)strlen(q->path);
    if (q->body.len)
        (void)q->body.p[q->body.len]; /* the kept NUL must be inside the allocation */
    struct iotc_buf out = {0};
    (void)iotc_url_decode(q->target, strlen(q->target), &out);
    iotc_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t a = data[0], b = data[1];
    data += 2;
    size -= 2;
    /* Small limits sometimes, so every limit path is reachable with short inputs. */
    struct iotc_http_limits lim = {0};
    if (a & 0x80) {
        lim.max_header_bytes = 16 + (size_t)(b & 0x7F) * 4;
        lim.max_headers = 1 + (a & 0x07);
        lim.max_body = 1 + (size_t)(b >> 3);
    }
    size_t cuts[3] = {size ? (size_t)(a & 0x7F) % (size + 1) : 0,
                      size ? (size_t)b * 3 % (size + 1) : 0, size};
    if (cuts[0] > cuts[1]) {
        size_t t = cuts[0];
        cuts[0] = cuts[1];
        cuts[1] = t;
    }
    struct iotc_http_reader *r = iotc_http_reader_new(&lim);
    if (!r)
        return 0;
    size_t pos = 0;
    for (int s = 0; s < 3 && pos < size; s++) {
        size_t end = cuts[s];
        /* A slice may hold several pipelined requests: take them one by one. */
        while (pos < end) {
            size_t used = 0;
            int rc = iotc_http_reader_feed(r, data + pos, end - pos, &used);
            if (used > end - pos)
                abort(); /* the reader claimed bytes it was never given */
            pos += used;
            if (rc == IOTC_OK) {
                const struct iotc_http_req *q = iotc_http_reader_request(r);
                fuzz__use_request(q);
                if (q->upgrade)
                    goto cleanup; /* the rest is another protocol */
                iotc_http_reader_next(r);
                continue;
            }
            if (rc == IOTC_ERR_AGAIN) {
                if (pos != end)
                    abort(); /* AGAIN must mean every byte was taken */
                break;
            }
            (void)iotc_http_reader_error(r);
            goto cleanup;
        }
    }
cleanup:
    iotc_http_reader_free(r);
    return 0;
}
