/*
 * Incremental request reader on top of http-parser. The parser does the HTTP
 * grammar; this file owns the limits and hands out exactly one request per
 * successful feed (the parser is paused at the end of each message so that
 * pipelined or post-upgrade bytes stay with the caller).
 */
#include "http.h"
#include "common/err.h"

#include <http_parser.h>

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum reader_state { ST_HEAD, ST_BODY, ST_DONE, ST_ERROR };

struct iotc_http_reader {
    http_parser parser;
    struct iotc_http_limits lim;
    enum reader_state state;
    struct iotc_http_req req;
    size_t header_cap;
    struct iotc_buf target;
    struct iotc_buf field; /* current header name, accumulated across callbacks */
    struct iotc_buf value;
    bool in_value;        /* last header callback was a value: the next field starts a header */
    struct iotc_buf line; /* request line, collected before the parser sees it */
    bool line_done;
    bool line_checked;
    size_t head_bytes;
    size_t trailer_bytes;
    int err;
    const char *reason;
};

/* One string, so iotc_http_reader_body_too_large() can tell this reason apart. */
static const char reader__body_too_large[] = "body too large";

static int reader__fail(struct iotc_http_reader *r, int err, const char *reason)
{
    /* Keep the first reason: later ones are consequences of it. */
    if (r->state != ST_ERROR) {
        r->state = ST_ERROR;
        r->err = err;
        r->reason = reason;
    }
    return -1;
}

static void reader__clear_req(struct iotc_http_reader *r)
{
    for (size_t i = 0; i < r->req.header_count; i++) {
        free(r->req.headers[i].name);
        free(r->req.headers[i].value);
    }
    free(r->req.headers);
    free(r->req.path);
    free(r->req.query);
    iotc_buf_free(&r->req.body);
    iotc_buf_free(&r->target);
    iotc_buf_free(&r->field);
    iotc_buf_free(&r->value);
    iotc_buf_free(&r->line);
    r->line_done = false;
    r->line_checked = false;
    memset(&r->req, 0, sizeof r->req);
    r->header_cap = 0;
}

static struct iotc_http_reader *reader__from(http_parser *p)
{
    return p->data;
}

static int reader__append(struct iotc_http_reader *r, struct iotc_buf *b, const char *at, size_t n)
{
    if (iotc_buf_append(b, at, n) != IOTC_OK)
        return reader__fail(r, IOTC_ERR_NOMEM, "out of memory");
    return 0;
}

static int reader__on_url(http_parser *p, const char *at, size_t n)
{
    struct iotc_http_reader *r = reader__from(p);
    return reader__append(r, &r->target, at, n);
}

/* RFC 9110 token characters: the installed http-parser is built non-strict and
 * lets spaces into header names, which would make "a b: x" a header. */
static bool reader__is_token(const uint8_t *p, size_t n)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c != 0 && strchr(extra, c) != NULL);
        if (!ok)
            return false;
    }
    return true;
}

static char *reader__trimmed_copy(const struct iotc_buf *b)
{
    size_t s = 0, e = b->len;
    if (e == 0)
        return iotc_span_strdup((struct iotc_span){(const uint8_t *)"", 0});
    while (s < e && (b->p[s] == ' ' || b->p[s] == '\t'))
        s++;
    while (e > s && (b->p[e - 1] == ' ' || b->p[e - 1] == '\t'))
        e--;
    struct iotc_span sp = {b->p + s, e - s};
    return iotc_span_strdup(sp);
}

/* Moves the accumulated name/value pair into req.headers. */
static int reader__commit_header(struct iotc_http_reader *r)
{
    if (!r->in_value)
        return 0;
    r->in_value = false;
    if (!reader__is_token(r->field.p, r->field.len) ||
        (r->value.len && memchr(r->value.p, 0, r->value.len)))
        return reader__fail(r, IOTC_ERR_MALFORMED, "invalid header");
    if (r->req.header_count == r->header_cap) {
        size_t cap = r->header_cap ? r->header_cap * 2 : 8;
        struct iotc_http_header *h = realloc(r->req.headers, cap * sizeof *h);
        if (!h)
            return reader__fail(r, IOTC_ERR_NOMEM, "out of memory");
        r->req.headers = h;
        r->header_cap = cap;
    }
    struct iotc_span name = {r->field.p, r->field.len};
    char *n = iotc_span_strdup(name);
    char *v = reader__trimmed_copy(&r->value);
    if (!n || !v) {
        free(n);
        free(v);
        return reader__fail(r, IOTC_ERR_NOMEM, "out of memory");
    }
    for (char *c = n; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    r->req.headers[r->req.header_count++] = (struct iotc_http_header){n, v};
    iotc_buf_reset(&r->field);
    iotc_buf_reset(&r->value);
    return 0;
}

/* Trailers (after a chunked body) are bounded but not kept: nothing here reads them. */
static int reader__trailer(struct iotc_http_reader *r, size_t n)
{
    r->trailer_bytes += n;
    if (r->trailer_bytes > r->lim.max_header_bytes)
        return reader__fail(r, IOTC_ERR_TOO_LARGE, "trailers too large");
    return 0;
}

static int reader__on_header_field(http_parser *p, const char *at, size_t n)
{
    struct iotc_http_reader *r = reader__from(p);
    if (r->state == ST_BODY)
        return reader__trailer(r, n);
    if (r->in_value && reader__commit_header(r) != 0)
        return -1;
    if (r->field.len == 0 && r->req.header_count >= r->lim.max_headers)
        return reader__fail(r, IOTC_ERR_TOO_LARGE, "too many headers");
    return reader__append(r, &r->field, at, n);
}

static int reader__on_header_value(http_parser *p, const char *at, size_t n)
{
    struct iotc_http_reader *r = reader__from(p);
    if (r->state == ST_BODY)
        return reader__trailer(r, n);
    r->in_value = true;
    return reader__append(r, &r->value, at, n);
}

/* Splits the raw target into the decoded path and the raw query. */
static int reader__split_target(struct iotc_http_reader *r)
{
    const char *t = r->req.target;
    size_t len = r->target.len;
    size_t path_off = 0, path_len = 0, q_off = 0, q_len = 0;
    bool have_path = false, have_query = false;

    if (len > 0 && t[0] == '/') {
        path_len = strcspn(t, "?#");
        have_path = true;
        if (t[path_len] == '?') {
            q_off = path_len + 1;
            q_len = strcspn(t + q_off, "#");
            have_query = true;
        }
    } else if (len > 0 && t[0] != '*') {
        /* absolute-form (proxies); authority-form only goes with CONNECT */
        struct http_parser_url u;
        http_parser_url_init(&u);
        if (http_parser_parse_url(t, len, r->parser.method == HTTP_CONNECT, &u) == 0) {
            if (u.field_set & (1u << UF_PATH)) {
                path_off = u.field_data[UF_PATH].off;
                path_len = u.field_data[UF_PATH].len;
                have_path = true;
            }
            if (u.field_set & (1u << UF_QUERY)) {
                q_off = u.field_data[UF_QUERY].off;
                q_len = u.field_data[UF_QUERY].len;
                have_query = true;
            }
        }
    }
    if (have_query) {
        struct iotc_span q = {(const uint8_t *)t + q_off, q_len};
        r->req.query = iotc_span_strdup(q);
        if (!r->req.query)
            return reader__fail(r, IOTC_ERR_NOMEM, "out of memory");
    }
    if (have_path) {
        struct iotc_buf out = {0};
        int rc = iotc_url_decode(t + path_off, path_len, &out);
        if (rc == IOTC_OK && out.p == NULL)
            rc = iotc_buf_u8(&out, 0); /* empty path still gets a string */
        if (rc == IOTC_OK) {
            r->req.path = (char *)out.p;
        } else {
            iotc_buf_free(&out);
            if (rc == IOTC_ERR_NOMEM)
                return reader__fail(r, IOTC_ERR_NOMEM, "out of memory");
        }
    }
    return 0;
}

static int reader__on_headers_complete(http_parser *p)
{
    struct iotc_http_reader *r = reader__from(p);
    if (reader__commit_header(r) != 0)
        return -1;
    /* The target must be a C string: a NUL inside it cannot be represented. */
    if (r->target.len && memchr(r->target.p, 0, r->target.len))
        return reader__fail(r, IOTC_ERR_MALFORMED, "invalid request target");
    if (iotc_buf_u8(&r->target, 0) != IOTC_OK)
        return reader__fail(r, IOTC_ERR_NOMEM, "out of memory");
    r->target.len--;
    r->req.target = (char *)r->target.p;

    const char *m = http_method_str((enum http_method)p->method);
    size_t ml = strlen(m);
    if (ml >= sizeof r->req.method)
        ml = sizeof r->req.method - 1;
    memcpy(r->req.method, m, ml);
    r->req.method[ml] = '\0';
    r->req.http_major = p->http_major;
    r->req.http_minor = p->http_minor;
    r->req.keep_alive = http_should_keep_alive(p) != 0;
    r->req.upgrade = p->upgrade != 0;
    if (reader__split_target(r) != 0)
        return -1;
    r->req.head_complete = true;
    r->state = ST_BODY;

    if (p->http_major != 1)
        return reader__fail(r, IOTC_ERR_UNSUPPORTED, "unsupported HTTP version");
    /* A declared length over the limit is refused before any of the body is read. */
    if ((p->flags & F_CONTENTLENGTH) && p->content_length != ULLONG_MAX &&
        p->content_length > r->lim.max_body)
        return reader__fail(r, IOTC_ERR_TOO_LARGE, reader__body_too_large);
    return 0;
}

static int reader__on_body(http_parser *p, const char *at, size_t n)
{
    struct iotc_http_reader *r = reader__from(p);
    if (n > r->lim.max_body - r->req.body.len)
        return reader__fail(r, IOTC_ERR_TOO_LARGE, reader__body_too_large);
    return reader__append(r, &r->req.body, at, n);
}

static int reader__on_message_complete(http_parser *p)
{
    struct iotc_http_reader *r = reader__from(p);
    /* The body always ends in a NUL so text payloads can be used as strings. */
    if (iotc_buf_u8(&r->req.body, 0) != IOTC_OK)
        return reader__fail(r, IOTC_ERR_NOMEM, "out of memory");
    r->req.body.len--;
    r->req.upgrade = p->upgrade != 0;
    r->state = ST_DONE;
    /* Stop right after this message: the caller handles one request at a time. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings reader__settings = {
    .on_url = reader__on_url,
    .on_header_field = reader__on_header_field,
    .on_header_value = reader__on_header_value,
    .on_headers_complete = reader__on_headers_complete,
    .on_body = reader__on_body,
    .on_message_complete = reader__on_message_complete,
};

static void reader__start(struct iotc_http_reader *r)
{
    reader__clear_req(r);
    http_parser_init(&r->parser, HTTP_REQUEST);
    r->parser.data = r;
    r->state = ST_HEAD;
    r->in_value = false;
    r->head_bytes = 0;
    r->trailer_bytes = 0;
    r->err = IOTC_OK;
    r->reason = "";
}

struct iotc_http_reader *iotc_http_reader_new(const struct iotc_http_limits *limits)
{
    struct iotc_http_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->lim.max_header_bytes = IOTC_HTTP_DEFAULT_MAX_HEADER_BYTES;
    r->lim.max_headers = IOTC_HTTP_DEFAULT_MAX_HEADERS;
    r->lim.max_body = IOTC_HTTP_DEFAULT_MAX_BODY;
    if (limits) {
        if (limits->max_header_bytes)
            r->lim.max_header_bytes = limits->max_header_bytes;
        if (limits->max_headers)
            r->lim.max_headers = limits->max_headers;
        if (limits->max_body)
            r->lim.max_body = limits->max_body;
    }
    reader__start(r);
    return r;
}

void iotc_http_reader_free(struct iotc_http_reader *r)
{
    if (!r)
        return;
    reader__clear_req(r);
    free(r);
}

void iotc_http_reader_next(struct iotc_http_reader *r)
{
    reader__start(r);
}

const struct iotc_http_req *iotc_http_reader_request(const struct iotc_http_reader *r)
{
    return &r->req;
}

const char *iotc_http_reader_error(const struct iotc_http_reader *r)
{
    return r->reason ? r->reason : "";
}

bool iotc_http_reader_body_too_large(const struct iotc_http_reader *r)
{
    return r && r->state == ST_ERROR && r->reason == reader__body_too_large;
}

/*
 * The installed http-parser is built with HTTP_PARSER_STRICT=0, which accepts
 * request lines such as "GET / HTTX/1.1". Only the shape is checked here
 * (token SP target SP "HTTP/" DIGIT "." DIGIT); method and target characters
 * are still the parser's job.
 */
static bool reader__line_ok(const uint8_t *p, size_t n)
{
    if (n >= 1 && p[n - 1] == '\n')
        n--;
    if (n >= 1 && p[n - 1] == '\r')
        n--;
    static const char ver[] = " HTTP/";
    size_t vl = sizeof ver - 1;
    if (n < vl + 3 + 2)
        return false;
    const uint8_t *v = p + n - (vl + 3);
    if (memcmp(v, ver, vl) != 0 || v[vl + 1] != '.' || v[vl] < '0' || v[vl] > '9' ||
        v[vl + 2] < '0' || v[vl + 2] > '9')
        return false;
    size_t head = (size_t)(v - p); /* "METHOD SP target" */
    const uint8_t *sp = memchr(p, ' ', head);
    if (!sp || sp == p)
        return false;
    size_t tlen = head - (size_t)(sp - p) - 1;
    return tlen > 0 && memchr(sp + 1, ' ', tlen) == NULL && memchr(sp + 1, '\t', tlen) == NULL;
}

/* Collects the request line out of the bytes about to be parsed. */
static int reader__scan_line(struct iotc_http_reader *r, const uint8_t *p, size_t n)
{
    size_t i = 0;
    /* The parser skips empty lines before a request; so does the copy. */
    while (r->line.len == 0 && i < n && (p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i == n)
        return 0;
    const uint8_t *lf = memchr(p + i, '\n', n - i);
    size_t take = lf ? (size_t)(lf - (p + i)) + 1 : n - i;
    if (iotc_buf_append(&r->line, p + i, take) != IOTC_OK)
        return reader__fail(r, IOTC_ERR_NOMEM, "out of memory");
    if (!lf)
        return 0;
    r->line_done = true;
    return 0;
}

/* Maps a parser error to our code and a short reason. */
static int reader__parser_error(struct iotc_http_reader *r, enum http_errno e)
{
    switch (e) {
    case HPE_INVALID_METHOD:
        return reader__fail(r, IOTC_ERR_MALFORMED, "invalid method");
    case HPE_INVALID_URL:
    case HPE_INVALID_HOST:
    case HPE_INVALID_PORT:
    case HPE_INVALID_PATH:
    case HPE_INVALID_QUERY_STRING:
    case HPE_INVALID_FRAGMENT:
        return reader__fail(r, IOTC_ERR_MALFORMED, "invalid request target");
    case HPE_INVALID_VERSION:
        return reader__fail(r, IOTC_ERR_MALFORMED, "invalid HTTP version");
    case HPE_INVALID_HEADER_TOKEN:
        return reader__fail(r, IOTC_ERR_MALFORMED, "invalid header");
    case HPE_HEADER_OVERFLOW:
        return reader__fail(r, IOTC_ERR_TOO_LARGE, "header too large");
    case HPE_INVALID_CONTENT_LENGTH:
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        return reader__fail(r, IOTC_ERR_MALFORMED, "invalid content-length");
    case HPE_INVALID_TRANSFER_ENCODING:
        return reader__fail(r, IOTC_ERR_MALFORMED, "invalid transfer-encoding");
    case HPE_INVALID_CHUNK_SIZE:
        return reader__fail(r, IOTC_ERR_MALFORMED, "invalid chunk");
    case HPE_LF_EXPECTED:
    case HPE_STRICT:
    case HPE_INVALID_CONSTANT:
        return reader__fail(r, IOTC_ERR_MALFORMED, "malformed request");
    default:
        return reader__fail(r, IOTC_ERR_MALFORMED, "malformed request");
    }
}

int iotc_http_reader_feed(struct iotc_http_reader *r, const uint8_t *data, size_t len,
                          size_t *consumed)
{
    size_t off = 0;
    int rc = IOTC_ERR_AGAIN;

    if (r->state == ST_ERROR) {
        rc = r->err;
        goto cleanup;
    }
    if (r->state == ST_DONE) {
        rc = IOTC_ERR_INVALID;
        goto cleanup;
    }
    while (off < len) {
        size_t n = len - off;
        bool in_head = r->state == ST_HEAD;
        if (in_head) {
            /* Feed the head in slices that never pass the limit, so the parser
             * itself cannot read more header bytes than allowed. */
            size_t room = r->lim.max_header_bytes - r->head_bytes;
            if (room == 0) {
                reader__fail(r, IOTC_ERR_TOO_LARGE, "header too large");
                rc = r->err;
                goto cleanup;
            }
            if (n > room)
                n = room;
            if (!r->line_done && reader__scan_line(r, data + off, n) != 0) {
                rc = r->err;
                goto cleanup;
            }
        }
        bool check_line = r->line_done && !r->line_checked;
        size_t got =
            http_parser_execute(&r->parser, &reader__settings, (const char *)data + off, n);
        enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
        if (got > n)
            got = n; /* defensive: never report more than we handed over */
        off += got;
        if (in_head && r->state == ST_HEAD)
            r->head_bytes += got;
        /* After the parser, so its more precise reasons win; before looking at
         * the outcome, so a request with a bad line is never handed out. */
        if (check_line && (r->state == ST_ERROR || (e != HPE_OK && e != HPE_PAUSED)))
            check_line = false;
        if (check_line) {
            r->line_checked = true;
            if (!reader__line_ok(r->line.p, r->line.len)) {
                reader__fail(r, IOTC_ERR_MALFORMED, "malformed request line");
                rc = r->err;
                goto cleanup;
            }
        }
        if (r->state == ST_DONE) {
            rc = IOTC_OK;
            goto cleanup;
        }
        if (r->state == ST_ERROR || e != HPE_OK) {
            if (r->state != ST_ERROR)
                reader__parser_error(r, e);
            rc = r->err;
            goto cleanup;
        }
        if (got < n) {
            /* The parser stopped without saying why: treat as bad input. */
            reader__fail(r, IOTC_ERR_MALFORMED, "malformed request");
            rc = r->err;
            goto cleanup;
        }
    }
    if (r->state == ST_HEAD && r->head_bytes >= r->lim.max_header_bytes) {
        reader__fail(r, IOTC_ERR_TOO_LARGE, "header too large");
        rc = r->err;
    }
cleanup:
    if (consumed)
        *consumed = off;
    return rc;
}

const char *iotc_http_header_get(const struct iotc_http_req *q, const char *lower_name)
{
    for (size_t i = 0; i < q->header_count; i++)
        if (strcmp(q->headers[i].name, lower_name) == 0)
            return q->headers[i].value;
    return NULL;
}

size_t iotc_http_header_count(const struct iotc_http_req *q, const char *lower_name)
{
    size_t n = 0;
    for (size_t i = 0; i < q->header_count; i++)
        if (strcmp(q->headers[i].name, lower_name) == 0)
            n++;
    return n;
}
