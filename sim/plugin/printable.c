#include "plugin.h"

const char *iotc_plugin_printable(const char *s, char *out, size_t n)
{
    if (n == 0)
        return "";
    if (!s) {
        out[0] = '\0';
        return "(none)";
    }
    size_t i = 0;
    /* Leave room for the "..." that marks truncation and the terminator. */
    for (; s[i] && i + 4 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
    }
    if (s[i] && n >= 4) {
        out[i++] = '.';
        out[i++] = '.';
        out[i++] = '.';
    }
    out[i] = '\0';
    return out;
}
