/*
 * The canonical request, assembled from the request exactly as received:
 *   METHOD \n URI \n QUERY \n HEADERS (each "name:value\n") \n SIGNED-HEADERS \n PAYLOAD-HASH
 */
#include "sigv4_int.h"
#include "common/err.h"

#include <string.h>

int iotc_sigv4_canonical_request(const struct iotc_sigv4_request *rq,
                                 const struct iotc_sigv4_parsed *p, bool token_in_canonical_query,
                                 struct iotc_buf *out)
{
    char hash[IOTC_SIGV4__HEX_LEN + 1];
    size_t start;
    int rc;
    if (!rq || !p || !out || !rq->method || (rq->header_count && !rq->headers))
        return IOTC_ERR_INVALID;
    /* the list drives header lookup: an unchecked one could name "Host" and sign nothing */
    if (memchr(p->signed_headers, '\0', sizeof p->signed_headers) == NULL ||
        !iotc_sigv4__signed_headers_valid(p->signed_headers, NULL))
        return IOTC_ERR_MALFORMED;
    start = out->len;
    if ((rc = iotc_buf_append(out, rq->method, strlen(rq->method))) ||
        (rc = iotc_buf_u8(out, '\n')) ||
        (rc = iotc_sigv4__canonical_uri(rq->path, !rq->no_path_normalize, out)) ||
        (rc = iotc_buf_u8(out, '\n')) ||
        (rc =
             iotc_sigv4__canonical_query(rq->query, p->presigned, token_in_canonical_query, out)) ||
        (rc = iotc_buf_u8(out, '\n')) ||
        (rc = iotc_sigv4__canonical_headers(rq, p->signed_headers, out)) ||
        (rc = iotc_buf_u8(out, '\n')) ||
        (rc = iotc_buf_append(out, p->signed_headers, strlen(p->signed_headers))) ||
        (rc = iotc_buf_u8(out, '\n')) || (rc = iotc_sigv4__payload_hash(rq, hash)) ||
        (rc = iotc_buf_append(out, hash, strlen(hash))))
        goto cleanup;
    return IOTC_OK;
cleanup:
    out->len = start; /* nothing half-built is left behind */
    return rc;
}
