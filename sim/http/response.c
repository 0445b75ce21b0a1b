/*
 * Response side: status line, the few headers the front door needs, and the
 * AWS-shaped JSON bodies. Everything is appended to a caller's buffer so the
 * event loop can write it out as one piece.
 */
#include "http.h"
#include "common/err.h"

#include <http_parser.h>
#include <jansson.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *iotc_http_reason(int status)
{
    /* http-parser carries the IANA registry; "<unknown>" is its miss marker. */
    const char *s = http_status_str((enum http_status)status);
    if (!s || s[0] == '<')
        return "Unknown";
    return s;
}

static bool response__header_text_ok(const char *s)
{
    /* A CR or LF inside a value would let a caller's string inject headers. */
    return s == NULL || strpbrk(s, "\r\n") == NULL;
}

static bool response__extra_ok(const char *extra)
{
    if (!extra || !*extra)
        return true;
    size_t n = strlen(extra);
    return n >= 2 && extra[n - 2] == '\r' && extra[n - 1] == '\n';
}

int iotc_http_response(struct iotc_buf *out, int status, const char *content_type, const char *body,
                       size_t body_len, bool keep_alive, const char *extra_headers)
{
    if (!out || status < 100 || status > 999 || (!body && body_len))
        return IOTC_ERR_INVALID;
    if (!response__header_text_ok(content_type) || !response__extra_ok(extra_headers))
        return IOTC_ERR_INVALID;

    size_t start = out->len;
    int rc = iotc_buf_printf(out, "HTTP/1.1 %d %s\r\n", status, iotc_http_reason(status));
    if (rc == IOTC_OK && content_type)
        rc = iotc_buf_printf(out, "Content-Type: %s\r\n", content_type);
    if (rc == IOTC_OK)
        rc = iotc_buf_printf(out, "Content-Length: %zu\r\nConnection: %s\r\n", body_len,
                             keep_alive ? "keep-alive" : "close");
    if (rc == IOTC_OK && extra_headers)
        rc = iotc_buf_append(out, extra_headers, strlen(extra_headers));
    if (rc == IOTC_OK)
        rc = iotc_buf_append(out, "\r\n", 2);
    if (rc == IOTC_OK && body_len)
        rc = iotc_buf_append(out, body, body_len);
    if (rc != IOTC_OK)
        out->len = start;
    return rc;
}

const char *iotc_http_aws_error_type(int status)
{
    /* The AWS IoT data plane's error shapes (Publish in the API reference), by the
     * status each is sent with; 404 is ResourceNotFoundException as for the other
     * data-plane operations (GetRetainedMessage). */
    switch (status) {
    case 400:
        return "InvalidRequestException";
    case 401:
        return "UnauthorizedException";
    case 403:
        return "ForbiddenException";
    case 404:
        return "ResourceNotFoundException";
    case 405:
        return "MethodNotAllowedException";
    case 409:
        return "ConflictException";
    case 413:
        return "RequestEntityTooLargeException";
    case 415:
        return "UnsupportedDocumentEncodingException";
    case 429:
        return "ThrottlingException";
    case 503:
        return "ServiceUnavailableException";
    default:
        return status >= 400 ? "InternalFailureException" : NULL;
    }
}

int iotc_http_json_error(struct iotc_buf *out, int status, const char *message, bool keep_alive,
                         char request_id[37])
{
    char trace[37];
    char hdr[160];
    char *text = NULL;
    json_t *obj = NULL;
    int rc = IOTC_ERR_INVALID;

    iotc_uuid4(trace);
    if (request_id)
        memcpy(request_id, trace, sizeof trace);
    /* SDKs name the error from x-amzn-ErrorType (restJson1) and report the request
     * id from x-amzn-RequestId; the body keeps AWS's {"message","traceId"}, and the
     * traceId is the same id. */
    const char *type = iotc_http_aws_error_type(status);
    int n = type ? snprintf(hdr, sizeof hdr, "x-amzn-RequestId: %s\r\nx-amzn-ErrorType: %s\r\n",
                            trace, type)
                 : snprintf(hdr, sizeof hdr, "x-amzn-RequestId: %s\r\n", trace);
    if (n < 0 || (size_t)n >= sizeof hdr)
        goto cleanup;
    obj = json_pack("{s:s, s:s}", "message", message ? message : "", "traceId", trace);
    if (!obj)
        goto cleanup; /* message is not valid UTF-8 (or memory ran out) */
    text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    rc = IOTC_ERR_NOMEM;
    if (!text)
        goto cleanup;
    rc = iotc_http_response(out, status, "application/json", text, strlen(text), keep_alive, hdr);
cleanup:
    free(text);
    json_decref(obj);
    return rc;
}
