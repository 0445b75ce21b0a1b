/*
 * The identity stamp the front door puts on every CONNECT it relays to mosquitto.
 * Username = principal; password = "v1:" + hex(HMAC-SHA256(secret, client_id "\n" principal)).
 * The secret is random per `serve` run and reaches the plugin through a 0600 file,
 * so a client that bypassed the front door (it cannot: the broker socket is in a
 * private directory) still could not forge a principal.
 */
#ifndef IOTC_STAMP_H
#define IOTC_STAMP_H

#include <stddef.h>
#include <stdint.h>

#define IOTC_STAMP_SECRET_LEN 32
#define IOTC_STAMP_LEN        (3 + 64) /* "v1:" + 64 hex digits */

/* out must hold IOTC_STAMP_LEN + 1 bytes. Returns IOTC_OK or IOTC_ERR_CRYPTO. */
int iotc_stamp_make(const uint8_t *secret, size_t secret_len, const char *client_id,
                    size_t client_id_len, const char *principal, size_t principal_len, char *out);
/* Returns IOTC_OK when stamp is right for (client_id, principal), IOTC_ERR_DENIED otherwise. */
int iotc_stamp_check(const uint8_t *secret, size_t secret_len, const char *client_id,
                     size_t client_id_len, const char *principal, size_t principal_len,
                     const char *stamp, size_t stamp_len);
/* Reads a secret file written by the front door (exactly IOTC_STAMP_SECRET_LEN bytes). */
int iotc_stamp_load_secret(const char *path, uint8_t *secret);

#endif
