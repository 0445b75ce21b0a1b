/* `iotconform fleet SPEC`: options, then one run, then the summary. */
#include "fleet.h"
#include "fleet_int.h"
#include "common/err.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fm__usage(FILE *out)
{
    fprintf(out, "usage: iotconform fleet [options] SPEC.json\n"
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
                 "  --progress-interval S  seconds between progress lines when not on a terminal "
                 "(default 5)\n"
                 "  --quiet                no progress lines\n"
                 "  -h, --help             this text\n"
                 "\n"
                 "Exit status: 0 when nothing was lost and every device is connected at the end,\n"
                 "1 otherwise, 2 for usage or setup errors.\n");
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
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *json_out = NULL, *serve = NULL, *pki = NULL, *target = NULL;
    double duration = 0, interval = 5;
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
    char self[PATH_MAX];
    if (!serve) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            fprintf(stderr, "iotconform fleet: cannot find this binary: use --serve\n");
            return 2;
        }
        self[n] = '\0';
        serve = self;
    }
    struct iotc_fleet_spec spec;
    struct iotc_fleet *fl = calloc(1, sizeof *fl);
    char err[IOTC_FLEET_ERR_LEN] = "";
    if (!fl)
        return 2;
    if (iotc_fleet_spec_load(argv[optind], &spec, err, sizeof err) != IOTC_OK) {
        fprintf(stderr, "iotconform fleet: %s\n", err);
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
    fl->spec = &spec;
    fl->tty = !quiet && isatty(STDOUT_FILENO);
    fl->progress_out = quiet ? NULL : stdout;
    fl->progress_interval_s = interval;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = iotc_fleet_run(fl, serve, pki);
    if (rc != IOTC_OK) {
        fprintf(stderr, "iotconform fleet: %s\n", fl->err[0] ? fl->err : iotc_strerror(rc));
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
