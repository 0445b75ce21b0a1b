#include "results.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/err.h"

#if defined(IOTC_HAVE_REPORT) && __has_include("report.h")
#include "report.h"
#define RESULTS__RENDER 1
#endif

const char *iotc_status_name(iotc_status s)
{
    switch (s) {
    case IOTC_ST_PASSED:
        return "passed";
    case IOTC_ST_FAILED:
        return "failed";
    case IOTC_ST_ERROR:
        return "error";
    case IOTC_ST_SKIPPED:
        return "skipped";
    }
    return "error";
}

const char *iotc_status_verdict(iotc_status s)
{
    switch (s) {
    case IOTC_ST_PASSED:
        return "PASS";
    case IOTC_ST_FAILED:
        return "FAIL";
    case IOTC_ST_ERROR:
        return "ERROR";
    case IOTC_ST_SKIPPED:
        return "SKIPPED";
    }
    return "ERROR";
}

void iotc_now_iso(char *out, size_t len)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000));
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

json_t *iotc_result_case_json(const iotc_result *r)
{
    const iotc_case *c = r->c;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(c->id));
    json_object_set_new(o, "template", json_string(c->template));
    json_object_set(o, "title", json_object_get(c->def, "title"));
    json_object_set(o, "suite", json_object_get(c->def, "suite"));
    json_object_set_new(o, "row", json_string(c->row->id));
    json_object_set_new(o, "ip_family", json_string(iotc_af_name(c->af)));
    json_object_set_new(o, "tls_version", json_string(c->tls));
    json_object_set(o, "family", json_object_get(c->def, "family"));
    json_object_set(o, "requirement", json_object_get(c->def, "requirement"));
    json_object_set(o, "profile", json_object_get(c->def, "profile"));
    json_object_set(o, "twin", json_object_get(c->def, "twin"));
    json_object_set(o, "labels", json_object_get(c->def, "labels"));
    json_object_set(o, "client", json_object_get(c->def, "client"));
    json_object_set_new(o, "status", json_string(iotc_status_name(r->status)));
    json_object_set_new(o, "verdict", json_string(iotc_status_verdict(r->status)));
    json_object_set_new(o, "reason", json_string(r->reason));
    json_object_set_new(o, "mismatches", r->mismatches ? json_incref(r->mismatches) : json_array());
    json_object_set(o, "expected", json_object_get(c->def, "expect"));
    json_object_set_new(o, "observed", r->observed ? json_incref(r->observed) : json_object());
    json_object_set_new(o, "started_at", json_string(r->started_at));
    json_object_set_new(o, "duration_ms", json_integer(r->duration_ms));
    json_object_set_new(o, "journal", r->journal ? json_incref(r->journal) : json_array());
    return o;
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

int iotc_results_write(json_t *doc, const char *out_dir, char *report, size_t rlen, char *err,
                       size_t errlen)
{
    char path[1100], tmp[1100];

    if (iotc_mkdirs(out_dir) != IOTC_OK) {
        snprintf(err, errlen, "cannot create %s", out_dir);
        return IOTC_ERR_IO;
    }
    snprintf(path, sizeof(path), "%s/results.json", out_dir);
    snprintf(tmp, sizeof(tmp), "%s/.results.json.%d", out_dir, (int)getpid());
    if (json_dump_file(doc, tmp, JSON_INDENT(2) | JSON_ENSURE_ASCII) != 0 || rename(tmp, path)) {
        snprintf(err, errlen, "cannot write %s", path);
        unlink(tmp);
        return IOTC_ERR_IO;
    }
    snprintf(report, rlen, "%s", path);
#ifdef RESULTS__RENDER
    {
        char rerr[512] = "";
        char html[1100];
        struct stat st;
        /* The renderer recomputes totals and writes junit.xml, summary.md, report.html. */
        if (iotc_report_render_json(doc, out_dir, rerr, sizeof(rerr)) != 0) {
            snprintf(err, errlen, "report rendering failed: %s", rerr);
            return IOTC_ERR_IO;
        }
        snprintf(html, sizeof(html), "%s/report.html", out_dir);
        if (stat(html, &st) == 0)
            snprintf(report, rlen, "%s", html);
    }
#endif
    return IOTC_OK;
}
