/* Policy files of the registry: read, bounded, parsed, named after the file. */
#include "policy_int.h"
#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The base name without a ".json" suffix: how the registry refers to the policy. */
static char *load__name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".json") == 0)
        n -= 5;
    char *name = malloc(n + 1);
    if (name) {
        memcpy(name, base, n);
        name[n] = '\0';
    }
    return name;
}

static int load__fail(iotc_errtext *err, int rc, const char *path, const char *what)
{
    if (err)
        iotc_errtext_set(err, 0, "%s: %s", path, what);
    return rc;
}

int iotc_policy_load_file(const char *path, struct iotc_policy **out, iotc_errtext *err)
{
    char *text = NULL;
    iotc_errtext detail = {0};
    FILE *f = NULL;
    int rc;

    if (!path || !out)
        return IOTC_ERR_INVALID;
    *out = NULL;
    f = fopen(path, "rb");
    if (!f)
        return load__fail(err, errno == ENOENT ? IOTC_ERR_NOT_FOUND : IOTC_ERR_IO, path,
                          strerror(errno));
    /* One byte more than accepted tells "too large" apart without trusting st_size. */
    text = malloc(IOTC_POLICY_MAX_BYTES + 1);
    if (!text) {
        rc = load__fail(err, IOTC_ERR_NOMEM, path, "out of memory");
        goto cleanup;
    }
    size_t len = fread(text, 1, IOTC_POLICY_MAX_BYTES + 1, f);
    if (ferror(f)) {
        rc = load__fail(err, IOTC_ERR_IO, path, "read error");
        goto cleanup;
    }
    rc = iotc_policy_parse(text, len, out, &detail);
    if (rc != IOTC_OK) {
        load__fail(err, rc, path, detail.msg);
        goto cleanup;
    }
    (*out)->name = load__name(path);
    if (!(*out)->name) {
        iotc_policy_free(*out);
        *out = NULL;
        rc = load__fail(err, IOTC_ERR_NOMEM, path, "out of memory");
    }
cleanup:
    free(text);
    fclose(f);
    return rc;
}
