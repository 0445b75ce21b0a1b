/* The HTML report's template, CSS and JS, compiled in from reports/assets. */
#include "report_internal.h"
#include "report_assets.h"

#include <string.h>

const char *iotc_report_asset(const char *name)
{
    for (size_t i = 0; i < sizeof rep_assets / sizeof rep_assets[0]; i++)
        if (strcmp(rep_assets[i].name, name) == 0)
            return (const char *)rep_assets[i].data;
    return NULL;
}
