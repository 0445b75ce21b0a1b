/* Small helpers shared by the drivers. */
#include "driver.h"

#include "client/dial.h"
#include "common/err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int iotc_drv_logical_port(const iotc_case *c)
{
    return c->client.port;
}

int iotc_drv_tcp(const iotc_env *env, const iotc_case *c, int timeout_ms, iotc_drv_out *out)
{
    return iotc_drv_tcp_to(env, c->af, iotc_drv_logical_port(c), timeout_ms, out);
}

int iotc_drv_tcp_to(const iotc_env *env, int af, int logical_port, int timeout_ms,
                    iotc_drv_out *out)
{
    /* Blocking socket + timeouts: one connection at a time, bounded at every step. */
    iotc_dial_opts d = {.host = iotc_env_addr(env, af),
                        .port = iotc_env_port(env, logical_port),
                        .family = af,
                        .numeric = 1,
                        .connect_timeout_ms = timeout_ms,
                        .io_timeout_ms = timeout_ms,
                        .nodelay = 1};
    int fd;
    iotc_errtext e = {0};

    if (iotc_client_dial(&d, &fd, &e) != IOTC_OK) {
        iotc_errtext_copy(&e, out->error, sizeof(out->error));
        return -1;
    }
    iotc_drv_add_port(out, fd);
    return fd;
}

void iotc_drv_add_port(iotc_drv_out *out, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int port = 0;

    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET)
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    iotc_drv_add_port_number(out, port);
}

void iotc_drv_add_port_number(iotc_drv_out *out, int port)
{
    if (port <= 0 || out->n_ports >= IOTC_DRV_MAX_PORTS)
        return;
    for (size_t i = 0; i < out->n_ports; i++)
        if (out->local_ports[i] == port)
            return;
    out->local_ports[out->n_ports++] = port;
}

int iotc_drv_timeout_ms(const iotc_case *c)
{
    return c->client.timeout_ms;
}

void iotc_drv_topic(const iotc_env *env, size_t idx, char *out, size_t len)
{
    snprintf(out, len, "iotc/%s/case/%zu", env->run_tag, idx);
}

void iotc_drv_pubspec(const iotc_env *env, const iotc_case *c, size_t idx, char *topic, size_t tlen,
                      char *payload, size_t plen, iotc_pubspec *ps)
{
    iotc_drv_topic(env, idx, topic, tlen);
    snprintf(payload, plen, "{\"case\":\"%s\"}", c->id);
    ps->topic = topic;
    ps->qos = c->client.qos;
    ps->retain = c->client.retain;
    ps->payload = c->client.payload ? c->client.payload : payload;
    ps->query = c->client.query;
    ps->headers = NULL;
}

void iotc_drv_client_id(const iotc_env *env, size_t idx, const char *role, const iotc_case *c,
                        char *out, size_t len)
{
    const char *fixed = c->client.client_id;
    if (fixed && strcmp(role, "pub") == 0) {
        snprintf(out, len, "%s", fixed);
        return;
    }
    snprintf(out, len, "iotc-%s-%zu-%s", env->run_tag, idx, role);
}

void iotc_drv_tls_opts(const iotc_env *env, const iotc_case *c, iotc_tlsc_opts *o, json_t **alpn)
{
    memset(o, 0, sizeof(*o));
    o->pki_dir = env->pki_dir;
    o->cert = c->client.cert;
    o->key = c->client.key;
    o->tls = c->tls;
    o->cipher = c->client.cipher;
    o->ciphersuites = c->client.ciphersuites;
    o->sigalgs = c->client.sigalgs;
    o->sni = iotc_tlsc_sni_for(c->client.sni, iotc_env_addr(env, c->af), env->endpoint);
    if (o->sni && json_is_string(json_object_get(env->domain_names, o->sni)))
        o->sni = json_string_value(json_object_get(env->domain_names, o->sni));
    *alpn = json_incref(c->client.alpn);
    o->alpn = *alpn;
    iotc_env_tls_files(env, o);
}
