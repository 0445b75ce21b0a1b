/* `iotconform certify` options and the results document (certify_main.c, opts.c, doc.c). */
#ifndef IOTC_CERTIFY_MAIN_H
#define IOTC_CERTIFY_MAIN_H

#include <stdio.h>
#include "common/errtext.h"

#include "cert_int.h"
#include "harness/shard.h"

typedef struct iotc_certify_opts {
    const char *device, *adapter, *suite, *out_dir, *name, *pki_dir, *catalogue, *serve_bin;
    const char *refdevice, *adapter_dir, *device_cert;
    double scale;
    unsigned long long seed;
    int jobs, list, help, fail_on_warn, scale_given, seed_given;
    int verbose, quiet; /* one line per case / failures only (harness/progress.h) */
    iotc_shard shard;   /* --shard K/N; n == 0: every selected case */
} iotc_certify_opts;

int iotc_certify_opts_parse(int argc, char **argv, iotc_certify_opts *o, iotc_errtext *err);
void iotc_certify_usage(FILE *out);

/* The results.json document of a certification run (reports/SCHEMA.md, kind certification). */
json_t *iotc_certify_document(const iotc_certify_opts *o, const iotc_certify_run *r,
                              const char *device_name, iotc_certify_outcome *res, size_t n,
                              int argc, char **argv, const char *started, long duration_ms,
                              const char *run_id);

#endif
