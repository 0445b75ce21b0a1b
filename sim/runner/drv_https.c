/*
 * HTTPS publish proven end to end: an MQTT subscriber (libmosquitto) listens on
 * the case's unique topic, the publish goes out with libcurl (8443 and the 443
 * door) or the raw probe (443 + x-amzn-http-ca: libcurl cannot offer that ALPN
 * name), and the case observes both the HTTP answer and what the subscriber
 * received. On the door, SigV4 is libcurl's own signer (CURLOPT_AWS_SIGV4, an
 * implementation independent of the endpoint's verifier) unless the case needs
 * a date or a tampered signature only our signer can make.
 */
#include <curl/curl.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/clock.h"

#include "common/err.h"
#include "cases/door_auth_case.h"
#include "driver.h"

typedef struct https_curl {
    iotc_tlsc_state *st;
    char ca[1024];
    /* An ALPN list libcurl would not offer (anything but none or http/1.1): set on
     * the context with libcurl's own ALPN off, so the door's routing can be tested. */
    unsigned char alpn[256];
    int alpn_len;
    char *body;
    size_t len;
    char error_type[128]; /* x-amzn-ErrorType of the latest answer ("" when absent) */
} https_curl;

/* AWS names the error in x-amzn-ErrorType (e.g. "ThrottlingException" with a 429). */
static size_t https__header(char *ptr, size_t size, size_t nmemb, void *arg)
{
    https_curl *hc = arg;
    size_t n = size * nmemb;
    static const char name[] = "x-amzn-ErrorType:";
    if (n > sizeof(name) - 1 && strncasecmp(ptr, name, sizeof(name) - 1) == 0) {
        const char *v = ptr + sizeof(name) - 1;
        size_t vn = n - (sizeof(name) - 1);
        while (vn && (*v == ' ' || *v == '\t'))
            v++, vn--;
        while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
            vn--;
        snprintf(hc->error_type, sizeof(hc->error_type), "%.*s", (int)vn, v);
    }
    return n;
}

static size_t https__write(char *ptr, size_t size, size_t nmemb, void *arg)
{
    https_curl *hc = arg;
    size_t n = size * nmemb;
    if (hc->len + n > 65536)
        return 0; /* a publish answer is tiny; anything larger is a defect */
    char *b = realloc(hc->body, hc->len + n + 1);
    if (!b)
        return 0;
    memcpy(b + hc->len, ptr, n);
    hc->body = b;
    hc->len += n;
    b[hc->len] = '\0';
    return n;
}

/* libcurl builds its own context; hook ours in: alerts, SNI override, level 0. */
static CURLcode https__ssl_ctx(CURL *curl, void *sslctx, void *arg)
{
    https_curl *hc = arg;
    (void)curl;
    iotc_tlsc_hook(sslctx, hc->st);
    /* Peer verification is off (judged after the fact), so curl loads no CA:
     * load it here so SSL_get_verify_result() means something. */
    SSL_CTX_load_verify_locations(sslctx, hc->ca, NULL);
    if (hc->alpn_len > 0 && SSL_CTX_set_alpn_protos(sslctx, hc->alpn, (unsigned)hc->alpn_len) != 0)
        return CURLE_SSL_CIPHER;
    return CURLE_OK;
}

static void https__urlencode(CURL *h, const char *in, char *out, size_t len)
{
    char *e = curl_easy_escape(h, in, 0);
    snprintf(out, len, "%s", e ? e : "");
    curl_free(e);
}

/* Door credentials for libcurl: its SigV4 signer, or headers/query we build. */
static int https__door_auth(CURL *h, const iotc_door_auth *da, const char *path,
                            const iotc_pubspec *ps, const char *query, struct curl_slist **hdrs,
                            char *url, size_t urllen, iotc_drv_out *out)
{
    struct iotc_buf q = {0}, hb = {0};
    char provider[256], userpwd[sizeof(da->access_key) + sizeof(da->secret)], host[300];
    int rc = IOTC_OK;

    if (da->kind == IOTC_DA_SIGV4 && !da->own_signer) {
        snprintf(provider, sizeof(provider), "aws:amz:%s:%s", da->region, da->service);
        snprintf(userpwd, sizeof(userpwd), "%s:%s", da->access_key, da->secret);
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, provider);
        curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
        if (da->token[0]) {
            /* libcurl 7.88 has no token field; a header it sees is signed with the rest. */
            char line[sizeof(da->token) + 32];
            snprintf(line, sizeof(line), "x-amz-security-token: %s", da->token);
            *hdrs = curl_slist_append(*hdrs, line);
        }
        return IOTC_OK;
    }
    if (da->kind == IOTC_DA_NONE)
        return IOTC_OK;
    {
        /* The Host header libcurl will send: endpoint:port. */
        const char *p = strstr(url, "://");
        size_t n = p ? strcspn(p + 3, "/") : 0;
        snprintf(host, sizeof(host), "%.*s", (int)n, p ? p + 3 : "");
    }
    iotc_sigv4c_param params[2];
    size_t n_params = 0;
    char qos[8];
    snprintf(qos, sizeof(qos), "%d", ps->qos);
    if (!ps->query) {
        params[n_params++] = (iotc_sigv4c_param){"qos", qos};
        if (ps->retain)
            params[n_params++] = (iotc_sigv4c_param){"retain", "true"};
    }
    iotc_door_req r = {"POST", path, host, params, n_params, ps->payload, strlen(ps->payload),
                       0,      0};
    if (ps->query && da->kind == IOTC_DA_SIGV4) {
        snprintf(out->error, sizeof(out->error), "client.query cannot be signed by the own signer");
        return IOTC_ERR_CONFIG;
    }
    iotc_errtext e = {0};
    rc = iotc_door_auth_http(da, &r, &q, &hb, &e);
    iotc_errtext_copy(&e, out->error, sizeof(out->error));
    if (rc != IOTC_OK)
        goto cleanup;
    if (q.len) {
        size_t used = strlen(url);
        snprintf(url + used, urllen - used, "%s%s", query[0] ? "&" : "?", (char *)q.p);
    }
    for (char *line = hb.len ? (char *)hb.p : NULL; line && *line;) {
        char *end = strstr(line, "\r\n");
        if (!end)
            break;
        *end = '\0';
        *hdrs = curl_slist_append(*hdrs, line);
        line = end + 2;
    }
cleanup:
    iotc_buf_free(&q);
    iotc_buf_free(&hb);
    return rc;
}

/* Sends the case's client.repeat publishes (one unless a quota case asks for more) and
 * keeps the answer that matters: the first refusal, else the last success. Counts go
 * under observed.steps.http (accepted, throttled, other, connections, error_type, ms). */
static CURLcode https__perform_all(CURL *h, const iotc_case *c, https_curl *hc, long *status,
                                   iotc_drv_out *out)
{
    int n = c->client.repeat < 1 ? 1 : c->client.repeat > 1000 ? 1000 : c->client.repeat;
    long accepted = 0, throttled = 0, other = 0, conns = 0;
    char first_type[128] = "";
    char *kept = NULL;
    CURLcode cc = CURLE_OK;
    int64_t t0 = iotc_clock_ms();

    *status = 0;
    for (int i = 0; i < n; i++) {
        long st = 0, nc = 0;
        free(hc->body);
        hc->body = NULL;
        hc->len = 0;
        hc->error_type[0] = '\0';
        cc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nc);
        conns += nc;
        if (st == 0)
            break; /* no answer at all: the transport error is the observation */
        if (st >= 200 && st < 300)
            accepted++;
        else if (st == 429)
            throttled++;
        else
            other++;
        /* The first refusal is the case's answer; until there is one, the latest success. */
        if (*status == 0 || (*status >= 200 && *status < 300)) {
            *status = st;
            free(kept);
            kept = hc->body;
            hc->body = NULL;
            if (st >= 300)
                snprintf(first_type, sizeof(first_type), "%s", hc->error_type);
        }
        if (cc != CURLE_OK)
            break; /* an answer cut short (a status, then a timeout): kept, not repeated */
    }
    free(hc->body);
    hc->body = kept;
    hc->len = kept ? strlen(kept) : 0;
    if (c->client.repeat > 1) {
        json_t *steps = json_object_get(out->observed, "steps");
        if (!steps)
            json_object_set_new(out->observed, "steps", steps = json_object());
        json_object_set_new(steps, "http",
                            json_pack("{s:I, s:I, s:I, s:I, s:s?, s:I}", "accepted",
                                      (json_int_t)accepted, "throttled", (json_int_t)throttled,
                                      "other", (json_int_t)other, "connections", (json_int_t)conns,
                                      "error_type", first_type[0] ? first_type : NULL, "ms",
                                      (json_int_t)(iotc_clock_ms() - t0)));
    }
    return cc;
}

static int https__curl(const iotc_env *env, const iotc_case *c, const iotc_pubspec *ps,
                       iotc_drv_out *out)
{
    iotc_tlsc_opts o;
    iotc_tlsc_state st;
    json_t *alpn = NULL;
    https_curl hc;
    CURL *h = NULL;
    struct curl_slist *resolve = NULL, *hdrs = NULL;
    char url[4096], enc[600], query[256], res[160], cert[1024], key[1024], errbuf[CURL_ERROR_SIZE];
    char upath[700];
    int port = iotc_env_port(env, iotc_drv_logical_port(c));
    int door = c->row->auth != IOTC_AUTH_X509;
    iotc_door_auth da;
    long status = 0, lport = 0;
    int rc = IOTC_ERR_IO;
    CURLcode cc;

    memset(&hc, 0, sizeof(hc));
    iotc_errtext e = {0};
    if (iotc_door_auth_resolve(env, c, &da, &e) != IOTC_OK) {
        iotc_errtext_copy(&e, out->error, sizeof(out->error));
        return IOTC_ERR_CONFIG;
    }
    iotc_drv_tls_opts(env, c, &o, &alpn);
    if (json_array_size(alpn) > 1 ||
        (json_array_size(alpn) == 1 &&
         strcmp(json_string_value(json_array_get(alpn, 0)), "http/1.1") != 0)) {
        hc.alpn_len = iotc_tlsc_alpn_wire(alpn, hc.alpn, sizeof(hc.alpn));
        if (hc.alpn_len <= 0) {
            snprintf(out->error, sizeof(out->error), "invalid ALPN list");
            rc = IOTC_ERR_CONFIG;
            goto cleanup;
        }
    }
    {
        /* Validates the options exactly as the probe would; st is reset below. */
        SSL_CTX *check = iotc_tlsc_ctx_new(&o, &st, &e);
        if (!check) {
            iotc_errtext_copy(&e, out->error, sizeof(out->error));
            rc = IOTC_ERR_CONFIG;
            goto cleanup;
        }
        SSL_CTX_free(check);
    }
    iotc_tlsc_state_init(&st, o.sni);
    st.observe_into = out->observed;
    hc.st = &st;
    iotc_tlsc_files(&o, hc.ca, cert, key, sizeof(hc.ca));

    h = curl_easy_init();
    if (!h) {
        snprintf(out->error, sizeof(out->error), "curl_easy_init failed");
        goto cleanup;
    }
    if (door) {
        /* Slashes stay literal: libcurl 7.88 signs the path as written, while
         * SigV4 (and the endpoint) encode it once more; with only unreserved
         * characters and '/' both agree. */
        if (iotc_sigv4c_encode(ps->topic, 1, enc, sizeof(enc)) != IOTC_OK) {
            snprintf(out->error, sizeof(out->error), "topic too long");
            goto cleanup;
        }
    } else {
        https__urlencode(h, ps->topic, enc, sizeof(enc));
    }
    if (ps->query)
        snprintf(query, sizeof(query), "%s", ps->query);
    else
        snprintf(query, sizeof(query), "qos=%d%s", ps->qos, ps->retain ? "&retain=true" : "");
    snprintf(upath, sizeof(upath), "/topics/%s", enc);
    snprintf(url, sizeof(url), "https://%s:%d%s?%s", env->endpoint, port, upath, query);
    /* The URL keeps the endpoint name (Host header); RESOLVE picks the family. */
    snprintf(res, sizeof(res), c->af == AF_INET6 ? "%s:%d:[%s]" : "%s:%d:%s", env->endpoint, port,
             iotc_env_addr(env, c->af));
    resolve = curl_slist_append(NULL, res);
    hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    /* MQTT 5 properties the AWS way (x-amz-mqtt5-*): sent, and signed by SigV4 like any
     * header libcurl sees. */
    for (const char *line = ps->headers; line && *line;) {
        const char *end = strstr(line, "\r\n");
        char one[1024];
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (n >= sizeof(one)) {
            snprintf(out->error, sizeof(out->error), "header line too long");
            rc = IOTC_ERR_CONFIG;
            goto cleanup;
        }
        memcpy(one, line, n);
        one[n] = '\0';
        hdrs = curl_slist_append(hdrs, one);
        line = end ? end + 2 : line + n;
    }
    rc = https__door_auth(h, &da, upath, ps, query, &hdrs, url, sizeof(url), out);
    if (rc != IOTC_OK)
        goto cleanup;
    rc = IOTC_ERR_IO;
    errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, iotc_door_auth_sent_body(&da, ps->payload));
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_SSL_ENABLE_ALPN, json_array_size(alpn) && !hc.alpn_len ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    /* One connection per request unless the case publishes over one kept-alive connection. */
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, c->client.keep_alive ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, https__header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hc);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)iotc_drv_timeout_ms(c));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, https__write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &hc);
    curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, https__ssl_ctx);
    curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, &hc);
    curl_easy_setopt(h, CURLOPT_CAINFO, hc.ca);
    if (cert[0]) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, key);
    }
    if (o.cipher)
        curl_easy_setopt(h, CURLOPT_SSL_CIPHER_LIST, o.cipher);
    if (o.ciphersuites)
        curl_easy_setopt(h, CURLOPT_TLS13_CIPHERS, o.ciphersuites);
    if (o.tls && strcmp(o.tls, "1.2") == 0)
        curl_easy_setopt(h, CURLOPT_SSLVERSION,
                         (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
    else if (o.tls && strcmp(o.tls, "1.3") == 0)
        curl_easy_setopt(h, CURLOPT_SSLVERSION,
                         (long)(CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3));
    else if (o.tls && strcmp(o.tls, "1.1") == 0)
        curl_easy_setopt(h, CURLOPT_SSLVERSION,
                         (long)(CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1));
    else if (o.tls && strcmp(o.tls, "1.0") == 0)
        curl_easy_setopt(h, CURLOPT_SSLVERSION,
                         (long)(CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_0));

    cc = https__perform_all(h, c, &hc, &status, out);
    curl_easy_getinfo(h, CURLINFO_LOCAL_PORT, &lport);
    iotc_drv_add_port_number(out, (int)lport);
    iotc_drv_add_port_number(out, st.local_port);
    if (cc == CURLE_COULDNT_CONNECT) {
        snprintf(out->error, sizeof(out->error), "libcurl: %s", errbuf[0] ? errbuf : "connect");
        goto cleanup;
    }
    if (status > 0) {
        st.app_data_seen = 1;
        json_object_set_new(out->observed, "http_status", json_integer(status));
        json_t *jb = hc.body ? json_loads(hc.body, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
        json_object_set_new(out->observed, "http_body",
                            jb ? jb : json_string(hc.body ? hc.body : ""));
    } else if (cc != CURLE_OK) {
        json_object_set_new(out->observed, "transport_error", json_string(errbuf));
    }
    json_object_set_new(out->observed, "connect",
                        json_string(status >= 200 && status < 300 ? "accepted" : "refused"));
    iotc_tlsc_observe_state(&st, st.handshake_done, out->observed);
    rc = IOTC_OK;
cleanup:
    if (h)
        curl_easy_cleanup(h);
    curl_slist_free_all(resolve);
    curl_slist_free_all(hdrs);
    free(hc.body);
    json_decref(alpn);
    ERR_clear_error();
    return rc;
}

int iotc_drv_https_door(const iotc_env *env, const iotc_case *c, const iotc_pubspec *ps,
                        iotc_drv_out *out)
{
    return https__curl(env, c, ps, out);
}

/* A subscriber only when the case judges delivery: refusals need none. */
static int https__wants_sub(const iotc_case *c)
{
    return c->expect.judges_delivery;
}

int iotc_drv_https(const iotc_env *env, const iotc_case *c, size_t idx, iotc_drv_out *out)
{
    int retained_flow = c->client.action == IOTC_CASE_ACT_PUBLISH_THEN_SUBSCRIBE;
    int want_sub = https__wants_sub(c);
    int timeout = iotc_drv_timeout_ms(c);
    char topic[128], sub_id[128], payload[320], got[256];
    iotc_pubspec ps;
    iotc_sub *sub = NULL;
    int rc, qos = 0, retained = 0, received;
    long wait;

    if (c->row->proto != IOTC_PROTO_HTTPS) {
        snprintf(out->error, sizeof(out->error), "the https driver needs an HTTPS row");
        return IOTC_ERR_INVALID;
    }
    iotc_drv_pubspec(env, c, idx, topic, sizeof(topic), payload, sizeof(payload), &ps);
    iotc_drv_client_id(env, idx, "sub", c, sub_id, sizeof(sub_id));

    if (!retained_flow && want_sub) {
        sub = iotc_sub_open(env, c, topic, ps.qos > 1 ? 1 : ps.qos, sub_id, out);
        if (!sub)
            return IOTC_ERR_IO;
    }
    /* libcurl everywhere but 443 + x-amzn-http-ca, which it cannot offer. */
    if (c->row->auth == IOTC_AUTH_X509 && c->row->port == 443 && c->client.repeat <= 1)
        rc = iotc_drv_probe_ex(env, c, idx, &ps, out);
    else
        rc = https__curl(env, c, &ps, out);
    if (rc != IOTC_OK || !want_sub)
        goto cleanup;
    if (retained_flow) {
        sub = iotc_sub_open(env, c, topic, ps.qos > 1 ? 1 : ps.qos, sub_id, out);
        if (!sub) {
            rc = IOTC_ERR_IO;
            goto cleanup;
        }
    }
    wait = timeout;
    /* Local delivery takes milliseconds; absence is judged after half a second. */
    if (c->expect.delivered == 0 && wait > 500)
        wait = 500;
    received = iotc_sub_wait(sub, iotc_clock_ms() + wait, &qos, &retained, got, sizeof(got));
    json_object_set_new(out->observed, "delivered",
                        json_boolean(received && strcmp(got, ps.payload) == 0));
    json_object_set_new(out->observed, "retained", json_boolean(received && retained));
    if (received)
        json_object_set_new(out->observed, "delivered_qos", json_integer(qos));
cleanup:
    iotc_sub_close(sub);
    return rc;
}
