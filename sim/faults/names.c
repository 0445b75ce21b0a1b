/* Fault and direction names as they appear in fleet specs and reports. */
#include "faults.h"
#include "common/err.h"

#include <string.h>

static const char *const names__kind[IOTC_FAULT_KIND_COUNT] = {
    [IOTC_FAULT_NONE] = "none",
    [IOTC_FAULT_RESET] = "reset",
    [IOTC_FAULT_BLACKHOLE] = "blackhole",
    [IOTC_FAULT_DELAY] = "delay",
    [IOTC_FAULT_BANDWIDTH] = "bandwidth",
    [IOTC_FAULT_HALF_OPEN] = "half_open",
    [IOTC_FAULT_ENDPOINT_RESTART] = "endpoint_restart",
    [IOTC_FAULT_BROKER_RESTART] = "broker_restart",
};

const char *iotc_fault_name(enum iotc_fault_kind k)
{
    return (unsigned)k < IOTC_FAULT_KIND_COUNT ? names__kind[k] : "?";
}

enum iotc_fault_kind iotc_fault_parse(const char *name)
{
    for (int k = 1; k < IOTC_FAULT_KIND_COUNT; k++)
        if (name && strcmp(name, names__kind[k]) == 0)
            return (enum iotc_fault_kind)k;
    return IOTC_FAULT_NONE;
}

const char *iotc_fault_dir_name(enum iotc_fault_dir d)
{
    return d == IOTC_DIR_UP ? "up" : d == IOTC_DIR_DOWN ? "down" : "both";
}

int iotc_fault_dir_parse(const char *name, enum iotc_fault_dir *out)
{
    if (!name || strcmp(name, "both") == 0)
        *out = IOTC_DIR_BOTH;
    else if (strcmp(name, "up") == 0)
        *out = IOTC_DIR_UP;
    else if (strcmp(name, "down") == 0)
        *out = IOTC_DIR_DOWN;
    else
        return IOTC_ERR_INVALID;
    return IOTC_OK;
}

bool iotc_fault_is_network(enum iotc_fault_kind k)
{
    return k >= IOTC_FAULT_RESET && k <= IOTC_FAULT_HALF_OPEN;
}
