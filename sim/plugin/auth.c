/* Identity check: the username is the principal, the password its stamp (stamp.h). */
#include "plugin.h"

#include "common/err.h"

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <string.h>

/* Enough for a 128-byte AWS client id and a readable principal in a log line. */
#define AUTH_LOG_FIELD 160

static int auth__refuse(const char *client_id, const char *username, const char *why)
{
    char id[AUTH_LOG_FIELD], user[AUTH_LOG_FIELD];
    mosquitto_log_printf(MOSQ_LOG_WARNING, "iotc_plugin: refused client '%s' (principal '%s'): %s",
                         iotc_plugin_printable(client_id, id, sizeof id),
                         iotc_plugin_printable(username, user, sizeof user), why);
    return MOSQ_ERR_AUTH;
}

int iotc_plugin_basic_auth(int event, void *event_data, void *userdata)
{
    const struct mosquitto_evt_basic_auth *ed = event_data;
    const struct iotc_plugin *p = userdata;
    if (event != MOSQ_EVT_BASIC_AUTH || !ed || !p)
        return MOSQ_ERR_AUTH;

    const char *client_id = mosquitto_client_id(ed->client);
    if (!client_id)
        return auth__refuse(NULL, ed->username, "no client id");
    if (!ed->username || !ed->username[0])
        return auth__refuse(client_id, NULL, "no principal (username)");
    if (!ed->password)
        return auth__refuse(client_id, ed->username, "no identity stamp (password)");

    int rc =
        iotc_stamp_check(p->secret, sizeof p->secret, client_id, strlen(client_id), ed->username,
                         strlen(ed->username), ed->password, strlen(ed->password));
    if (rc != IOTC_OK)
        return auth__refuse(client_id, ed->username, "identity stamp does not verify");
    return MOSQ_ERR_SUCCESS;
}
