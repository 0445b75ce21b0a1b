/*
 * The runner's side of door credentials: a case's client.auth (or another auth
 * object of it) resolved against the registry and the external target's
 * mappings into the client layer's iotc_door_auth.
 */
#ifndef IOTC_CASES_DOOR_AUTH_CASE_H
#define IOTC_CASES_DOOR_AUTH_CASE_H

#include <stddef.h>
#include "common/errtext.h"

#include "client/door_auth.h"
#include "cases.h"
#include "env.h"

/* The MQTT username's user part on custom-auth rows. */
#define IOTC_DOOR_AUTH_USER "iotconform"

/* Reads client.auth (absent: kind NONE). Errors name the problem in err. */
int iotc_door_auth_resolve(const iotc_env *env, const iotc_case *c, iotc_door_auth *a,
                           iotc_errtext *err);
/* Same for another auth object of the case (client.subscriber_auth); NULL = NONE. */
int iotc_door_auth_from(const iotc_env *env, const iotc_case *c, json_t *auth, iotc_door_auth *a,
                        iotc_errtext *err);

#endif
