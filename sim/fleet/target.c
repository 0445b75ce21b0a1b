/* Where the devices connect: an emulated endpoint started as our child (as the
 * runner does), or an external one from a target file; and the fault proxies
 * in front of it when the schedule has network faults. */
#include "fleet_int.h"
#include "common/err.h"
#include "config/paths.h"
#include "config/profile.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const int target__lports[3] = {8883, 8443, 443};

bool iotc_fleet_target_needs_proxy(const struct iotc_fleet_spec *s)
{
    if (s->proxy)
        return true;
    for (size_t i = 0; i < s->n_faults; i++)
        if (iotc_fault_is_network(s->faults[i].f.kind))
            return true;
    return false;
}

struct iotc_proxy *iotc_fleet_proxy_for(struct iotc_fleet *fl, int lport)
{
    for (int i = 0; i < 3; i++)
        if (target__lports[i] == lport)
            return fl->proxy[i];
    return NULL;
}

/* The profile's time scale: the devices' keep-alive follows the endpoint's clock. */
static int target__time_scale(const char *profile, double *out, iotc_errtext *err)
{
    iotc_errtext ce = {{0}};
    struct iotc_profile p;
    if (iotc_profile_load(profile, &p, &ce) != IOTC_OK) {
        return iotc_errtext_set(err, IOTC_ERR_CONFIG, "%s", ce.msg);
    }
    *out = p.time_scale;
    iotc_profile_free(&p);
    return IOTC_OK;
}

static int target__emulated(struct iotc_fleet *fl, const char *serve_bin, const char *pki,
                            iotc_errtext *err)
{
    struct iotc_fleet_target *t = &fl->spec->target;
    struct iotc_serve_child *c = &fl->serve;
    char dir[] = "/tmp/iotc-fleet-XXXXXX";
    int rc;
    memset(c, 0, sizeof *c);
    c->proc.pid = -1;
    c->proc.out_fd = -1;
    if (!mkdtemp(dir)) {
        return iotc_errtext_set(err, IOTC_ERR_IO, "cannot create a work directory under /tmp");
    }
    snprintf(c->bin, sizeof c->bin, "%s", serve_bin);
    snprintf(c->pki, sizeof c->pki, "%s", pki);
    if (iotc_paths_profile(t->profile, c->profile, sizeof c->profile) != IOTC_OK) {
        return iotc_errtext_set(err, IOTC_ERR_TOO_LARGE, "profile path too long: %s", t->profile);
    }
    snprintf(c->journal, sizeof c->journal, "%s/journal.jsonl", dir);
    snprintf(c->run_dir, sizeof c->run_dir, "%s/run", dir);
    snprintf(c->log, sizeof c->log, "%s/serve.log", dir);
    c->no_packet_journal = !t->packet_journal;
    if ((rc = target__time_scale(c->profile, &t->time_scale, err)))
        return rc;
    if ((rc = iotc_serve_child_start(c, 30000, err)))
        return rc;
    fl->have_serve = true;
    free(t->host);
    free(t->sni);
    free(t->ca);
    free(t->pki);
    char ca[1100];
    iotc_paths_pki_file(ca, sizeof ca, pki, IOTC_PKI_CA_BUNDLE, "");
    free(t->registry);
    t->host = strdup("127.0.0.1");
    t->sni = strdup("localhost");
    t->ca = strdup(ca);
    t->pki = strdup(pki);
    /* serve is started without --registry: it loads the same default. */
    t->registry = strdup(iotc_paths_registry());
    for (int i = 0; i < 3; i++)
        t->ports[i] = c->ports[i];
    if (!t->host || !t->sni || !t->ca || !t->pki || !t->registry)
        return IOTC_ERR_NOMEM;
    return IOTC_OK;
}

/* An external target may name its host (an AWS IoT Core endpoint, a Kubernetes Service):
 * it is resolved once, here, and every device connects to that one address (the devices
 * connect by address, many at a time, without a resolver on the loop). */
static int target__resolve(struct iotc_fleet_target *t, iotc_errtext *err)
{
    unsigned char probe[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, t->host, probe) == 1 || inet_pton(AF_INET6, t->host, probe) == 1)
        return IOTC_OK;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    char num[INET6_ADDRSTRLEN];
    int gai = getaddrinfo(t->host, NULL, &hints, &res);
    if (gai != 0 || !res ||
        getnameinfo(res->ai_addr, res->ai_addrlen, num, sizeof num, NULL, 0, NI_NUMERICHOST)) {
        iotc_errtext_set(err, 0, "target host %s: %s", t->host,
                         gai ? gai_strerror(gai) : "no address");
        if (res)
            freeaddrinfo(res);
        return IOTC_ERR_NOT_FOUND;
    }
    freeaddrinfo(res);
    char *dup = strdup(num);
    if (!dup)
        return IOTC_ERR_NOMEM;
    free(t->host);
    t->host = dup;
    return IOTC_OK;
}

int iotc_fleet_target_start_emulated(struct iotc_fleet *fl, const char *serve_bin,
                                     const char *pki_override, iotc_errtext *err)
{
    const char *pki = iotc_paths_pki(pki_override, err);
    return pki ? target__emulated(fl, serve_bin, pki, err) : IOTC_ERR_NOT_FOUND;
}

int iotc_fleet_target_start(struct iotc_fleet *fl, const char *serve_bin, const char *pki_override,
                            iotc_errtext *err)
{
    struct iotc_fleet_target *t = &fl->spec->target;
    int rc;
    if (t->kind == IOTC_FLEET_TARGET_EMULATED) {
        const char *pki = iotc_paths_pki(pki_override, err);
        rc = pki ? target__emulated(fl, serve_bin, pki, err) : IOTC_ERR_NOT_FOUND;
    } else {
        rc = iotc_fleet_target_load_external(t->ext_file, t, err);
        if (rc == IOTC_OK)
            rc = target__resolve(t, err);
        if (rc == IOTC_OK && pki_override) {
            free(t->pki);
            t->pki = strdup(pki_override);
        }
    }
    if (rc != IOTC_OK)
        return rc;
    bool proxy = iotc_fleet_target_needs_proxy(fl->spec);
    /* The proxies listen on loopback, whatever the endpoint's address. */
    fl->conn_host = proxy ? "127.0.0.1" : t->host;
    for (int i = 0; i < 3; i++) {
        fl->conn_port[i] = t->ports[i];
        if (!proxy || t->ports[i] <= 0)
            continue;
        rc = iotc_proxy_new(fl->base, t->host, t->ports[i], &fl->proxy[i]);
        if (rc != IOTC_OK) {
            iotc_errtext_set(err, 0, "fault proxy for port %d: %s", target__lports[i],
                             iotc_strerror(rc));
            return rc;
        }
        fl->conn_port[i] = iotc_proxy_port(fl->proxy[i]);
    }
    return IOTC_OK;
}

void iotc_fleet_target_stop(struct iotc_fleet *fl)
{
    for (int i = 0; i < 3; i++) {
        iotc_proxy_free(fl->proxy[i]);
        fl->proxy[i] = NULL;
    }
    if (fl->have_serve)
        iotc_serve_child_stop(&fl->serve, 10000);
    fl->have_serve = false;
}
