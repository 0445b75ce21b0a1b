/* Command line of `iotconform run`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/procstat.h"
#include "config/paths.h"
#include "harness/cliflags.h"
#include "run.h"

void iotc_runner_opts_usage(FILE *out)
{
    fprintf(
        out,
        "usage: iotconform run [--suite NAME|FILE ...] [--filter GLOB ...] [--label L ...]\n"
        "                      [--profile NAME] [--pki DIR] [--out DIR] [--serve-bin PATH]\n"
        "                      [--target FILE] [--jobs N] [--shard K/N] [--verbose|--quiet]\n"
        "                      [--list] [--help]\n"
        "\n"
        "Runs the conformance case tables against `iotconform serve` children (one per\n"
        "profile the selected cases need) and writes results.json (+ reports) to --out.\n"
        "\n"
        "  --suite NAME|FILE  suite name (suites/NAME.json and suites/NAME-*.json) or a\n"
        "                     table file; repeatable; default: every table\n"
        "  --filter GLOB      keep cases whose id, or a dot-suffix of it, matches GLOB\n"
        "                     ('mqtt-x509-8883*', 'x509.sni-*', '*.ipv6.*'); repeatable (OR)\n"
        "  --label L          keep cases carrying label L (suite, row, family, ipv4/ipv6,\n"
        "                     tls12/tls13, or a table label); repeatable (OR)\n"
        "  --profile NAME     keep cases written for this endpoint profile\n"
        "  --pki DIR          test PKI (default $IOTCONFORM_PKI, else %s)\n"
        "  --out DIR          report directory (default ./iotconform-report)\n"
        "  --serve-bin PATH   binary providing `serve` (default: this executable)\n"
        "  --target FILE      check an external endpoint described by FILE (JSON,\n"
        "                     fixtures/targets/README.md) instead of starting the emulator;\n"
        "                     cases it cannot run are reported as skipped with the reason\n"
        "  --jobs N           run N cases at once (default: 8 per CPU, 8..16: cases mostly wait)\n"
        "  --shard K/N        run only shard K of N of the selected cases: round-robin over\n"
        "                     the sorted case ids, so shards are even; results.json records\n"
        "                     the shard and `iotconform report` merges all N (1<=K<=N<=1000)\n"
        "  --verbose          one line per case ([k/n] VERDICT id (ms)) instead of the\n"
        "                     progress line (on a terminal: one redrawn line with done/total,\n"
        "                     failures, elapsed, ETA; otherwise a line every 10%% or 10 s);\n"
        "                     failures are printed as they happen in every mode\n"
        "  --quiet            failures, the summary and the report path only\n"
        "  --list             print the selected case ids (of this shard) and exit\n"
        "\n"
        "Environment: IOTCONFORM_SUITES (tables dir, now %s),\n"
        "IOTCONFORM_PROFILES (profiles dir, now %s),\n"
        "IOTCONFORM_REGISTRY (registry for the endpoint and the SigV4 secrets, now %s),\n"
        "IOTCONFORM_DATA_DIR (all three under one directory).\n"
        "Exit: 0 every case passed, 1 a case failed/errored, 2 usage or table errors,\n"
        "130 interrupted.\n",
        iotc_paths_pki_default(), iotc_paths_suites_dir(), iotc_paths_profiles_dir(),
        iotc_paths_registry());
}

static int opts__push(const char **list, size_t *n, const char *v, const char *name,
                      iotc_errtext *err)
{
    if (*n >= IOTC_RUNNER_MAX_LIST)
        return iotc_errtext_set(err, -1, "too many %s options (at most %d)", name,
                                IOTC_RUNNER_MAX_LIST);
    list[(*n)++] = v;
    return 0;
}

int iotc_runner_opts_parse(int argc, char **argv, iotc_runner_opts *o, iotc_errtext *err)
{
    static const struct option longs[] = {
        {"suite", required_argument, NULL, 's'},
        {"filter", required_argument, NULL, 'f'},
        {"label", required_argument, NULL, 'l'},
        {"profile", required_argument, NULL, 'p'},
        {"jobs", required_argument, NULL, 'j'},
        {"target", required_argument, NULL, 't'},
        IOTC_CLIFLAGS_LONGS,
        {NULL, 0, NULL, 0},
    };
    const iotc_cliflags flags = {&o->pki_dir, &o->out_dir, &o->serve_bin, &o->shard,
                                 &o->verbose, &o->quiet,   &o->list,      &o->help};
    int ch;

    memset(o, 0, sizeof(*o));
    /* Cases mostly wait (for answers, timers, the 1 s CONNECT spacing per client ID) and
     * a case uses ~12 ms of CPU across runner, endpoint and broker: 8 per CPU, 8..16,
     * keeps 2 cores busy without stretching the timing cases (measured: a full run at
     * 2 / 8 / 16 / 24 jobs on 2 cores, issue 12). */
    int cpus = iotc_ncpu();
    o->jobs = cpus * 8 > 16 ? 16 : cpus * 8;
    o->out_dir = "iotconform-report";
    o->pki_dir = NULL; /* resolved (and generated on first use) only when cases run */
    o->suites_dir = iotc_paths_suites_dir();

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "s:f:l:p:k:o:b:j:t:h", longs, NULL)) != -1) {
        switch (ch) {
        case 's':
            if (opts__push(o->suites, &o->n_suites, optarg, "--suite", err))
                return -1;
            break;
        case 'f':
            if (opts__push(o->filters, &o->n_filters, optarg, "--filter", err))
                return -1;
            break;
        case 'l':
            if (opts__push(o->labels, &o->n_labels, optarg, "--label", err))
                return -1;
            break;
        case 'p':
            o->profile = optarg;
            break;
        case 'j': {
            char *end;
            long j = strtol(optarg, &end, 10);
            if (*end || j < 1 || j > 64)
                return iotc_errtext_set(err, -1, "--jobs wants 1..64, not \"%s\"", optarg);
            o->jobs = (int)j;
            break;
        }
        case 't':
            o->target = optarg;
            break;
        default:
            if (iotc_cliflags_take(&flags, ch, optarg, argv, err))
                return -1;
            break;
        }
    }
    if (iotc_cliflags_finish(&flags, argc, argv, err))
        return -1;
    return 0;
}
