/*
 * mosquitto 2.0 plugin (interface version 5) for the broker behind the front door.
 * It trusts nothing but the front door's stamp: every CONNECT must carry
 * username = principal and password = iotc_stamp_make(secret, client id, principal).
 * Options: plugin_opt_secret_file <path> (required; a 0600 file written by serve).
 */
#include "plugin.h"

#include "common/err.h"

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLUGIN_API_VERSION 5

/* Every event the plugin handles; cleanup unregisters exactly these. */
static const struct {
    int event;
    MOSQ_FUNC_generic_callback fn;
} plugin__handlers[] = {
    {MOSQ_EVT_BASIC_AUTH, iotc_plugin_basic_auth},
};
#define PLUGIN_NHANDLERS (sizeof plugin__handlers / sizeof plugin__handlers[0])

static mosquitto_plugin_id_t *plugin__id;

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
    for (int i = 0; i < supported_version_count; i++) {
        if (supported_versions[i] == PLUGIN_API_VERSION)
            return PLUGIN_API_VERSION;
    }
    return -1;
}

static const char *plugin__option(const struct mosquitto_opt *options, int option_count,
                                  const char *key)
{
    for (int i = 0; i < option_count; i++) {
        if (options[i].key && strcmp(options[i].key, key) == 0)
            return options[i].value;
    }
    return NULL;
}

/* The secret is the only thing standing between a local process and a forged
 * principal, so a file others could read (or swap) is refused, not tolerated. */
static int plugin__load_secret(const char *path, uint8_t *secret)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "iotc_plugin: cannot stat secret file %s", path);
        return IOTC_ERR_NOT_FOUND;
    }
    if (!S_ISREG(st.st_mode)) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "iotc_plugin: secret file %s is not a regular file",
                             path);
        return IOTC_ERR_CONFIG;
    }
    if ((st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
        mosquitto_log_printf(MOSQ_LOG_ERR,
                             "iotc_plugin: secret file %s must be owned by this user and mode "
                             "0600 (is %03o)",
                             path, (unsigned)(st.st_mode & 0777));
        return IOTC_ERR_CONFIG;
    }
    int rc = iotc_stamp_load_secret(path, secret);
    if (rc != IOTC_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "iotc_plugin: secret file %s: %s (want %d bytes)", path,
                             iotc_strerror(rc), IOTC_STAMP_SECRET_LEN);
    }
    return rc;
}

static void plugin__unregister(size_t n)
{
    while (n-- > 0)
        mosquitto_callback_unregister(plugin__id, plugin__handlers[n].event, plugin__handlers[n].fn,
                                      NULL);
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *options, int option_count)
{
    struct iotc_plugin *p = NULL;
    size_t registered = 0;
    int rc = MOSQ_ERR_INVAL;

    const char *secret_file = plugin__option(options, option_count, "secret_file");
    if (!secret_file || !secret_file[0]) {
        mosquitto_log_printf(MOSQ_LOG_ERR,
                             "iotc_plugin: plugin_opt_secret_file is required (the front door's "
                             "stamp secret); refusing to start");
        goto cleanup;
    }
    p = calloc(1, sizeof *p);
    if (!p) {
        rc = MOSQ_ERR_NOMEM;
        goto cleanup;
    }
    if (plugin__load_secret(secret_file, p->secret) != IOTC_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "iotc_plugin: refusing to start without a secret");
        goto cleanup;
    }
    plugin__id = identifier;
    for (; registered < PLUGIN_NHANDLERS; registered++) {
        int r = mosquitto_callback_register(identifier, plugin__handlers[registered].event,
                                            plugin__handlers[registered].fn, NULL, p);
        if (r != MOSQ_ERR_SUCCESS) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "iotc_plugin: cannot register event %d: %s",
                                 plugin__handlers[registered].event, mosquitto_strerror(r));
            rc = r;
            goto cleanup;
        }
    }
    *userdata = p;
    return MOSQ_ERR_SUCCESS;

cleanup:
    plugin__unregister(registered);
    if (p) {
        OPENSSL_cleanse(p->secret, sizeof p->secret);
        free(p);
    }
    return rc;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
    struct iotc_plugin *p = userdata;
    plugin__unregister(PLUGIN_NHANDLERS);
    if (p) {
        OPENSSL_cleanse(p->secret, sizeof p->secret);
        free(p);
    }
    return MOSQ_ERR_SUCCESS;
}
