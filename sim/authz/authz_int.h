/* Internals shared by the files of sim/authz. */
#ifndef IOTC_AUTHZ_INT_H
#define IOTC_AUTHZ_INT_H

#include "authz.h"
#include "common/errtext.h"

/* Formats a reason into why (if any) and returns err. */
int iotc_authz__fail(int err, iotc_errtext *why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* How every parser starts: IOTC_ERR_INVALID without out; else out (size bytes) is zeroed,
 * why emptied, and IOTC_ERR_INVALID returned when the input is missing (have_input false). */
int iotc_authz__begin(void *out, size_t size, int have_input, iotc_errtext *why);
/*
 * Parses "k=v&k=v" (len bytes) into c->params and picks out the authorizer
 * name and signature; rules in authz.h (iotc_authz_parse_username).
 */
int iotc_authz__parse_params(const char *q, size_t len, struct iotc_authz_creds *c,
                             iotc_errtext *why);

#endif
