/* The command-line options `run` and `certify` share. */
#include "harness/cliflags.h"

#include <getopt.h>
#include <stdio.h>

int iotc_cliflags_take(const iotc_cliflags *f, int ch, const char *arg, char **argv,
                       iotc_errtext *err)
{
    switch (ch) {
    case 'k':
        *f->pki_dir = arg;
        return 0;
    case 'o':
        *f->out_dir = arg;
        return 0;
    case 'b':
        *f->serve_bin = arg;
        return 0;
    case 'S':
        return iotc_shard_parse(arg, f->shard, err) != 0 ? -1 : 0;
    case 'v':
        *f->verbose = 1;
        return 0;
    case 'q':
        *f->quiet = 1;
        return 0;
    case 'L':
        *f->list = 1;
        return 0;
    case 'h':
        *f->help = 1;
        return 0;
    default:
        return iotc_errtext_set(err, -1, "unknown or incomplete option \"%s\"", argv[optind - 1]);
    }
}

int iotc_cliflags_finish(const iotc_cliflags *f, int argc, char **argv, iotc_errtext *err)
{
    if (optind < argc) {
        return iotc_errtext_set(err, -1, "unexpected argument \"%s\"", argv[optind]);
    }
    if (*f->verbose && *f->quiet) {
        return iotc_errtext_set(err, -1, "--verbose and --quiet exclude each other");
    }
    return 0;
}
