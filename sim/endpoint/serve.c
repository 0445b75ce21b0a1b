/* `iotconform serve`: flags into iotc_endpoint_opts, the READY line, then the endpoint API. */
#include "endpoint.h"
#include "common/err.h"
#include "common/procstat.h"
#include "common/x509_cache.h"
#include "config/paths.h"
#include "config/profile.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    const char *device_time_scale; /* as given, for the workers' argv */
    bool no_packet_journal;
    const char *broker, *broker_ca, *broker_secret; /* remote broker (`iotconform broker`) */
    int workers;              /* serve --workers N (workers.h); 0: serve__workers_default */
    int worker_id;            /* > 0: started by a parent serve as its worker */
    double journal_t0;        /* the parent's journal clock origin */
    const char *takeover_map; /* the workers' shared state (wshared.h) */
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
        "                        disconnect_after_withheld_ms N (close N ms after a withheld\n"
        "                        PUBACK/SUBACK),\n"
        "                        session_present_zero, server_cert (server-untrusted|-wrongname|\n"
        "                        -expired|-large), send_bytes N / send_topic / send_qos\n"
        "  --device-time-scale F the devices' timers are multiplied by F and the endpoint's\n"
        "                        are not (certify --time-scale F): the per-client-ID CONNECT\n"
        "                        quota's second lasts F s (default: the profile's time_scale)\n"
        "  --broker tls://HOST:PORT  use a remote broker (`iotconform broker`) instead of\n"
        "                        starting mosquitto: TLS over TCP with the identity stamp\n"
        "  --broker-ca FILE      CA bundle for the broker's certificate (default: the PKI's)\n"
        "  --broker-secret FILE  the stamp secret the broker was given (required with --broker)\n"
        "  --workers N           front-door processes sharing the ports in front of one\n"
        "                        mosquitto, 1..%d (default: $IOTCONFORM_SERVE_WORKERS, else\n"
        "                        the CPUs serve may run on, at most %d; 1 with --broker)\n"
        "  -h, --help            this text\n",
        iotc_paths_pki_default(), IOTC_ENDPOINT_WORKERS_MAX, IOTC_ENDPOINT_WORKERS_MAX);
}

static char *serve__profile_path(const char *arg)
{
    char buf[4096];
    if (iotc_paths_profile(arg, buf, sizeof buf) != IOTC_OK)
        return NULL;
    return strdup(buf);
}

static int serve__parse_ports(const char *spec, int base, int *ports)
{
    if (base > 0) {
        if (base > 65533)
            return IOTC_ERR_INVALID;
        for (int i = 0; i < IOTC_PORT_COUNT; i++)
            ports[i] = base + i;
        return IOTC_OK;
    }
    if (!spec)
        return IOTC_OK;
    if (strcmp(spec, "0") == 0) {
        for (int i = 0; i < IOTC_PORT_COUNT; i++)
            ports[i] = 0;
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
        ports[idx] = real;
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
                                             {"device-time-scale", required_argument, NULL, 'D'},
                                             {"broker", required_argument, NULL, 'b'},
                                             {"broker-ca", required_argument, NULL, 'c'},
                                             {"broker-secret", required_argument, NULL, 's'},
                                             {"workers", required_argument, NULL, 'W'},
                                             {"worker-id", required_argument, NULL, 'I'},
                                             {"journal-t0", required_argument, NULL, 'T'},
                                             {"shared-state", required_argument, NULL, 'M'},
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
        case 'D': {
            char *end;
            double f = strtod(optarg, &end);
            if (*end || !(f > 0 && f <= 1000)) {
                fprintf(stderr, "iotconform serve: --device-time-scale: expected a number in "
                                "(0, 1000]\n");
                return 2;
            }
            o->device_time_scale = optarg;
            break;
        }
        case 'b':
            o->broker = optarg;
            break;
        case 'c':
            o->broker_ca = optarg;
            break;
        case 's':
            o->broker_secret = optarg;
            break;
        case 'W': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (end == optarg || *end || n < 1 || n > IOTC_ENDPOINT_WORKERS_MAX) {
                fprintf(stderr, "iotconform serve: --workers: expected 1..%d, got '%s'\n",
                        IOTC_ENDPOINT_WORKERS_MAX, optarg);
                return 2;
            }
            o->workers = (int)n;
            break;
        }
        case 'I': /* the next three are the parent's, for its workers only */
            o->worker_id = atoi(optarg);
            break;
        case 'T':
            o->journal_t0 = atof(optarg);
            break;
        case 'M':
            o->takeover_map = optarg;
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

static void serve__on_ready(iotc_endpoint *ep, void *arg)
{
    const struct serve_opts *o = arg;
    json_t *ready = iotc_endpoint_ready_json(ep);
    char *line = ready ? json_dumps(ready, JSON_COMPACT) : NULL;
    if (line) {
        printf("IOTCONFORM_READY %s\n", line);
        fflush(stdout);
        if (o->ready_file) {
            FILE *f = fopen(o->ready_file, "w");
            if (f) {
                fprintf(f, "%s\n", line);
                fclose(f);
            }
        }
    }
    free(line);
    json_decref(ready);
}

/* The flags every worker shares with its parent; workers.c adds its own. */
static void serve__worker_argv(const struct serve_opts *o, const char *profile,
                               const char *registry, const char *pki, char **argv)
{
    int a = 0;
    argv[a++] = "iotconform";
    argv[a++] = "serve";
    argv[a++] = "--profile";
    argv[a++] = (char *)profile;
    argv[a++] = "--registry";
    argv[a++] = (char *)registry;
    argv[a++] = "--pki";
    argv[a++] = (char *)pki;
    if (o->no_packet_journal)
        argv[a++] = "--no-packet-journal";
    if (o->scenario) {
        argv[a++] = "--scenario";
        argv[a++] = (char *)o->scenario;
    }
    if (o->device_time_scale) {
        argv[a++] = "--device-time-scale";
        argv[a++] = (char *)o->device_time_scale;
    }
    argv[a] = NULL;
}

/* Without --workers: $IOTCONFORM_SERVE_WORKERS, else a front door per CPU this process may
 * run on (issue 13), so a device's TLS and MQTT work is not held to one core. -1: the
 * variable is not a count (refused rather than quietly read as some other number). */
static int serve__workers_default(void)
{
    const char *env = getenv("IOTCONFORM_SERVE_WORKERS");
    if (env && *env) {
        char *end;
        long n = strtol(env, &end, 10);
        return *end || n < 1 || n > IOTC_ENDPOINT_WORKERS_MAX ? -1 : (int)n;
    }
    int n = iotc_ncpu();
    return n > IOTC_ENDPOINT_WORKERS_MAX ? IOTC_ENDPOINT_WORKERS_MAX : n;
}

/* Parsed device certificates kept (~3 KB each); more devices only re-parse more often. */
#define SERVE_X509_CACHE_SLOTS 4096

int iotc_serve_main(int argc, char **argv)
{
    struct serve_opts o = {.profile = "default"};
    int prc = serve__parse_args(argc, argv, &o);
    if (prc)
        return prc == 1 ? 0 : 2;
    iotc_errtext err;
    iotc_errtext_clear(&err);
    char *profile_path = serve__profile_path(o.profile);
    int rc = 1;
    const char *pki = iotc_paths_pki(o.pki, &err);
    iotc_endpoint *ep = NULL;
    iotc_endpoint_opts eo;
    iotc_endpoint_opts_init(&eo);
    eo.profile_path = profile_path;
    eo.registry_path = o.registry ? o.registry : iotc_paths_registry();
    eo.pki_dir = pki;
    eo.journal_path = o.journal;
    eo.no_packet_journal = o.no_packet_journal;
    eo.run_dir = o.run_dir;
    eo.scenario = o.scenario;
    eo.device_time_scale = o.device_time_scale ? strtod(o.device_time_scale, NULL) : 0;
    eo.broker_url = o.broker;
    eo.broker_ca = o.broker_ca;
    eo.broker_secret_file = o.broker_secret;
    eo.stop_on_signals = true;
    eo.on_ready = serve__on_ready;
    eo.arg = &o;
    char *worker_argv[16];
    if (o.worker_id > 0) {
        eo.worker_id = o.worker_id;
        eo.journal_t0 = o.journal_t0;
        eo.takeover_map = o.takeover_map;
        o.ready_file = NULL; /* the parent writes it once every worker listens */
    } else {
        /* The default is for serve's own broker: workers reach it over its unix socket,
         * and with a shared remote broker scaling is more serves (doors), one process each
         * (workers.c refuses --workers N > 1 with --broker). */
        eo.workers = o.workers ? o.workers : o.broker ? 1 : serve__workers_default();
        serve__worker_argv(&o, profile_path, eo.registry_path, pki, worker_argv);
        eo.worker_argv = worker_argv;
        if (eo.workers < 0) {
            fprintf(stderr, "iotconform serve: IOTCONFORM_SERVE_WORKERS: expected 1..%d\n",
                    IOTC_ENDPOINT_WORKERS_MAX);
            rc = 2;
            goto cleanup;
        }
    }

    serve__raise_fd_limit();
    /* Devices reconnect with the same certificate: parse it once (common/x509_cache.h). */
    iotc_x509_cache_enable(SERVE_X509_CACHE_SLOTS);
    if (!pki || !profile_path) {
        fprintf(stderr, "iotconform serve: %s\n", pki ? "profile path too long" : err.msg);
        goto cleanup;
    }
    if (serve__parse_ports(o.ports, o.port_base, eo.ports)) {
        fprintf(stderr, "iotconform serve: --ports: expected 0 or 8883=N,8443=N,443=N\n");
        rc = 2;
        goto cleanup;
    }
    int orc = iotc_endpoint_open(&eo, &ep, &err);
    if (orc != IOTC_OK) {
        fprintf(stderr, "iotconform serve: %s\n", err.msg);
        rc = orc == IOTC_ERR_CONFIG ? 2 : 1; /* a wrong profile, registry or run directory */
        goto cleanup;
    }
    if (iotc_endpoint_run(ep, &err) != IOTC_OK) {
        fprintf(stderr, "iotconform serve: %s\n", err.msg);
        goto cleanup;
    }
    rc = 0;

cleanup:
    iotc_endpoint_close(ep);
    iotc_x509_cache_disable();
    free(profile_path);
    return rc;
}
