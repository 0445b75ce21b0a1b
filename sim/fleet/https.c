/*
 * HTTPS devices: each publish is POST /topics/<topic>?qos=N on libcurl multi, with
 * what the row presents set by https_auth.c.
 * A request that fails is retried with the row's backoff, so QoS 1 over HTTPS
 * is at least once too; the row's MQTT monitor counts what arrived.
 */
#include "fleet_int.h"
#include "common/err.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static size_t https__discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
    return size * nmemb;
}

/* libcurl only offers the ALPN names it knows: the row's name goes in here, with
 * curl's own ALPN off so it does not expect h2 or http/1.1 back. */
static CURLcode https__ssl_ctx(CURL *curl, void *sslctx, void *arg)
{
    const struct iotc_fleet_dev *d = arg;
    const char *alpn = d->row->def->alpn;
    if (alpn) {
        unsigned char wire[64];
        size_t n = strlen(alpn);
        wire[0] = (unsigned char)n;
        memcpy(wire + 1, alpn, n);
        if (SSL_CTX_set_alpn_protos(sslctx, wire, (unsigned)n + 1) != 0)
            return CURLE_SSL_CONNECT_ERROR;
    }
    return CURLE_OK;
}

/* Binds before connect so the source port is known in time to address a fault. */
static int https__sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
    struct iotc_fleet_dev *d = arg;
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof ss;
    if (purpose != CURLSOCKTYPE_IPCXN || !iotc_fleet_proxy_for(d->fl, d->row->def->port))
        return CURL_SOCKOPT_OK;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return CURL_SOCKOPT_OK;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_port = 0;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_port = 0;
        in6->sin6_addr = in6addr_loopback;
        len = sizeof *in6;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0)
        return CURL_SOCKOPT_OK;
    len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        d->local_port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                                : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    if (iotc_fleet_dev_fault_active(d))
        iotc_fleet_dev_apply_fault(d);
    return CURL_SOCKOPT_OK;
}

int iotc_fleet_https_dev_init(struct iotc_fleet_dev *d)
{
    struct iotc_fleet *fl = d->fl;
    struct iotc_fleet_target *t = &fl->spec->target;
    int li = d->row->def->port == 8443 ? 1 : 2;
    int port = fl->conn_port[li];
    char url[1024], resolve[300];
    d->easy = curl_easy_init();
    if (!d->easy)
        return IOTC_ERR_NOMEM;
    /* SigV4: libcurl 7.88 signs the path as written, and the verifier encodes it once more
     * (AWS's rule), so "%2F" would be signed differently on each side: slashes stay literal,
     * which the endpoint reads as the same topic. */
    char *esc =
        d->row->def->auth == IOTC_AUTH_SIGV4 ? NULL : curl_easy_escape(d->easy, d->topic, 0);
    if (d->row->def->auth != IOTC_AUTH_SIGV4 && !esc)
        return IOTC_ERR_NOMEM;
    snprintf(url, sizeof url, "https://%s:%d/topics/%s?qos=%lld", t->sni, port,
             esc ? esc : d->topic, d->row->b.qos);
    curl_free(esc);
    snprintf(resolve, sizeof resolve, "%s:%d:%s", t->sni, port, fl->conn_host);
    struct curl_slist *res = curl_slist_append(NULL, resolve);
    if (!res)
        return IOTC_ERR_NOMEM;
    /* The list must outlive the handle's first transfer: kept until the fleet ends. */
    d->resolve = res;
    CURL *e = d->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_RESOLVE, res); /* copied into the DNS cache at first use */
    curl_easy_setopt(e, CURLOPT_PRIVATE, d);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_CAINFO, t->ca);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_SSL_ENABLE_ALPN, d->row->def->alpn ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, https__ssl_ctx);
    curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, d);
    curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, https__sockopt);
    curl_easy_setopt(e, CURLOPT_SOCKOPTDATA, d);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)d->row->b.request_timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)d->row->b.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, https__discard);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    return iotc_fleet_https_auth(d, e);
}

static void https__send(struct iotc_fleet_dev *d)
{
    struct iotc_fleet *fl = d->fl;
    struct iotc_fleet_pending *m = &d->q[0];
    size_t size = (size_t)d->row->b.payload_bytes;
    if (iotc_fleet_payload_fill(fl->payload, size, d->idx, m->seq, m->t_us) == 0)
        return;
    curl_easy_setopt(d->easy, CURLOPT_POSTFIELDSIZE, (long)size);
    curl_easy_setopt(d->easy, CURLOPT_COPYPOSTFIELDS, fl->payload);
    d->t_attempt_us = iotc_clock_us();
    if (curl_multi_add_handle(fl->multi, d->easy) != CURLM_OK)
        return;
    d->req_busy = true;
    fl->c.published_wire++;
    if (m->ever_sent)
        fl->c.republished++;
    m->ever_sent = true;
}

/* Sends the oldest unacknowledged message unless a request or a backoff is under way. */
void iotc_fleet_https_kick(struct iotc_fleet_dev *d)
{
    if (d->state == IOTC_FLEET_DEV_WAIT && evtimer_pending(d->tm, NULL))
        return;
    if (d->state == IOTC_FLEET_DEV_DONE || d->req_busy || d->q_len == 0)
        return;
    https__send(d);
}

void iotc_fleet_https_publish_tick(struct iotc_fleet_dev *d)
{
    struct iotc_fleet *fl = d->fl;
    struct iotc_fleet_ledger *l = &fl->ledger[d->idx];
    uint32_t seq = l->sent++;
    if (d->row->b.qos == 0)
        fl->c.qos0_sent++;
    else
        fl->c.qos1_sent++;
    if (!iotc_fleet_dev_enqueue(d, seq, iotc_clock_us()))
        return;
    iotc_fleet_https_kick(d);
}

static int https__cause(CURLcode r, long status)
{
    switch (r) {
    case CURLE_OK:
        return status == 200 ? IOTC_FLEET_CAUSE_NONE : IOTC_FLEET_CAUSE_HTTP_STATUS;
    case CURLE_OPERATION_TIMEDOUT:
        return IOTC_FLEET_CAUSE_HTTP_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
        return IOTC_FLEET_CAUSE_REFUSED;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
        return IOTC_FLEET_CAUSE_TLS;
    case CURLE_GOT_NOTHING:
        return IOTC_FLEET_CAUSE_CLOSED;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        return IOTC_FLEET_CAUSE_RESET;
    default:
        return IOTC_FLEET_CAUSE_SOCKET;
    }
}

void iotc_fleet_https_done(struct iotc_fleet_dev *d, CURLcode result)
{
    struct iotc_fleet *fl = d->fl;
    long status = 0;
    long connects = 0;
    curl_off_t tls_us = 0;
    d->req_busy = false;
    curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(d->easy, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(d->easy, CURLINFO_APPCONNECT_TIME_T, &tls_us);
    int cause = https__cause(result, status);
    if (cause == IOTC_FLEET_CAUSE_NONE) {
        fl->c.http_ok++;
        if (connects > 0 && tls_us > 0) {
            iotc_fleet_hist_add(&fl->connect_lat, (uint64_t)tls_us);
            fl->c.connects++;
        }
        if (!d->ever_up && ++fl->ever_up_n == fl->n_devs)
            fl->t_all_up_us = iotc_clock_us();
        else if (d->state != IOTC_FLEET_DEV_UP)
            fl->c.reconnects[d->down_cause]++;
        if (d->state != IOTC_FLEET_DEV_UP)
            fl->up_now++;
        d->ever_up = true;
        d->state = IOTC_FLEET_DEV_UP;
        d->attempt = 0;
        memmove(&d->q[0], &d->q[1], (d->q_len - 1) * sizeof d->q[0]);
        d->q_len--;
        fl->c.puback++;
        iotc_fleet_https_kick(d);
        return;
    }
    fl->c.http_fail++;
    if (d->state == IOTC_FLEET_DEV_UP) {
        fl->up_now--;
        fl->c.disconnects[cause]++;
        d->down_cause = (uint8_t)cause;
    } else {
        fl->c.connect_failures[cause]++;
    }
    d->last_cause = (uint8_t)cause;
    long long wait =
        fl->stopping ? -1 : iotc_fleet_backoff_delay(&d->row->b.backoff, ++d->attempt, &fl->rng);
    if (wait < 0) {
        d->state = IOTC_FLEET_DEV_DONE;
        return;
    }
    d->state = IOTC_FLEET_DEV_WAIT;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    evtimer_add(d->tm, &tv);
}
