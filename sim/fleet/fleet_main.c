/* `iotconform fleet SPEC`: options, then one run, then the summary. */
#include "cli/commands.h"
#include "fleet_int.h"
#include "common/err.h"

#include <ctype.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fm__usage(FILE *out)
{
    fprintf(out,
            "usage: iotconform fleet [options] SPEC.json\n"
            "\n"
            "Runs a simulated fleet (fixtures/fleets/*.json): devices per matrix row, their\n"
            "publish rate, QoS, sessions, keep-alive and reconnect strategy, and scheduled\n"
            "faults, all on one event loop. Prints live progress and a summary.\n"
            "\n"
            "options:\n"
            "  --json FILE            also write the summary as JSON\n"
            "  --serve BIN            iotconform binary for the emulated endpoint (default: "
            "this one)\n"
            "  --pki DIR              device certificates and ca-bundle.crt (default: "
            "$IOTCONFORM_PKI,\n"
            "                         else the build's pki, else a per-user one)\n"
            "  --target FILE          external endpoint: {host, sni, ca, pki, ports, "
            "time_scale,\n"
            "                         registry}\n"
            "  --duration S           override the spec's duration_s\n"
            "  --shard K/N            run shard K of N: each row's devices [D(K-1)/N, DK/N),\n"
            "                         identities and schedules as in the whole run; merge the\n"
            "                         shards' --json files with `iotconform fleet-merge`.\n"
            "                         Default from $JOB_COMPLETION_INDEX (0-based, a Kubernetes\n"
            "                         Indexed Job) and $IOTC_FLEET_SHARDS\n"
            "  --workers N            run the fleet as N processes on this machine (2..64; for\n"
            "                         fleets past one process's descriptor limit): shards 1..N\n"
            "                         against one endpoint, one merged summary (totals, latency\n"
            "                         from the merged histograms, RSS and CPU of every process);\n"
            "                         each shard's latest progress line every interval\n"
            "  --serve-workers M      with --workers: the emulated endpoint's front doors (serve\n"
            "                         --workers M; default serve's: $IOTCONFORM_SERVE_WORKERS,\n"
            "                         else the CPUs it may run on)\n"
            "  --run TAG              run tag in topics and client IDs, the same on every shard\n"
            "                         (required when sharded; default $IOTC_FLEET_RUN, else\n"
            "                         random): [A-Za-z0-9_-], at most 63 characters\n"
            "  --progress-interval S  seconds between progress lines when not on a terminal "
            "(default 5)\n"
            "  --quiet                no progress lines\n"
            "  -h, --help             this text\n"
            "\n"
            "Exit status: 0 when nothing was lost and every device is connected at the end,\n"
            "1 otherwise, 2 for usage or setup errors. A shard cannot know the fleet's losses:\n"
            "it exits 0 when its devices stayed connected, and fleet-merge judges the rest.\n");
}

/* --shard K/N, else a Kubernetes Indexed Job's JOB_COMPLETION_INDEX (0-based) with
 * IOTC_FLEET_SHARDS (the Job's completions), else not sharded. */
/* A process count of at least min and at most 64 for a flag, or a message and an error. */
static int fm__processes(const char *arg, long min, const char *flag, long *out)
{
    char *end;
    *out = strtol(arg, &end, 10);
    if (*arg && !*end && *out >= min && *out <= 64)
        return IOTC_OK;
    fprintf(stderr, "iotconform fleet: %s: %ld..64 processes\n", flag, min);
    return IOTC_ERR_INVALID;
}

static int fm__shard(const char *arg, iotc_shard *s)
{
    char buf[64];
    iotc_errtext err = {0};
    const char *idx = getenv("JOB_COMPLETION_INDEX"), *cnt = getenv("IOTC_FLEET_SHARDS");
    if (!arg && idx) {
        char *end;
        long k = strtol(idx, &end, 10);
        if (!cnt || *end || end == idx || k < 0 || k > 100000) {
            fprintf(stderr,
                    "iotconform fleet: JOB_COMPLETION_INDEX=%s needs IOTC_FLEET_SHARDS "
                    "(the Job's completions) and must be an index from 0\n",
                    idx);
            return IOTC_ERR_INVALID;
        }
        snprintf(buf, sizeof buf, "%ld/%s", k + 1, cnt);
        arg = buf;
    }
    if (!arg)
        return IOTC_OK;
    if (iotc_shard_parse(arg, s, &err) != IOTC_OK) {
        fprintf(stderr, "iotconform fleet: --shard: %s\n", err.msg);
        return IOTC_ERR_INVALID;
    }
    return IOTC_OK;
}

static int fm__run_tag_ok(const char *t)
{
    size_t n = strlen(t);
    bool ok = n > 0 && n < 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)t[i]) || t[i] == '-' || t[i] == '_';
    if (!ok)
        fprintf(stderr,
                "iotconform fleet: run tag '%s': 1..63 of [A-Za-z0-9_-] (it goes into "
                "topics and client IDs)\n",
                t);
    return ok ? IOTC_OK : IOTC_ERR_INVALID;
}

/* "sha256:<hex>" of the spec file: fleet-merge refuses shards of different specs. */
static int fm__digest(const char *path, char *out, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE], buf[8192];
    unsigned mdlen = 0;
    size_t n;
    FILE *f = fopen(path, "rb");
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int rc = IOTC_ERR_IO;
    if (!f || !c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL))
        goto cleanup;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        EVP_DigestUpdate(c, buf, n);
    if (ferror(f) || !EVP_DigestFinal_ex(c, md, &mdlen) || len < 8 + 2 * (size_t)mdlen)
        goto cleanup;
    int o = snprintf(out, len, "sha256:");
    for (unsigned i = 0; i < mdlen; i++)
        o += snprintf(out + o, len - (size_t)o, "%02x", md[i]);
    rc = IOTC_OK;
cleanup:
    if (f)
        fclose(f);
    EVP_MD_CTX_free(c);
    return rc;
}

int iotc_fleet_main(int argc, char **argv)
{
    static const struct option opts[] = {{"json", required_argument, NULL, 'j'},
                                         {"serve", required_argument, NULL, 's'},
                                         {"pki", required_argument, NULL, 'p'},
                                         {"target", required_argument, NULL, 't'},
                                         {"duration", required_argument, NULL, 'd'},
                                         {"progress-interval", required_argument, NULL, 'i'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"shard", required_argument, NULL, 'S'},
                                         {"run", required_argument, NULL, 'r'},
                                         {"workers", required_argument, NULL, 'W'},
                                         {"serve-workers", required_argument, NULL, 'M'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *json_out = NULL, *serve = NULL, *pki = NULL, *target = NULL;
    const char *shard_arg = NULL, *run = getenv("IOTC_FLEET_RUN");
    double duration = 0, interval = 5;
    long workers = 0, serve_workers = 0;
    bool quiet = false;
    int c, status = 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json_out = optarg;
            break;
        case 's':
            serve = optarg;
            break;
        case 'p':
            pki = optarg;
            break;
        case 't':
            target = optarg;
            break;
        case 'd':
            duration = strtod(optarg, NULL);
            if (duration <= 0 || duration > 7 * 86400) {
                fprintf(stderr, "iotconform fleet: --duration: seconds in (0, 604800]\n");
                return 2;
            }
            break;
        case 'i':
            interval = strtod(optarg, NULL);
            if (interval <= 0 || interval > 3600) {
                fprintf(stderr, "iotconform fleet: --progress-interval: seconds in (0, 3600]\n");
                return 2;
            }
            break;
        case 'q':
            quiet = true;
            break;
        case 'S':
            shard_arg = optarg;
            break;
        case 'r':
            run = optarg;
            break;
        case 'W':
            if (fm__processes(optarg, 2, "--workers", &workers) != IOTC_OK)
                return 2;
            break;
        case 'M':
            if (fm__processes(optarg, 1, "--serve-workers", &serve_workers) != IOTC_OK)
                return 2;
            break;
        case 'h':
            fm__usage(stdout);
            return 0;
        default:
            fm__usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fm__usage(stderr);
        return 2;
    }
    iotc_shard shard = {0, 0};
    if (fm__shard(shard_arg, &shard) != IOTC_OK)
        return 2;
    if (run && fm__run_tag_ok(run) != IOTC_OK)
        return 2;
    if (serve_workers && (!workers || target)) {
        fprintf(stderr, "iotconform fleet: --serve-workers is for the emulated endpoint that "
                        "fleet --workers starts (not with --target)\n");
        return 2;
    }
    if (workers && shard.n) {
        fprintf(stderr, "iotconform fleet: --workers splits the whole fleet: not with --shard\n");
        return 2;
    }
    char tag[16];
    if (workers && !run) {
        unsigned char r[4];
        FILE *u = fopen("/dev/urandom", "rb");
        bool got = u && fread(r, 1, sizeof r, u) == sizeof r;
        if (u)
            fclose(u);
        if (!got) {
            fprintf(stderr,
                    "iotconform fleet: cannot read /dev/urandom for a run tag: use --run\n");
            return 2;
        }
        snprintf(tag, sizeof tag, "%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
        run = tag;
    }
    if (shard.n > 1 && !run) {
        fprintf(stderr, "iotconform fleet: a sharded run needs --run TAG (or $IOTC_FLEET_RUN), the "
                        "same on every shard, so their topics meet\n");
        return 2;
    }
    char self[PATH_MAX] = "";
    ssize_t self_n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[self_n > 0 ? self_n : 0] = '\0';
    if (!serve) {
        if (self_n <= 0) {
            fprintf(stderr, "iotconform fleet: cannot find this binary: use --serve\n");
            return 2;
        }
        serve = self;
    }
    struct iotc_fleet_spec spec;
    struct iotc_fleet *fl = calloc(1, sizeof *fl);
    iotc_errtext err = {0};
    if (!fl)
        return 2;
    if (iotc_fleet_spec_load(argv[optind], &spec, &err) != IOTC_OK) {
        fprintf(stderr, "iotconform fleet: %s\n", err.msg);
        iotc_fleet_spec_free(&spec); /* a spec read halfway holds strings already */
        free(fl);
        return 2;
    }
    if (duration > 0)
        spec.duration_s = duration;
    if (target) {
        spec.target.kind = IOTC_FLEET_TARGET_EXTERNAL;
        free(spec.target.ext_file);
        spec.target.ext_file = strdup(target);
    }
    if (fm__digest(argv[optind], fl->spec_digest, sizeof fl->spec_digest) != IOTC_OK) {
        fprintf(stderr, "iotconform fleet: cannot read %s\n", argv[optind]);
        iotc_fleet_spec_free(&spec);
        free(fl);
        return 2;
    }
    if (workers) {
        struct iotc_fleet_procs_opts po = {.spec_path = argv[optind],
                                           .self = self[0] ? self : serve,
                                           .serve_bin = serve,
                                           .pki = pki,
                                           .target = target,
                                           .json_out = json_out,
                                           .run = run,
                                           .duration = duration,
                                           .progress_interval = interval,
                                           .workers = (int)workers,
                                           .serve_workers = (int)serve_workers,
                                           .quiet = quiet};
        status = iotc_fleet_procs_run(&spec, &po);
        iotc_fleet_spec_free(&spec);
        free(fl);
        return status;
    }
    fl->shard = shard;
    if (run)
        snprintf(fl->run_tag, sizeof fl->run_tag, "%s", run);
    fl->spec = &spec;
    fl->tty = !quiet && isatty(STDOUT_FILENO);
    fl->progress_out = quiet ? NULL : stdout;
    fl->progress_interval_s = interval;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = iotc_fleet_run(fl, serve, pki);
    if (rc != IOTC_OK) {
        fprintf(stderr, "iotconform fleet: %s\n", fl->err.msg[0] ? fl->err.msg : iotc_strerror(rc));
        goto cleanup;
    }
    json_t *sum = iotc_fleet_summary_json(fl);
    iotc_fleet_summary_print(fl, sum, stdout);
    status = json_is_true(json_object_get(sum, "ok")) ? 0 : 1;
    if (json_out && json_dump_file(sum, json_out, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
        fprintf(stderr, "iotconform fleet: cannot write %s\n", json_out);
        status = 2;
    }
    json_decref(sum);
cleanup:
    iotc_fleet_free(fl);
    iotc_fleet_spec_free(&spec);
    curl_global_cleanup();
    free(fl);
    return status;
}
