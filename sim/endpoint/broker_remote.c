/* The endpoint's broker, local or remote (see broker_remote.h). */
#include "broker_remote.h"
#include "endpoint_fuzz.h"
#include "lifecycle.h"
#include "client/tls_ctx.h"
#include "common/err.h"
#include "common/stamp.h"
#include "config/paths.h"

#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REMOTE_TICK_MS 1000

struct iotc_broker_remote {
    char host[256];
    struct sockaddr_storage addr;
    socklen_t addrlen;
    SSL_CTX *ctx;
    uint8_t secret[IOTC_STAMP_SECRET_LEN];
    char system_id[96];
    char unix_path[108]; /* "unix:PATH": a sibling worker's broker (serve --workers) */
    struct event *tick;
    void (*ready)(void *arg);
};

bool iotc_ep_broker_ready(const struct iotc_endpoint *ep)
{
    /* A remote broker's state is learnt by connecting: a refused link fails the device's
     * connect like a crashed local broker does. */
    if (ep->fake_broker)
        return true;
    return ep->remote ? true : iotc_broker_is_ready(ep->broker);
}

const uint8_t *iotc_ep_broker_secret(const struct iotc_endpoint *ep)
{
    if (ep->fake_broker)
        return ep->fake_broker->secret;
    return ep->remote ? ep->remote->secret : iotc_broker_secret(ep->broker);
}

int iotc_ep_blink_open(struct iotc_endpoint *ep, const struct iotc_blink_cbs *cbs,
                       struct iotc_blink **out)
{
    if (ep->fake_broker)
        return ep->fake_broker->open(ep->fake_broker->arg, ep->base, cbs, out);
    struct iotc_broker_remote *r = ep->remote;
    if (!r)
        return iotc_blink_open(&ep->flushq, iotc_broker_socket_path(ep->broker), cbs, out);
    if (r->unix_path[0])
        return iotc_blink_open(&ep->flushq, r->unix_path, cbs, out);
    return iotc_blink_open_tls(ep->base, (const struct sockaddr *)&r->addr, r->addrlen, r->ctx,
                               r->host, cbs, out);
}

const char *iotc_ep_system_client_id(const struct iotc_endpoint *ep)
{
    return ep->remote ? ep->remote->system_id : IOTC_SYSTEM_CLIENT_ID;
}

/* "tls://HOST:PORT" or "tls://[V6]:PORT". */
static int remote__parse(const char *url, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *p = strncmp(url, "tls://", 6) == 0 ? url + 6 : NULL, *end;
    if (!p || !*p)
        return IOTC_ERR_INVALID;
    if (*p == '[') {
        end = strchr(p, ']');
        if (!end || end[1] != ':')
            return IOTC_ERR_INVALID;
        p++;
    } else {
        end = strrchr(p, ':');
        if (!end)
            return IOTC_ERR_INVALID;
    }
    size_t n = (size_t)(end - p);
    const char *ps = end + (*end == ']' ? 2 : 1);
    if (n == 0 || n >= hostlen || !*ps || strlen(ps) >= portlen ||
        strspn(ps, "0123456789") != strlen(ps) || atoi(ps) < 1 || atoi(ps) > 65535)
        return IOTC_ERR_INVALID;
    memcpy(host, p, n);
    host[n] = '\0';
    snprintf(port, portlen, "%s", ps);
    return IOTC_OK;
}

static void remote__on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_endpoint *ep = arg;
    ep->remote->ready(ep);
}

int iotc_ep_remote_open(struct iotc_endpoint *ep, const iotc_endpoint_opts *o,
                        void (*ready)(void *arg), iotc_errtext *err)
{
    char port[8], ca[1200];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    struct iotc_broker_remote *r = calloc(1, sizeof *r);
    if (!r)
        return IOTC_ERR_NOMEM;
    ep->remote = r;
    r->ready = ready;
    bool local = strncmp(o->broker_url, "unix:", 5) == 0;
    if (local && strlen(o->broker_url + 5) >= sizeof r->unix_path) {
        iotc_errtext_set(err, 0, "--broker %s: socket path too long", o->broker_url);
        return IOTC_ERR_INVALID;
    }
    if (local)
        snprintf(r->unix_path, sizeof r->unix_path, "%s", o->broker_url + 5);
    else if (remote__parse(o->broker_url, r->host, sizeof r->host, port, sizeof port) != IOTC_OK) {
        iotc_errtext_set(err, 0, "--broker %s: expected tls://HOST:PORT", o->broker_url);
        return IOTC_ERR_INVALID;
    }
    if (!o->broker_secret_file ||
        iotc_stamp_load_secret(o->broker_secret_file, r->secret) != IOTC_OK) {
        iotc_errtext_set(err, 0, "--broker needs --broker-secret FILE: the broker's %d-byte secret",
                         IOTC_STAMP_SECRET_LEN);
        return IOTC_ERR_INVALID;
    }
    if (local)
        goto system_id; /* a worker of the same serve: the parent's private unix socket */
    int gai = getaddrinfo(r->host, port, &hints, &res);
    if (gai != 0 || !res || res->ai_addrlen > sizeof r->addr) {
        iotc_errtext_set(err, 0, "--broker %s: %s", r->host,
                         gai ? gai_strerror(gai) : "no address");
        if (res)
            freeaddrinfo(res);
        return IOTC_ERR_NOT_FOUND;
    }
    memcpy(&r->addr, res->ai_addr, res->ai_addrlen);
    r->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    if (o->broker_ca)
        snprintf(ca, sizeof ca, "%s", o->broker_ca);
    else
        iotc_paths_pki_file(ca, sizeof ca, ep->pki_dir, IOTC_PKI_CA_BUNDLE, "");
    iotc_client_tls spec = {.ca_file = ca,
                            .min_version = TLS1_2_VERSION,
                            .security_level = -1,
                            .verify_peer = 1,
                            .flags = IOTC_CLIENT_TLS_RELEASE_BUFFERS};
    r->ctx = iotc_client_tls_ctx(&spec, err);
    if (!r->ctx)
        return iotc_errtext_prefix(err, IOTC_ERR_CRYPTO, "--broker: TLS client setup (CA %s)", ca);
system_id:;
    unsigned char rnd[6];
    char hn[40] = "";
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return IOTC_ERR_CRYPTO;
    gethostname(hn, sizeof hn - 1);
    hn[strcspn(hn, "./+#")] = '\0';
    snprintf(r->system_id, sizeof r->system_id, "%s-%s-%02x%02x%02x%02x%02x%02x",
             IOTC_SYSTEM_CLIENT_ID, hn, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    r->tick = event_new(ep->base, -1, EV_PERSIST, remote__on_tick, ep);
    struct timeval first = {0, 0}, every = {REMOTE_TICK_MS / 1000, 0};
    if (!r->tick || event_base_once(ep->base, -1, EV_TIMEOUT, remote__on_tick, ep, &first) ||
        event_add(r->tick, &every))
        return IOTC_ERR_NOMEM;
    return IOTC_OK;
}

void iotc_ep_remote_free(struct iotc_endpoint *ep)
{
    struct iotc_broker_remote *r = ep->remote;
    if (!r)
        return;
    if (r->tick)
        event_free(r->tick);
    SSL_CTX_free(r->ctx);
    OPENSSL_cleanse(r->secret, sizeof r->secret);
    free(r);
    ep->remote = NULL;
}
