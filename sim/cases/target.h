/*
 * An external endpoint for `iotconform run --target FILE`: the target file
 * (format "iotconform-target/1", strict), the driver environment it gives, and
 * which cases it cannot run (they need the emulator's registry, profiles or
 * scenarios, or credentials the file does not hold) with the reason.
 */
#ifndef IOTC_CASES_TARGET_H
#define IOTC_CASES_TARGET_H

#include <jansson.h>
#include <limits.h>
#include <stddef.h>

#include "cases.h"
#include "harness/diag.h"
#include "env.h"

#define IOTC_TARGET_FORMAT "iotconform-target/1"

typedef struct iotc_target {
    char path[PATH_MAX];
    char name[128];
    char host[256];
    char sni[256];
    char profile[64]; /* the emulator profile whose behaviour the target claims */
    char addr4[64], addr6[64];
    int port_8883, port_8443, port_443;
    char ca[PATH_MAX];
    char signing_key[PATH_MAX];
    json_t *doc;          /* the file as read */
    json_t *identities;   /* name -> {cert, key}, absolute paths */
    json_t *registry;     /* {"region", "credentials": [...]} in the registry's shape */
    json_t *authorizers;  /* logical -> target name */
    json_t *tokens;       /* logical -> target token */
    json_t *domain_names; /* the tables' domain name -> the target's */
    json_t *rows;         /* claimed rows */
    int default_authorizer;
} iotc_target;

/* Reads and checks the file; every problem goes to d (file + JSON path). Addresses
 * are resolved here (a family without one is not claimed). IOTC_OK or IOTC_ERR_CONFIG. */
int iotc_target_load(const char *path, iotc_target *t, iotc_diag *d);
void iotc_target_free(iotc_target *t);

/* Fills the driver environment (ports, addresses, files, credentials). */
void iotc_target_env(const iotc_target *t, iotc_env *env);

/* 0 when the case can run against the target; 1 with the reason in why.
 * registry: the emulator's (to name a certificate's status), may be NULL. */
int iotc_target_skip(const iotc_target *t, const iotc_case *c, const json_t *registry, char *why,
                     size_t len);

/* The case's expect without what only the emulator can show (journal_has).
 * New reference; *dropped gets the names removed (new array) when not NULL. */
json_t *iotc_target_expect(const iotc_case *c, json_t **dropped);

/* The results.json "target" object. New reference. */
json_t *iotc_target_json(const iotc_target *t);

#endif
