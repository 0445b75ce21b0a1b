/* `iotconform serve`: load config, start the broker, listen, run the loop. */
#include "endpoint.h"
#include "lifecycle.h"
#include "common/procstat.h"
#include "common/strmap.h"
#include "common/err.h"
#include "config/paths.h"

#include <errno.h>
#include <event2/thread.h>
#include <getopt.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

struct serve_opts {
    const char *profile;
    const char *registry;
    const char *pki;
    const char *journal;
    const char *run_dir;
    const char *ports;
    int port_base;
    const char *ready_file;
    const char *scenario;
    bool no_packet_journal;
};

static void serve__usage(FILE *out)
{
    fprintf(
        out,
        "usage: iotconform serve [options]\n"
        "\n"
        "Runs the emulated AWS IoT Core endpoint: MQTT on 8883, HTTPS on 8443, and 443 routed\n"
        "by ALPN (x-amzn-mqtt-ca, x-amzn-http-ca), on IPv4 and IPv6, with mosquitto behind it.\n"
        "When ready it prints one line:\n"
        "  IOTCONFORM_READY "
        "{\"ports\":{\"8883\":N,\"8443\":N,\"443\":N},\"journal\":PATH,\"pid\":N}\n"
        "\n"
        "options:\n"
        "  --profile NAME|FILE   endpoint profile (default: default; names are looked up in\n"
        "                        fixtures/profiles/NAME.json)\n"
        "  --registry FILE       registered CAs, certificates, things (default: "
        "fixtures/registry.json)\n"
        "  --pki DIR             test PKI (default: $IOTCONFORM_PKI, else %s)\n"
        "  --ports SPEC          real ports: 0 (all ephemeral) or 8883=N,8443=N,443=N\n"
        "                        (default: the profile's, normally the AWS numbers)\n"
        "  --port-base N         8883 -> N, 8443 -> N+1, 443 -> N+2\n"
        "  --journal FILE        JSON-lines journal (default: RUN_DIR/journal.jsonl; - = stderr)\n"
        "  --no-packet-journal   journal decisions only, not every PUBLISH/PUBACK (benchmarks)\n"
        "  --run-dir DIR         private directory for the broker socket and config\n"
        "                        (default: a new directory under $TMPDIR)\n"
        "  --ready-file FILE     also write the READY JSON to FILE\n"
        "  --scenario FILE|JSON  certification scenario: withhold_connack N, withhold_puback,\n"
        "                        withhold_suback, withhold_pingresp, disconnect_after_connack N,\n"
        "                        session_present_zero, server_cert (server-untrusted|-wrongname|\n"
        "                        -expired|-large), send_bytes N / send_topic / send_qos\n"
        "  -h, --help            this text\n",
        iotc_paths_pki_default());
}

static char *serve__profile_path(const char *arg)
{
    char buf[4096];
    if (iotc_paths_profile(arg, buf, sizeof buf) != IOTC_OK)
        return NULL;
    return strdup(buf);
}

static int serve__parse_ports(const char *spec, int base, struct iotc_profile *p)
{
    if (base > 0) {
        if (base > 65533)
            return IOTC_ERR_INVALID;
        for (int i = 0; i < IOTC_PORT_COUNT; i++)
            p->ports[i] = base + i;
        return IOTC_OK;
    }
    if (!spec)
        return IOTC_OK;
    if (strcmp(spec, "0") == 0) {
        for (int i = 0; i < IOTC_PORT_COUNT; i++)
            p->ports[i] = 0;
        return IOTC_OK;
    }
    char *copy = strdup(spec), *save = NULL;
    int rc = IOTC_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int lport, real;
        char extra;
        if (sscanf(tok, "%d=%d%c", &lport, &real, &extra) != 2 || real < 0 || real > 65535) {
            rc = IOTC_ERR_INVALID;
            break;
        }
        int idx = -1;
        for (int i = 0; i < IOTC_PORT_COUNT; i++)
            if (iotc_lport_number[i] == lport)
                idx = i;
        if (idx < 0) {
            rc = IOTC_ERR_INVALID;
            break;
        }
        p->ports[idx] = real;
    }
    free(copy);
    return rc;
}

/*
 * Each device costs two descriptors here (its TLS socket and its broker socket): take
 * the hard limit and say how many devices that allows, rather than failing accepts later.
 */
static void serve__raise_fd_limit(void)
{
    long limit = iotc_raise_nofile(NULL);
    if (limit >= 0 && limit < 4096)
        fprintf(stderr,
                "iotconform serve: descriptor limit %ld allows about %ld devices "
                "(raise it with ulimit -n)\n",
                limit, limit / 2);
}

static void serve__on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct iotc_endpoint *ep = arg;
    iotc_journal_emit(ep->journal, "endpoint.stop",
                      json_pack("{s:s}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
    event_base_loopexit(ep->base, NULL);
}

struct serve_state {
    struct iotc_endpoint *ep;
    struct serve_opts *o;
    bool listening;
    int rc;
    char journal_path[4096];
};

static void serve__on_broker_event(void *arg, const char *event, json_t *fields)
{
    struct serve_state *st = arg;
    iotc_journal_emit(st->ep->journal, event, json_incref(fields));
}

static void serve__on_broker_ready(void *arg)
{
    struct serve_state *st = arg;
    struct iotc_endpoint *ep = st->ep;
    iotc_lifecycle_broker_ready(ep->lifecycle);
    if (st->listening)
        return;
    char err[512];
    if (iotc_listeners_open(ep, err, sizeof err) != IOTC_OK) {
        fprintf(stderr, "iotconform serve: %s\n", err);
        st->rc = 1;
        event_base_loopexit(ep->base, NULL);
        return;
    }
    st->listening = true;
    json_t *ports = json_pack("{s:i, s:i, s:i}", "8883", ep->bound_port[IOTC_PORT_8883], "8443",
                              ep->bound_port[IOTC_PORT_8443], "443", ep->bound_port[IOTC_PORT_443]);
    json_t *ready = json_pack("{s:O, s:s, s:i, s:s, s:s, s:s}", "ports", ports, "journal",
                              st->journal_path, "pid", (int)getpid(), "profile", ep->profile.name,
                              "security_policy", ep->profile.policy_name, "pki", ep->pki_dir);
    iotc_journal_emit(ep->journal, "endpoint.ready",
                      json_pack("{s:O, s:s?}", "ports", ports, "scenario",
                                st->o->scenario ? ep->scenario.name : NULL));
    char *line = json_dumps(ready, JSON_COMPACT);
    printf("IOTCONFORM_READY %s\n", line);
    fflush(stdout);
    if (st->o->ready_file) {
        FILE *f = fopen(st->o->ready_file, "w");
        if (f) {
            fprintf(f, "%s\n", line);
            fclose(f);
        }
    }
    free(line);
    json_decref(ready);
    json_decref(ports);
}

static int serve__parse_args(int argc, char **argv, struct serve_opts *o)
{
    static const struct option longopts[] = {{"profile", required_argument, NULL, 'p'},
                                             {"registry", required_argument, NULL, 'r'},
                                             {"pki", required_argument, NULL, 'k'},
                                             {"journal", required_argument, NULL, 'j'},
                                             {"run-dir", required_argument, NULL, 'd'},
                                             {"ports", required_argument, NULL, 'P'},
                                             {"port-base", required_argument, NULL, 'B'},
                                             {"ready-file", required_argument, NULL, 'R'},
                                             {"no-packet-journal", no_argument, NULL, 'N'},
                                             {"scenario", required_argument, NULL, 'S'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            o->profile = optarg;
            break;
        case 'r':
            o->registry = optarg;
            break;
        case 'k':
            o->pki = optarg;
            break;
        case 'j':
            o->journal = optarg;
            break;
        case 'd':
            o->run_dir = optarg;
            break;
        case 'P':
            o->ports = optarg;
            break;
        case 'B':
            o->port_base = atoi(optarg);
            break;
        case 'R':
            o->ready_file = optarg;
            break;
        case 'N':
            o->no_packet_journal = true;
            break;
        case 'S':
            o->scenario = optarg;
            break;
        case 'h':
            serve__usage(stdout);
            return 1;
        default:
            serve__usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "iotconform serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return 0;
}

int iotc_serve_main(int argc, char **argv)
{
    struct serve_opts o = {.profile = "default"};
    int prc = serve__parse_args(argc, argv, &o);
    if (prc)
        return prc == 1 ? 0 : 2;
    struct iotc_endpoint ep = {0};
    struct serve_state st = {.ep = &ep, .o = &o};
    struct iotc_cfg_err cerr;
    char err[512];
    char *profile_path = serve__profile_path(o.profile);
    char run_tmpl[4096];
    int rc = 1;
    const char *pki = iotc_paths_pki(o.pki, err, sizeof err);
    ep.pki_dir = pki ? strdup(pki) : NULL;
    struct event *sigint = NULL, *sigterm = NULL;
    char broker_dir[64] = "";

    signal(SIGPIPE, SIG_IGN);
    serve__raise_fd_limit();
    if (!ep.pki_dir || !profile_path) {
        fprintf(stderr, "iotconform serve: %s\n", ep.pki_dir ? "profile path too long" : err);
        goto cleanup;
    }
    if (iotc_profile_load(profile_path, &ep.profile, &cerr)) {
        fprintf(stderr, "iotconform serve: %s\n", cerr.msg);
        goto cleanup;
    }
    if (serve__parse_ports(o.ports, o.port_base, &ep.profile)) {
        fprintf(stderr, "iotconform serve: --ports: expected 0 or 8883=N,8443=N,443=N\n");
        rc = 2;
        goto cleanup;
    }
    iotc_scenario_defaults(&ep.scenario);
    if (o.scenario && iotc_scenario_parse(o.scenario, &ep.scenario, &cerr)) {
        fprintf(stderr, "iotconform serve: %s\n", cerr.msg);
        goto cleanup;
    }
    if (iotc_registry_load(o.registry ? o.registry : iotc_paths_registry(), ep.pki_dir,
                           &ep.registry, &cerr)) {
        fprintf(stderr, "iotconform serve: %s\n", cerr.msg);
        goto cleanup;
    }
    if (o.run_dir) {
        ep.run_dir = strdup(o.run_dir);
        if (mkdir(ep.run_dir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "iotconform serve: cannot create %s: %s\n", ep.run_dir,
                    strerror(errno));
            goto cleanup;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(run_tmpl, sizeof run_tmpl, "%s/iotconform-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(run_tmpl)) {
            fprintf(stderr, "iotconform serve: cannot create a run directory: %s\n",
                    strerror(errno));
            goto cleanup;
        }
        ep.run_dir = strdup(run_tmpl);
    }
    if (o.journal)
        snprintf(st.journal_path, sizeof st.journal_path, "%s", o.journal);
    else
        snprintf(st.journal_path, sizeof st.journal_path, "%s/journal.jsonl", ep.run_dir);
    if (iotc_journal_open(st.journal_path, &ep.journal)) {
        fprintf(stderr, "iotconform serve: cannot open journal %s: %s\n", st.journal_path,
                strerror(errno));
        goto cleanup;
    }
    ep.journal_packets = !o.no_packet_journal;
    ep.ssl_idx = SSL_get_ex_new_index(0, "iotc_conn", NULL, NULL, NULL);
    if (iotc_tls_ctx_new(&ep, &ep.ctx, err, sizeof err)) {
        fprintf(stderr, "iotconform serve: %s\n", err);
        goto cleanup;
    }
    SSL_CTX_set_app_data(ep.ctx, &ep);
    ep.base = event_base_new();
    ep.sessions = iotc_strmap_new();
    ep.authz_cache = json_object();
    if (!ep.base || !ep.sessions || iotc_lifecycle_new(&ep, &ep.lifecycle) != IOTC_OK)
        goto cleanup;
    sigint = evsignal_new(ep.base, SIGINT, serve__on_signal, &ep);
    sigterm = evsignal_new(ep.base, SIGTERM, serve__on_signal, &ep);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);

    /* The broker's unix socket path must fit in 108 bytes: a long run directory gets a
     * short private sibling for the broker. */
    if (strlen(ep.run_dir) > 80) {
        snprintf(broker_dir, sizeof broker_dir, "/tmp/iotc-broker-XXXXXX");
        if (!mkdtemp(broker_dir)) {
            fprintf(stderr, "iotconform serve: cannot create a broker directory: %s\n",
                    strerror(errno));
            goto cleanup;
        }
    }
    struct iotc_broker_opts bo = {
        .run_dir = broker_dir[0] ? broker_dir : ep.run_dir,
        .mosquitto_bin = iotc_paths_mosquitto(),
        .plugin_path = iotc_paths_plugin(),
        .max_packet = 0,
        .on_event = serve__on_broker_event,
        .on_ready = serve__on_broker_ready,
        .arg = &st,
    };
    if (iotc_broker_start(ep.base, &bo, &ep.broker) != IOTC_OK) {
        fprintf(stderr, "iotconform serve: cannot start mosquitto (%s)\n", bo.mosquitto_bin);
        goto cleanup;
    }
    rc = 0;
    event_base_dispatch(ep.base);
    rc = st.rc;

cleanup:
    iotc_conn_close_all(&ep, "endpoint stopping");
    iotc_listeners_close(&ep);
    iotc_lifecycle_free(ep.lifecycle);
    iotc_strmap_free(ep.sessions);
    json_decref(ep.authz_cache);
    if (ep.broker)
        iotc_broker_stop(ep.broker);
    if (broker_dir[0])
        rmdir(broker_dir);
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    if (ep.base)
        event_base_free(ep.base);
    SSL_CTX_free(ep.ctx);
    iotc_registry_free(&ep.registry);
    iotc_profile_free(&ep.profile);
    iotc_scenario_free(&ep.scenario);
    iotc_journal_close(ep.journal);
    if (ep.run_dir && !o.run_dir)
        rmdir(ep.run_dir); /* only if empty: the journal stays for the user */
    free(ep.run_dir);
    free(ep.pki_dir);
    free(profile_path);
    return rc;
}
