/* Internals of `iotconform run` shared by its files. */
#ifndef IOTC_RUNNER_RUN_H
#define IOTC_RUNNER_RUN_H

#include <pthread.h>
#include <signal.h>

#include "cases.h"
#include "driver.h"
#include "harness/jreader.h"
#include "harness/progress.h"
#include "harness/shard.h"
#include "result.h"
#include "harness/serve.h"
#include "target.h"

#define RUN_MAX_LIST 64

typedef struct run_opts {
    const char *suites[RUN_MAX_LIST];
    size_t n_suites;
    const char *filters[RUN_MAX_LIST];
    size_t n_filters;
    const char *labels[RUN_MAX_LIST];
    size_t n_labels;
    const char *profile; /* only cases of this profile */
    const char *pki_dir;
    const char *out_dir;
    const char *serve_bin;
    const char *suites_dir;
    const char *target; /* --target FILE: an external endpoint instead of serve children */
    int jobs;
    int list;
    int help;
    int verbose, quiet; /* one line per case / failures only (progress.h) */
    iotc_shard shard;   /* --shard K/N; n == 0: every selected case */
} run_opts;

/* One serve child and everything tied to it. */
typedef struct run_target {
    char profile[64];
    char profile_path[1024];
    iotc_serve serve;
    iotc_jreader journal;
    iotc_env env;
    int started;
    int external;     /* no serve child, no journal: the endpoint is someone else's */
    char error[4096]; /* why it could not start */
} run_target;

typedef struct run_state {
    const run_opts *opts;
    iotc_result *results;
    size_t n;
    run_target targets[8];
    size_t n_targets;
    size_t finished; /* for the [k/n] counter */
    iotc_progress progress;
    pthread_mutex_t lock;
    char run_tag[16];
    json_t *registry;       /* the endpoint's registry: SigV4 secrets for the door drivers */
    iotc_target *target;    /* --target, else NULL */
    json_t *not_applicable; /* the tables' N/A cells (borrowed from the caseset) */
} run_state;

extern volatile sig_atomic_t iotc_run_interrupted;

int run_opts_parse(int argc, char **argv, run_opts *o, char *err, size_t errlen);
void run_opts_usage(FILE *out);

/* Runs results[i] against its target; fills status, observed, mismatches, journal. */
void run_case_exec(run_state *rs, size_t i);

/* Re-cuts every case's journal excerpt once all lines are in. */
void run_case_final_journal(run_state *rs);

#endif
