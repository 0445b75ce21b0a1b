/* Command line of `iotconform certify`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert_int.h"
#include "certify_main.h"
#include "config/paths.h"
#include "harness/cliflags.h"

void iotc_certify_usage(FILE *out)
{
    fprintf(
        out,
        "usage: iotconform certify (--device TEMPLATE | --adapter NAME|FILE) [--suite S]\n"
        "                          [--out DIR] [--name NAME] [--fail-on FAIL|WARN]\n"
        "                          [--time-scale F] [--seed N] [--jobs N] [--pki DIR]\n"
        "                          [--device-cert NAME] [--catalogue FILE] [--serve-bin PATH]\n"
        "                          [--refdevice PATH] [--shard K/N] [--verbose|--quiet]\n"
        "                          [--list] [--help]\n"
        "\n"
        "Certifies a device or SDK against the emulated AWS IoT Core endpoint: for each case\n"
        "a fresh endpoint applies the case's scenario, the device command is started with\n"
        "its placeholders filled, what it does is journaled, it is stopped when the case's\n"
        "budget ends (SIGTERM, then SIGKILL, to its whole process group) and a judge gives\n"
        "PASS, PASS_WITH_WARNINGS, FAIL or ERROR with a reason, or INCONCLUSIVE when the\n"
        "budget ended before the evidence supported any verdict. Writes results.json (kind\n"
        "certification), junit.xml, summary.md and report.html to --out.\n"
        "\n"
        "  --device TEMPLATE  device command, run with /bin/sh -c after filling placeholders\n"
        "  --adapter NAME     fixtures/adapters/NAME.json (or a file): a ready template and\n"
        "                     the cases the device can take part in (others are SKIPPED);\n"
        "                     with --device too, --device replaces the adapter's command\n"
        "  --suite S          qualification (the 11 AWS qualification cases, default), full,\n"
        "                     another suite of the catalogue, or comma-separated case ids\n"
        "  --out DIR          report directory (default ./iotconform-certification)\n"
        "  --name NAME        device name in the report (default: the adapter's, or device)\n"
        "  --fail-on V        FAIL (default): exit 1 on FAIL/ERROR/INCONCLUSIVE; WARN: also on\n"
        "                     PASS_WITH_WARNINGS\n"
        "  --time-scale F     compress the device's timers and the case budgets by F (0.01..1;\n"
        "                     only for devices that honour {time_scale}, e.g. the reference\n"
        "                     device; real-time thresholds such as 'reconnect after >= 1 s' are\n"
        "                     scaled with it). Ignored for adapters without \"time_scale\": true\n"
        "  --seed N           seed handed to the device as {seed} (default: random)\n"
        "  --jobs N           cases run at once, each with its own endpoint (default 1)\n"
        "  --pki DIR          test PKI (default $IOTCONFORM_PKI, else %s)\n"
        "  --device-cert NAME PKI name of the device's certificate (default device-01)\n"
        "  --catalogue FILE   case catalogue (default %s)\n"
        "  --serve-bin PATH   binary providing `serve` (default: this executable)\n"
        "  --refdevice PATH   the reference device, for {refdevice} (default\n"
        "                     $IOTCONFORM_REFDEVICE, else %s)\n"
        "  --shard K/N        run only shard K of N of the selected cases (round-robin over\n"
        "                     the sorted case ids); `iotconform report` merges all N\n"
        "  --verbose          one line per case instead of the progress line (a redrawn line\n"
        "                     on a terminal, else a line every 10%% or 10 s); failures are\n"
        "                     printed as they happen in every mode\n"
        "  --quiet            failures, the summary and the report path only\n"
        "  --list             print the selected cases (of this shard) and exit\n"
        "\n"
        "Placeholders (values are shell-quoted; {NAME?TEXT} gives TEXT and {NAME+TEXT} gives\n"
        "TEXT followed by the value, both only when NAME is not empty, e.g.\n"
        "{alpn+--tls-alpn } or {persistent?-c}; {{ and }} are literal braces):\n"
        "  {host} {sni}        endpoint name to connect to and send as SNI (localhost)\n"
        "  {port}              the case's real port (8883, or 443 for ALPN cases)\n"
        "  {alpn}              ALPN the case needs (x-amzn-mqtt-ca on 443, else empty)\n"
        "  {ca} {cert} {key}   CA bundle to trust, device certificate and key files\n"
        "  {client_id}         MQTT client id      {topic} subscribe to   {pub_topic} publish to\n"
        "  {qos}               QoS to use (1)      {keepalive} keep-alive seconds the case wants\n"
        "  {persistent}        \"1\" when the case needs a persistent session, else empty\n"
        "  {clean}             \"0\" for a persistent session, else \"1\"\n"
        "  {publish_every_ms}  publish period the case wants (0: once), already time-scaled\n"
        "  {region} {account}  us-east-1, 123456789012\n"
        "  {time_scale}        the run's time scale      {seed} a per-case/series seed\n"
        "  {run_ms}            the case's budget         {case} {case_dir} case id, its dir\n"
        "  {refdevice}         path of iotc_refdevice    {adapter_dir} fixtures/adapters\n"
        "\n"
        "Judges follow the MQTT version of the device's CONNECT (3.1.1 = v4, 5):\n"
        "  retransmission (MQTT_Publish_Retry_No_Puback, MQTT_Subscribe_Retry_No_Suback):\n"
        "    the ack is withheld and the endpoint closes the connection 10 s later; the\n"
        "    device must send the message again (section 4.4). 3.1.1: on the open connection\n"
        "    (same packet id, DUP) or after the reconnect; 5: only after the reconnect, a\n"
        "    resend on the open connection warns [MQTT-4.4.0-2]. A resumed session keeps\n"
        "    the packet id [MQTT-4.4.0-1]; a new session may use any.\n"
        "  keep-alive (MQTT_No_Ack_PingResp): 3.1.1 its own keep-alive (3.1.2.10); 5 the\n"
        "    CONNACK's Server Keep Alive when sent (3.2.2.3.14; AWS raises 1..29 s to 30 s);\n"
        "    5: a first PINGREQ after less than half of it warns [MQTT-3.2.2-21]\n"
        "  sessions (MQTT_Clean_Session, MQTT_Persistent_Session_Happy_Case): 3.1.1 clean\n"
        "    session 0 on every CONNECT (3.1.2.4); 5 session expiry > 0 (3.1.2.11.2), clean\n"
        "    start 1 only on the first CONNECT. Session cases observe one reconnect before\n"
        "    a verdict; a PASS that never saw it is INCONCLUSIVE; no reconnect 30 s after\n"
        "    the close FAILs without waiting for the budget.\n"
        "  backoff cases observe 6 delays per series (observe.delays); the series of a case\n"
        "    run at the same time.\n"
        "\n"
        "Exit: 0 no FAIL/ERROR (see --fail-on), 1 otherwise, 2 usage or catalogue errors,\n"
        "130 interrupted.\n",
        iotc_paths_pki_default(), iotc_paths_catalogue(), iotc_paths_refdevice());
}

static int opts__num(const char *arg, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(arg, &end);
    if (!*arg || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int iotc_certify_opts_parse(int argc, char **argv, iotc_certify_opts *o, iotc_errtext *err)
{
    static const struct option longs[] = {
        {"device", required_argument, NULL, 'd'},
        {"adapter", required_argument, NULL, 'a'},
        {"suite", required_argument, NULL, 's'},
        {"name", required_argument, NULL, 'n'},
        {"fail-on", required_argument, NULL, 'F'},
        {"time-scale", required_argument, NULL, 'T'},
        {"seed", required_argument, NULL, 'r'},
        {"jobs", required_argument, NULL, 'j'},
        {"device-cert", required_argument, NULL, 'C'},
        {"catalogue", required_argument, NULL, 'c'},
        {"refdevice", required_argument, NULL, 'R'},
        IOTC_CLIFLAGS_LONGS,
        {NULL, 0, NULL, 0},
    };
    const iotc_cliflags flags = {&o->pki_dir, &o->out_dir, &o->serve_bin, &o->shard,
                                 &o->verbose, &o->quiet,   &o->list,      &o->help};
    int ch;
    double v;

    memset(o, 0, sizeof(*o));
    o->suite = "qualification";
    o->out_dir = "iotconform-certification";
    o->pki_dir = NULL; /* resolved (and generated on first use) only when cases run */
    o->catalogue = iotc_paths_catalogue();
    o->device_cert = "device-01";
    o->jobs = 1;
    o->scale = 1.0;
    o->adapter_dir = iotc_paths_adapters_dir();
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (ch) {
        case 'd':
            o->device = optarg;
            break;
        case 'a':
            o->adapter = optarg;
            break;
        case 's':
            o->suite = optarg;
            break;
        case 'n':
            o->name = optarg;
            break;
        case 'C':
            o->device_cert = optarg;
            break;
        case 'c':
            o->catalogue = optarg;
            break;
        case 'R':
            o->refdevice = optarg;
            break;
        case 'F':
            if (strcmp(optarg, "FAIL") && strcmp(optarg, "WARN")) {
                return iotc_errtext_set(err, -1, "--fail-on wants FAIL or WARN, not \"%s\"",
                                        optarg);
            }
            o->fail_on_warn = strcmp(optarg, "WARN") == 0;
            break;
        case 'T':
            if (opts__num(optarg, 0.01, 1.0, &o->scale)) {
                return iotc_errtext_set(err, -1, "--time-scale wants 0.01..1, not \"%s\"", optarg);
            }
            o->scale_given = 1;
            break;
        case 'r':
            if (opts__num(optarg, 0, 1e15, &v)) {
                return iotc_errtext_set(err, -1, "--seed wants a non-negative integer");
            }
            o->seed = (unsigned long long)v;
            o->seed_given = 1;
            break;
        case 'j':
            if (opts__num(optarg, 1, 16, &v) || v != (int)v) {
                return iotc_errtext_set(err, -1, "--jobs wants 1..16, not \"%s\"", optarg);
            }
            o->jobs = (int)v;
            break;
        default:
            if (iotc_cliflags_take(&flags, ch, optarg, argv, err))
                return -1;
            break;
        }
    }
    if (iotc_cliflags_finish(&flags, argc, argv, err))
        return -1;
    if (!o->help && !o->list && !o->device && !o->adapter) {
        return iotc_errtext_set(err, -1, "--device TEMPLATE or --adapter NAME is required");
    }
    return 0;
}
