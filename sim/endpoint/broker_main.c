/*
 * `iotconform broker`: mosquitto with the identity-stamp plugin as a standalone service,
 * for front doors on other machines (`serve --broker tls://HOST:PORT`). The same
 * supervisor as inside `serve` (restarts, log pipe), plus a TLS listener on TCP; the
 * stamp secret comes from a file every front door also reads, so a front door is
 * stateless and any number of them can sit in front of this one broker. Prints
 *   IOTCONFORM_BROKER_READY {"port":N,"pid":N}
 * when mosquitto runs (again after a restart: one line per start).
 */
#include "endpoint.h"
#include "broker/broker.h"
#include "common/err.h"
#include "common/stamp.h"
#include "config/paths.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct bm {
    struct event_base *base;
    struct iotc_broker *broker;
    int port;
    FILE *ready_file;
};

static void bm__usage(FILE *out)
{
    fprintf(out,
            "usage: iotconform broker --secret-file FILE [options]\n"
            "\n"
            "Runs mosquitto with the identity-stamp plugin as a service for front doors on\n"
            "other machines (`iotconform serve --broker tls://HOST:PORT`): a TLS listener on\n"
            "TCP that accepts only CONNECTs stamped with the shared secret. Prints\n"
            "  IOTCONFORM_BROKER_READY {\"port\":N,\"pid\":N}\n"
            "\n"
            "options:\n"
            "  --secret-file FILE  the stamp secret, 32 bytes, mode 0600 (the front doors get\n"
            "                      the same file: head -c 32 /dev/urandom > secret)\n"
            "  --port N            TCP port (default 8884; 0: a free one, printed in READY)\n"
            "  --bind ADDR         listen address (default: every address)\n"
            "  --cert FILE         server certificate (default: the PKI's server-ec.crt)\n"
            "  --key FILE          its key (default: the PKI's server-ec.key)\n"
            "  --pki DIR           test PKI (default: as serve)\n"
            "  --run-dir DIR       private directory for mosquitto's config, socket and\n"
            "                      persistence (default: a new one under $TMPDIR)\n"
            "  -h, --help          this text\n");
}

/* mosquitto cannot report an ephemeral port: take a free one from the kernel first. */
static int bm__free_port(const char *bind_addr)
{
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
    struct sockaddr_in a4 = {.sin_family = AF_INET};
    bool v4 = bind_addr && inet_pton(AF_INET, bind_addr, &a4.sin_addr) == 1;
    int fd = socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
    if (fd < 0 && !v4 && !bind_addr) { /* no IPv6 here: any IPv4 port will do */
        v4 = true;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    }
    if (fd < 0)
        return -1;
    if (!v4 && bind_addr && inet_pton(AF_INET6, bind_addr, &a6.sin6_addr) != 1)
        a6.sin6_addr = in6addr_any;
    struct sockaddr *sa = v4 ? (struct sockaddr *)&a4 : (struct sockaddr *)&a6;
    socklen_t len = v4 ? sizeof a4 : sizeof a6;
    if (bind(fd, sa, len) == 0 && getsockname(fd, sa, &len) == 0)
        port = ntohs(v4 ? a4.sin_port : a6.sin6_port);
    close(fd);
    return port;
}

static void bm__on_ready(void *arg)
{
    struct bm *m = arg;
    printf("IOTCONFORM_BROKER_READY {\"port\":%d,\"pid\":%d}\n", m->port,
           (int)iotc_broker_pid(m->broker));
    fflush(stdout);
}

static void bm__on_event(void *arg, const char *event, json_t *fields)
{
    (void)arg;
    char *s = json_dumps(fields, JSON_COMPACT);
    fprintf(stderr, "broker: %s %s\n", event, s ? s : "");
    free(s);
}

static void bm__on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopexit(((struct bm *)arg)->base, NULL);
}

int iotc_broker_main(int argc, char **argv)
{
    static const struct option opts[] = {{"secret-file", required_argument, NULL, 's'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"bind", required_argument, NULL, 'b'},
                                         {"cert", required_argument, NULL, 'c'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"pki", required_argument, NULL, 'P'},
                                         {"run-dir", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *secret_file = NULL, *bind_addr = NULL, *cert = NULL, *key = NULL, *pki = NULL;
    const char *run_dir = NULL;
    int port = 8884, c, status = 2;
    char crt_buf[1200], key_buf[1200], dir_buf[256] = "";
    uint8_t secret[IOTC_STAMP_SECRET_LEN];
    struct bm m = {0};
    struct event *sig_int = NULL, *sig_term = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            secret_file = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        case 'b':
            bind_addr = optarg;
            break;
        case 'c':
            cert = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'P':
            pki = optarg;
            break;
        case 'r':
            run_dir = optarg;
            break;
        case 'h':
            bm__usage(stdout);
            return 0;
        default:
            bm__usage(stderr);
            return 2;
        }
    }
    if (optind != argc || !secret_file || port < 0 || port > 65535) {
        bm__usage(stderr);
        return 2;
    }
    if (iotc_stamp_load_secret(secret_file, secret) != IOTC_OK) {
        fprintf(stderr, "iotconform broker: %s: cannot read a %d-byte secret\n", secret_file,
                IOTC_STAMP_SECRET_LEN);
        return 2;
    }
    if (!cert || !key) {
        iotc_errtext pe = {0};
        const char *dir = iotc_paths_pki(pki, &pe);
        if (!dir) {
            fprintf(stderr, "iotconform broker: %s\n", pe.msg);
            return 2;
        }
        iotc_paths_pki_file(crt_buf, sizeof crt_buf, dir, "server-ec", ".crt");
        iotc_paths_pki_file(key_buf, sizeof key_buf, dir, "server-ec", ".key");
        cert = cert ? cert : crt_buf;
        key = key ? key : key_buf;
    }
    if (!run_dir) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir_buf, sizeof dir_buf, "%s/iotc-broker-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir_buf)) {
            fprintf(stderr, "iotconform broker: cannot create a run directory: %s\n",
                    strerror(errno));
            return 2;
        }
        run_dir = dir_buf;
    }
    m.port = port ? port : bm__free_port(bind_addr);
    if (m.port <= 0) {
        fprintf(stderr, "iotconform broker: no free port\n");
        goto cleanup;
    }
    signal(SIGPIPE, SIG_IGN);
    m.base = event_base_new();
    if (!m.base)
        goto cleanup;
    struct iotc_broker_opts bo = {
        .run_dir = run_dir,
        .mosquitto_bin = iotc_paths_mosquitto(),
        .plugin_path = iotc_paths_plugin(),
        .save_every_change = true, /* as serve's default profile: acknowledged = stored */
        .tcp_port = m.port,
        .tcp_bind = bind_addr,
        .tls_cert = cert,
        .tls_key = key,
        .secret = secret,
        .on_event = bm__on_event,
        .on_ready = bm__on_ready,
        .arg = &m,
    };
    if (iotc_broker_start(m.base, &bo, &m.broker) != IOTC_OK) {
        fprintf(stderr, "iotconform broker: cannot start mosquitto (%s) in %s\n", bo.mosquitto_bin,
                run_dir);
        goto cleanup;
    }
    sig_int = evsignal_new(m.base, SIGINT, bm__on_signal, &m);
    sig_term = evsignal_new(m.base, SIGTERM, bm__on_signal, &m);
    if (!sig_int || !sig_term || event_add(sig_int, NULL) || event_add(sig_term, NULL))
        goto cleanup;
    event_base_dispatch(m.base);
    status = 0;
cleanup:
    OPENSSL_cleanse(secret, sizeof secret);
    if (m.broker)
        iotc_broker_stop(m.broker);
    if (sig_int)
        event_free(sig_int);
    if (sig_term)
        event_free(sig_term);
    if (m.base)
        event_base_free(m.base);
    if (dir_buf[0])
        rmdir(dir_buf);
    return status;
}
