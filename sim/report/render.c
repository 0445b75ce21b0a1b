/*
 * Entry points: load + validate + merge + write every output, and the
 * `iotconform report` command.
 */
#include "report_internal.h"
#include "common/err.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p: the output directory usually does not exist on a fresh CI runner. */
static int render__mkdirs(const char *dir, iotc_errtext *err)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) {
        iotc_report_err(err, "%s: invalid output directory", dir);
        return IOTC_ERR_INVALID;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            iotc_report_err(err, "%s: cannot create directory: %s", path, strerror(errno));
            return IOTC_ERR_IO;
        }
        path[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        iotc_report_err(err, "%s: not a directory", dir);
        return IOTC_ERR_IO;
    }
    return IOTC_OK;
}

/* Write to a temporary name and rename, so a reader never sees half a report. */
static int render__write(const char *dir, const char *name, const struct iotc_buf *b,
                         iotc_errtext *err)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name) >= (int)sizeof tmp) {
        iotc_report_err(err, "%s: path too long", dir);
        return IOTC_ERR_INVALID;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        iotc_report_err(err, "%s: cannot write: %s", tmp, strerror(errno));
        return IOTC_ERR_IO;
    }
    bool ok = (b->len == 0 || fwrite(b->p, 1, b->len, f) == b->len);
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        iotc_report_err(err, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        return IOTC_ERR_IO;
    }
    return IOTC_OK;
}

typedef int (*render__fn)(json_t *results, struct iotc_buf *out);

static int render__json_text(json_t *results, struct iotc_buf *out)
{
    char *text = json_dumps(results, JSON_INDENT(2));
    if (!text)
        return IOTC_ERR_NOMEM;
    int rc = iotc_report_puts(out, text);
    if (rc == IOTC_OK)
        rc = iotc_buf_u8(out, '\n');
    free(text);
    return rc;
}

/* Writes every output of an already validated document. */
static int render__outputs(json_t *results, const char *out_dir, iotc_errtext *err)
{
    static const struct {
        const char *file;
        render__fn fn;
    } outputs[] = {
        {"results.json", render__json_text},
        {"junit.xml", iotc_report_junit},
        {"summary.md", iotc_report_summary_md},
        {"report.html", iotc_report_html},
    };
    int rc = render__mkdirs(out_dir, err);
    for (size_t i = 0; rc == IOTC_OK && i < sizeof outputs / sizeof outputs[0]; i++) {
        struct iotc_buf b = {0};
        rc = outputs[i].fn(results, &b);
        if (rc != IOTC_OK)
            iotc_report_err(err, "%s/%s: rendering failed: %s", out_dir, outputs[i].file,
                            iotc_strerror(rc));
        else
            rc = render__write(out_dir, outputs[i].file, &b, err);
        iotc_buf_free(&b);
    }
    return rc;
}

int iotc_report_render_json(json_t *results, const char *out_dir, iotc_errtext *err)
{
    const char *name = "<in-memory results>";
    json_t *merged = NULL;
    if (!results || !out_dir) {
        iotc_report_err(err, "no results or output directory given");
        return IOTC_ERR_INVALID;
    }
    int rc = iotc_report_validate(results, name, err);
    if (rc != IOTC_OK)
        return rc;
    /* Merging one document recomputes totals without touching the caller's object. */
    rc = iotc_report_merge(&results, &name, 1, &merged, err);
    if (rc == IOTC_OK)
        rc = render__outputs(merged, out_dir, err);
    json_decref(merged);
    return rc;
}

int iotc_report_render(const char *const *paths, size_t n, const char *out_dir, iotc_errtext *err)
{
    json_t **docs = NULL, *merged = NULL;
    int rc = IOTC_OK;

    if (!paths || n == 0 || !out_dir) {
        iotc_report_err(err, "no results files or output directory given");
        return IOTC_ERR_INVALID;
    }
    docs = calloc(n, sizeof *docs);
    if (!docs) {
        iotc_report_err(err, "out of memory");
        return IOTC_ERR_NOMEM;
    }
    for (size_t i = 0; i < n && rc == IOTC_OK; i++)
        rc = iotc_report_load(paths[i], &docs[i], err);
    /* Versions are compared before each file is checked, so mixing an old and a
     * new shard names both files instead of only the one this build cannot read. */
    for (size_t i = 1; i < n && rc == IOTC_OK; i++) {
        json_t *v0 = json_object_get(docs[0], "schema_version");
        json_t *vi = json_object_get(docs[i], "schema_version");
        if (json_is_integer(v0) && json_is_integer(vi) &&
            json_integer_value(v0) != json_integer_value(vi)) {
            iotc_report_err(
                err,
                "%s has schema_version %" JSON_INTEGER_FORMAT " but %s has schema_version "
                "%" JSON_INTEGER_FORMAT ": shards of different versions cannot be merged",
                paths[i], json_integer_value(vi), paths[0], json_integer_value(v0));
            rc = IOTC_ERR_UNSUPPORTED;
        }
    }
    for (size_t i = 0; i < n && rc == IOTC_OK; i++)
        rc = iotc_report_validate(docs[i], paths[i], err);
    if (rc == IOTC_OK)
        rc = iotc_report_merge(docs, paths, n, &merged, err);
    if (rc == IOTC_OK)
        rc = render__outputs(merged, out_dir, err);
    for (size_t i = 0; i < n; i++)
        json_decref(docs[i]);
    free(docs);
    json_decref(merged);
    return rc;
}

static void render__usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [-o DIR] results.json...\n"
            "Validates and merges results files and writes DIR/results.json, junit.xml,\n"
            "summary.md and report.html (DIR defaults to %s).\n",
            prog, IOTC_REPORT_DEFAULT_DIR);
}

int iotc_report_main(int argc, char **argv)
{
    const char *out_dir = IOTC_REPORT_DEFAULT_DIR;
    const char *prog = argc > 0 && argv[0] ? argv[0] : "iotconform report";
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1; /* the CLI may have run getopt already for its own options */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+o:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o':
            out_dir = optarg;
            break;
        case 'h':
            render__usage(stdout, prog);
            return 0;
        default:
            fprintf(stderr, "%s: unknown option or missing argument\n", prog);
            render__usage(stderr, prog);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "%s: no results files given\n", prog);
        render__usage(stderr, prog);
        return 2;
    }
    iotc_errtext err = {0};
    int rc = iotc_report_render((const char *const *)(argv + optind), (size_t)(argc - optind),
                                out_dir, &err);
    if (rc != IOTC_OK) {
        fprintf(stderr, "%s: %s\n", prog, err.msg[0] ? err.msg : iotc_strerror(rc));
        return 1;
    }
    printf("%s/report.html\n", out_dir);
    return 0;
}
