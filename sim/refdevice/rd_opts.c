/* Command line of iotc_refdevice. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "refdevice.h"

static const struct {
    const char *name;
    unsigned bit;
    const char *what;
} opts__misbehaviours[] = {
    {"no-hostname-verify", IOTC_REFDEVICE_NO_HOSTNAME_VERIFY, "accept a server certificate for another name"},
    {"accept-expired", IOTC_REFDEVICE_ACCEPT_EXPIRED, "accept an expired server certificate"},
    {"accept-untrusted", IOTC_REFDEVICE_ACCEPT_UNTRUSTED, "accept a server certificate from an unknown CA"},
    {"no-sni", IOTC_REFDEVICE_NO_SNI, "send no SNI"},
    {"unsupported-suites", IOTC_REFDEVICE_UNSUPPORTED_SUITES, "offer TLS 1.2 suites AWS IoT does not support"},
    {"old-tls", IOTC_REFDEVICE_OLD_TLS, "offer TLS 1.0 and 1.1 too"},
    {"no-alpn", IOTC_REFDEVICE_NO_ALPN, "send no ALPN even when --alpn is given"},
    {"backoff-constant", IOTC_REFDEVICE_BACKOFF_CONSTANT, "reconnect every 1 s (scaled)"},
    {"backoff-linear", IOTC_REFDEVICE_BACKOFF_LINEAR, "reconnect after 1, 2, 3, ... s (scaled)"},
    {"backoff-exponential-nojitter", IOTC_REFDEVICE_BACKOFF_EXP_NOJITTER, "1, 2, 4, ... s without jitter"},
    {"reconnect-instantly", IOTC_REFDEVICE_RECONNECT_INSTANTLY, "reconnect at once, every time"},
    {"no-qos1-retry", IOTC_REFDEVICE_NO_QOS1_RETRY,
     "never send an unacknowledged PUBLISH/SUBSCRIBE again, even after reconnecting"},
    {"retry-new-packet-id", IOTC_REFDEVICE_RETRY_NEW_PACKET_ID, "retransmit under a new packet id"},
    {"resubscribe-on-resume", IOTC_REFDEVICE_RESUBSCRIBE_ON_RESUME, "subscribe again on a resumed session"},
    {"ignore-missing-pingresp", IOTC_REFDEVICE_IGNORE_MISSING_PINGRESP, "stay connected without PINGRESP"},
    {"no-puback", IOTC_REFDEVICE_NO_PUBACK, "never acknowledge a QoS 1 message"},
    {"keepalive-zero", IOTC_REFDEVICE_KEEPALIVE_ZERO, "CONNECT with keep-alive 0"},
    {"clean-on-reconnect", IOTC_REFDEVICE_CLEAN_ON_RECONNECT, "drop the persistent session on reconnect"},
    {"no-publish", IOTC_REFDEVICE_NO_PUBLISH, "never publish"},
    {"no-subscribe", IOTC_REFDEVICE_NO_SUBSCRIBE, "never subscribe"},
    {"no-resubscribe", IOTC_REFDEVICE_NO_RESUBSCRIBE, "subscribe once, even when CONNACK says session 0"},
    {"give-up", IOTC_REFDEVICE_GIVE_UP, "exit after 3 failed connection attempts in a row"},
};

#define OPTS__N (sizeof(opts__misbehaviours) / sizeof(opts__misbehaviours[0]))

const char *iotc_refdevice_misbehave_names(void)
{
    static char buf[1024];
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < OPTS__N && used < sizeof(buf); i++)
        used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s", i ? "," : "",
                                 opts__misbehaviours[i].name);
    return buf;
}

void iotc_refdevice_usage(FILE *out)
{
    fprintf(out, "usage: iotc_refdevice --host H --port N --ca FILE --cert FILE --key FILE\n"
                 "                      [--client-id ID] [--topic T] [--pub-topic T] [--sni NAME]\n"
                 "                      [--alpn NAME] [--keepalive S] [--qos 0|1] [--persistent]\n"
                 "                      [--time-scale F] [--seed N] [--publish-every-ms MS]\n"
                 "                      [--run-ms MS] [--misbehave X[,Y]] [--verbose]\n"
                 "\n"
                 "A well-behaved AWS IoT device: connects over TLS (server verified, SNI = --sni\n"
                 "or --host), subscribes to --topic at QoS 1, publishes one message to\n"
                 "--pub-topic per connection (or every --publish-every-ms), reconnects with\n"
                 "exponential backoff and full jitter. --time-scale multiplies its timers\n"
                 "(backoff, CONNACK/ack waits) so certification can run compressed.\n"
                 "\nmisbehaviours (--misbehave, repeatable or comma-separated):\n");
    for (size_t i = 0; i < OPTS__N; i++)
        fprintf(out, "  %-30s %s\n", opts__misbehaviours[i].name, opts__misbehaviours[i].what);
}

static int opts__misbehave(struct iotc_refdevice_opts *o, const char *arg)
{
    char copy[512], *save = NULL;
    snprintf(copy, sizeof(copy), "%s", arg);
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < OPTS__N && strcmp(opts__misbehaviours[i].name, tok) != 0)
            i++;
        if (i == OPTS__N) {
            fprintf(stderr, "iotc_refdevice: unknown misbehaviour \"%s\" (known: %s)\n", tok,
                    iotc_refdevice_misbehave_names());
            return -1;
        }
        o->misbehave |= opts__misbehaviours[i].bit;
    }
    return 0;
}

static int opts__long(const char *arg, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int iotc_refdevice_opts_parse(int argc, char **argv, struct iotc_refdevice_opts *o)
{
    static const struct option longs[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"ca", required_argument, NULL, 'a'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"client-id", required_argument, NULL, 'i'},
        {"topic", required_argument, NULL, 't'},
        {"pub-topic", required_argument, NULL, 'P'},
        {"sni", required_argument, NULL, 's'},
        {"alpn", required_argument, NULL, 'A'},
        {"keepalive", required_argument, NULL, 'K'},
        {"qos", required_argument, NULL, 'q'},
        {"persistent", no_argument, NULL, 'S'},
        {"time-scale", required_argument, NULL, 'T'},
        {"seed", required_argument, NULL, 'r'},
        {"publish-every-ms", required_argument, NULL, 'E'},
        {"run-ms", required_argument, NULL, 'R'},
        {"misbehave", required_argument, NULL, 'm'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    long v;

    memset(o, 0, sizeof(*o));
    o->host = "localhost";
    o->port = 8883;
    o->client_id = "iotc-refdevice";
    o->sub_topic = "cert/in";
    o->pub_topic = "cert/out";
    o->keepalive = 60;
    o->qos = 1;
    o->time_scale = 1.0;
    o->seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (ch) {
        case 'H':
            o->host = optarg;
            break;
        case 'a':
            o->ca = optarg;
            break;
        case 'c':
            o->cert = optarg;
            break;
        case 'k':
            o->key = optarg;
            break;
        case 'i':
            o->client_id = optarg;
            break;
        case 't':
            o->sub_topic = optarg;
            break;
        case 'P':
            o->pub_topic = optarg;
            break;
        case 's':
            o->sni = optarg;
            break;
        case 'A':
            o->alpn = *optarg ? optarg : NULL;
            break;
        case 'S':
            o->persistent = true;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'p':
            if (opts__long(optarg, 1, 65535, &v))
                goto bad;
            o->port = (int)v;
            break;
        case 'K':
            if (opts__long(optarg, 0, 65535, &v))
                goto bad;
            o->keepalive = (int)v;
            break;
        case 'q':
            if (opts__long(optarg, 0, 1, &v))
                goto bad;
            o->qos = (int)v;
            break;
        case 'r':
            o->seed = strtoull(optarg, NULL, 10);
            break;
        case 'E':
            if (opts__long(optarg, 0, 86400000, &v))
                goto bad;
            o->publish_every_ms = v;
            break;
        case 'R':
            if (opts__long(optarg, 0, 86400000, &v))
                goto bad;
            o->run_ms = v;
            break;
        case 'T': {
            char *end;
            o->time_scale = strtod(optarg, &end);
            if (*end || !(o->time_scale > 0.0 && o->time_scale <= 100.0))
                goto bad;
            break;
        }
        case 'm':
            if (opts__misbehave(o, optarg))
                return -1;
            break;
        case 'h':
            iotc_refdevice_usage(stdout);
            exit(0);
        default:
            goto bad;
        }
    }
    if (optind < argc || !o->ca || !o->cert || !o->key) {
        fprintf(stderr, "iotc_refdevice: --ca, --cert and --key are required\n");
        return -1;
    }
    return 0;
bad:
    fprintf(stderr, "iotc_refdevice: bad option or value near \"%s\"\n", argv[optind - 1]);
    return -1;
}
