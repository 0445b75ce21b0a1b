/* The options `run` and `certify` share on their command lines: --pki DIR, --out DIR,
 * --serve-bin PATH, --shard K/N, --verbose, --quiet, --list and --help, and the checks
 * after getopt_long. Each command keeps its own options struct; this writes through
 * pointers into it. */
#ifndef IOTC_HARNESS_CLIFLAGS_H
#define IOTC_HARNESS_CLIFLAGS_H

#include <stddef.h>
#include "common/errtext.h"

#include "harness/shard.h"

/* The getopt_long entries of the shared options, for each command's table of longs. */
/* clang-format off */
#define IOTC_CLIFLAGS_LONGS                                                                        \
    {"pki", required_argument, NULL, 'k'},                                                         \
    {"out", required_argument, NULL, 'o'},                                                         \
    {"serve-bin", required_argument, NULL, 'b'},                                                   \
    {"shard", required_argument, NULL, 'S'},                                                       \
    {"verbose", no_argument, NULL, 'v'},                                                           \
    {"quiet", no_argument, NULL, 'q'},                                                             \
    {"list", no_argument, NULL, 'L'},                                                              \
    {"help", no_argument, NULL, 'h'}
/* clang-format on */

typedef struct iotc_cliflags {
    const char **pki_dir, **out_dir, **serve_bin;
    iotc_shard *shard;
    int *verbose, *quiet, *list, *help;
} iotc_cliflags;

/* One value ch of getopt_long that the command did not take itself: a shared option is
 * stored (0), anything else is an unknown or incomplete option (-1, err names it). */
int iotc_cliflags_take(const iotc_cliflags *f, int ch, const char *arg, char **argv,
                       iotc_errtext *err);

/* After getopt_long: no argument is left over, and --verbose and --quiet are not both given.
 * 0, or -1 with err. */
int iotc_cliflags_finish(const iotc_cliflags *f, int argc, char **argv, iotc_errtext *err);

#endif
