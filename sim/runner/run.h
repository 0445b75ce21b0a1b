/* Internals of `iotconform run` shared by its files. */
#ifndef IOTC_RUNNER_RUN_H
#define IOTC_RUNNER_RUN_H

#include <pthread.h>
#include <signal.h>

#include "cases/cases.h"
#include "driver.h"
#include "harness/jreader.h"
#include "harness/progress.h"
#include "harness/shard.h"
#include "result.h"
#include "harness/serve.h"
#include "cases/target.h"

#define IOTC_RUNNER_MAX_LIST 64

/* Endpoints (one per profile) a run may start: every shipped profile at once, with room
 * for user profiles. A full run needs all of fixtures/profiles/ (9 today). */
#define IOTC_RUNNER_MAX_PROFILES 32

typedef struct iotc_runner_opts {
    const char *suites[IOTC_RUNNER_MAX_LIST];
    size_t n_suites;
    const char *filters[IOTC_RUNNER_MAX_LIST];
    size_t n_filters;
    const char *labels[IOTC_RUNNER_MAX_LIST];
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
} iotc_runner_opts;

/* One serve child and everything tied to it. */
typedef struct iotc_runner_target {
    char profile[64];
    char profile_path[1024];
    iotc_serve serve;
    iotc_jreader journal;
    iotc_env env;
    int started;
    int external;     /* no serve child, no journal: the endpoint is someone else's */
    char error[4096]; /* why it could not start */
} iotc_runner_target;

typedef struct iotc_runner_state {
    const iotc_runner_opts *opts;
    iotc_result *results;
    size_t n;
    iotc_runner_target targets[IOTC_RUNNER_MAX_PROFILES];
    size_t n_targets;
    size_t finished; /* for the [k/n] counter */
    iotc_progress progress;
    pthread_mutex_t lock;
    char run_tag[16];
    json_t *registry;       /* the endpoint's registry: SigV4 secrets for the door drivers */
    iotc_target *target;    /* --target, else NULL */
    json_t *not_applicable; /* the tables' N/A cells (borrowed from the caseset) */
} iotc_runner_state;

extern volatile sig_atomic_t iotc_run_interrupted;

int iotc_runner_opts_parse(int argc, char **argv, iotc_runner_opts *o, iotc_errtext *err);
void iotc_runner_opts_usage(FILE *out);

/* Runs results[i] against its target; fills status, observed, mismatches, journal. */
void iotc_runner_case_exec(iotc_runner_state *rs, size_t i);

/* Re-cuts every case's journal excerpt once all lines are in. */
void iotc_runner_case_final_journal(iotc_runner_state *rs);

#endif
