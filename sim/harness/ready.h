/* The one reader of serve's `IOTCONFORM_READY {json}` line (endpoint/serve.c writes it
 * once every listener is bound): wait for it on the child's stdout, read the ports. */
#ifndef IOTC_HARNESS_READY_H
#define IOTC_HARNESS_READY_H

#include <jansson.h>
#include "common/errtext.h"
#include <stddef.h>
#include <stdio.h>

#define IOTC_READY_PREFIX "IOTCONFORM_READY "

typedef struct iotc_ready {
    int port_8883, port_8443, port_443; /* the real ports of the logical ones */
    json_t *obj;                        /* the whole READY object, owned */
} iotc_ready;

/* Reads fd until the READY line, the end of the child's output or timeout_ms. Output
 * before it (and the line itself) is copied to log when not NULL. On success r holds
 * the object and every port is in 1..65535; otherwise err says why (IOTC_ERR_TIMEOUT,
 * IOTC_ERR_IO when the child closed its stdout first, IOTC_ERR_PROTOCOL for a line
 * that cannot be read). */
int iotc_ready_wait(int fd, int timeout_ms, FILE *log, iotc_ready *r, iotc_errtext *err);

/* Parses the JSON after the prefix. */
int iotc_ready_parse(const char *json, iotc_ready *r, iotc_errtext *err);

void iotc_ready_free(iotc_ready *r);

#endif
