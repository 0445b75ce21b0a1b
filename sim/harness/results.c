#include "results.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/err.h"
#include "report/report.h"

#ifndef IOTC_VERSION
#define IOTC_VERSION "0.0.0"
#endif
#ifndef IOTC_GIT_REVISION
#define IOTC_GIT_REVISION "unknown"
#endif

const char *iotc_results_tool_version(void)
{
    return IOTC_VERSION;
}

const char *iotc_results_git_revision(void)
{
    return IOTC_GIT_REVISION;
}

void iotc_random_hex(char *out, size_t bytes)
{
    unsigned char b[16];
    if (bytes > sizeof(b))
        bytes = sizeof(b);
    if (RAND_bytes(b, (int)bytes) != 1)
        memset(b, 0x5a, bytes);
    for (size_t i = 0; i < bytes; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

void iotc_uuid_v4(char *out)
{
    char h[33];
    iotc_random_hex(h, 16);
    snprintf(out, 37, "%.8s-%.4s-4%.3s-a%.3s-%.12s", h, h + 8, h + 13, h + 17, h + 20);
}

int iotc_mkdirs(const char *dir)
{
    char tmp[1024];
    size_t n = (size_t)snprintf(tmp, sizeof(tmp), "%s", dir);
    if (n >= sizeof(tmp))
        return IOTC_ERR_INVALID;
    for (size_t i = 1; i < n; i++) {
        if (tmp[i] != '/')
            continue;
        tmp[i] = '\0';
        mkdir(tmp, 0755);
        tmp[i] = '/';
    }
    if (mkdir(tmp, 0755) != 0) {
        struct stat st;
        if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
            return IOTC_ERR_IO;
    }
    return IOTC_OK;
}

int iotc_results_write(json_t *doc, const char *out_dir, char *report, size_t rlen,
                       iotc_errtext *err)
{
    char path[1100], tmp[1100];

    if (iotc_mkdirs(out_dir) != IOTC_OK) {
        return iotc_errtext_set(err, IOTC_ERR_IO, "cannot create %s", out_dir);
    }
    snprintf(path, sizeof(path), "%s/results.json", out_dir);
    snprintf(tmp, sizeof(tmp), "%s/.results.json.%d", out_dir, (int)getpid());
    if (json_dump_file(doc, tmp, JSON_INDENT(2) | JSON_ENSURE_ASCII) != 0 || rename(tmp, path)) {
        iotc_errtext_set(err, 0, "cannot write %s", path);
        unlink(tmp);
        return IOTC_ERR_IO;
    }
    snprintf(report, rlen, "%s", path);
    {
        iotc_errtext rerr = {0};
        char html[1100];
        struct stat st;
        /* The renderer recomputes totals and writes junit.xml, summary.md, report.html. */
        if (iotc_report_render_json(doc, out_dir, &rerr) != 0) {
            return iotc_errtext_set(err, IOTC_ERR_IO, "report rendering failed: %s", rerr.msg);
        }
        snprintf(html, sizeof(html), "%s/report.html", out_dir);
        if (stat(html, &st) == 0)
            snprintf(report, rlen, "%s", html);
    }
    return IOTC_OK;
}
