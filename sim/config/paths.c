/* Default locations, resolved once per process (see paths.h for the order). */
#include "paths.h"
#include "common/err.h"
#include "common/spawn.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef IOTC_SOURCE_DIR
#define IOTC_SOURCE_DIR "."
#endif
#ifndef IOTC_BINARY_DIR
#define IOTC_BINARY_DIR "./build"
#endif
#ifndef IOTC_PLUGIN_BUILD_PATH
#define IOTC_PLUGIN_BUILD_PATH IOTC_BINARY_DIR "/sim/plugin/iotc_plugin.so"
#endif
#ifndef IOTC_MOSQUITTO_BIN
#define IOTC_MOSQUITTO_BIN "/usr/sbin/mosquitto"
#endif
#ifndef IOTC_INSTALL_DATADIR
#define IOTC_INSTALL_DATADIR "share/iotconform"
#endif
#ifndef IOTC_INSTALL_PKGLIBDIR
#define IOTC_INSTALL_PKGLIBDIR "lib/iotconform"
#endif
#ifndef IOTC_PKI_NAMES
#define IOTC_PKI_NAMES "localhost,iot.example.test"
#endif

static struct {
    bool installed;
    char prefix[PATH_MAX];
    char data[PATH_MAX];
    char suites[PATH_MAX];
    char profiles[PATH_MAX];
    char adapters[PATH_MAX];
    char registry[PATH_MAX];
    char catalogue[PATH_MAX];
    char plugin[PATH_MAX];
    char mosquitto[PATH_MAX];
    char refdevice[PATH_MAX];
    char pki[PATH_MAX];
    bool pki_is_user; /* the per-user directory: generated here on first use */
} paths__s;
static pthread_once_t paths__once = PTHREAD_ONCE_INIT;

static const char *paths__env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool paths__exists(const char *path, mode_t type)
{
    struct stat st;
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == type;
}

/* Truncation leaves an empty string: a path that names nothing rather than a wrong one. */
static void paths__set(char *out, const char *a, const char *b)
{
    int n = snprintf(out, PATH_MAX, "%s%s", a, b ? b : "");
    if (n < 0 || n >= PATH_MAX)
        out[0] = '\0';
}

/* <prefix> when this executable is <prefix>/<dir>/iotconform and <prefix>/share/iotconform
 * holds the case tables. */
static bool paths__find_prefix(char *prefix, size_t len)
{
    char exe[PATH_MAX], probe[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            return false;
        *slash = '\0';
    }
    snprintf(probe, sizeof probe, "%s/" IOTC_INSTALL_DATADIR "/suites", exe[0] ? exe : "");
    if (!paths__exists(probe, S_IFDIR) || strlen(exe) >= len)
        return false;
    snprintf(prefix, len, "%s", exe);
    return true;
}

static void paths__pki_default(void)
{
    const char *env = paths__env("IOTCONFORM_PKI"), *xdg, *home;
    paths__s.pki_is_user = false;
    if (env) {
        paths__set(paths__s.pki, env, NULL);
    } else if (!paths__s.installed) {
        paths__set(paths__s.pki, IOTC_BINARY_DIR, "/pki");
    } else if ((xdg = paths__env("XDG_DATA_HOME"))) {
        paths__set(paths__s.pki, xdg, "/iotconform/pki");
        paths__s.pki_is_user = true;
    } else if ((home = paths__env("HOME"))) {
        paths__set(paths__s.pki, home, "/.local/share/iotconform/pki");
        paths__s.pki_is_user = true;
    } else {
        paths__s.pki[0] = '\0';
    }
}

/* The build tree's reference device: next to the binary (tests copy it there), in the
 * binary's own build tree, or in the configured one. */
static void paths__refdevice_build(void)
{
    char dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    dir[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    paths__set(paths__s.refdevice, dir, "/iotc_refdevice");
    if (paths__exists(paths__s.refdevice, S_IFREG))
        return;
    paths__set(paths__s.refdevice, dir, "/sim/refdevice/iotc_refdevice");
    if (paths__exists(paths__s.refdevice, S_IFREG))
        return;
    paths__set(paths__s.refdevice, IOTC_BINARY_DIR, "/sim/refdevice/iotc_refdevice");
}

static void paths__load(void)
{
    const char *env;
    char lib[PATH_MAX];
    memset(&paths__s, 0, sizeof paths__s);
    paths__s.installed = paths__find_prefix(paths__s.prefix, sizeof paths__s.prefix);
    paths__set(lib, paths__s.prefix, "/" IOTC_INSTALL_PKGLIBDIR);

    if ((env = paths__env("IOTCONFORM_DATA_DIR")))
        paths__set(paths__s.data, env, NULL);
    else if (paths__s.installed)
        paths__set(paths__s.data, paths__s.prefix, "/" IOTC_INSTALL_DATADIR);
    else
        paths__set(paths__s.data, IOTC_SOURCE_DIR, NULL);

    env = paths__env("IOTCONFORM_SUITES");
    paths__set(paths__s.suites, env ? env : paths__s.data, env ? NULL : "/suites");
    env = paths__env("IOTCONFORM_PROFILES");
    paths__set(paths__s.profiles, env ? env : paths__s.data, env ? NULL : "/fixtures/profiles");
    env = paths__env("IOTCONFORM_ADAPTERS");
    paths__set(paths__s.adapters, env ? env : paths__s.data, env ? NULL : "/fixtures/adapters");
    env = paths__env("IOTCONFORM_REGISTRY");
    paths__set(paths__s.registry, env ? env : paths__s.data,
               env ? NULL : "/fixtures/registry.json");
    paths__set(paths__s.catalogue, paths__s.data, "/suites/certification.json");

    env = paths__env("IOTCONFORM_PLUGIN");
    if (env)
        paths__set(paths__s.plugin, env, NULL);
    else if (paths__s.installed)
        paths__set(paths__s.plugin, lib, "/iotc_plugin.so");
    else
        paths__set(paths__s.plugin, IOTC_PLUGIN_BUILD_PATH, NULL);
    env = paths__env("IOTCONFORM_MOSQUITTO");
    paths__set(paths__s.mosquitto, env ? env : IOTC_MOSQUITTO_BIN, NULL);
    env = paths__env("IOTCONFORM_REFDEVICE");
    if (env)
        paths__set(paths__s.refdevice, env, NULL);
    else if (paths__s.installed)
        paths__set(paths__s.refdevice, lib, "/iotc_refdevice");
    else
        paths__refdevice_build();
    paths__pki_default();
}

static void paths__init(void)
{
    pthread_once(&paths__once, paths__load);
}

void iotc_paths_reload(void)
{
    paths__init();
    paths__load();
}

bool iotc_paths_installed(void)
{
    paths__init();
    return paths__s.installed;
}

const char *iotc_paths_data_dir(void)
{
    paths__init();
    return paths__s.data;
}

const char *iotc_paths_suites_dir(void)
{
    paths__init();
    return paths__s.suites;
}

const char *iotc_paths_profiles_dir(void)
{
    paths__init();
    return paths__s.profiles;
}

const char *iotc_paths_adapters_dir(void)
{
    paths__init();
    return paths__s.adapters;
}

const char *iotc_paths_registry(void)
{
    paths__init();
    return paths__s.registry;
}

const char *iotc_paths_catalogue(void)
{
    paths__init();
    return paths__s.catalogue;
}

const char *iotc_paths_plugin(void)
{
    paths__init();
    return paths__s.plugin;
}

const char *iotc_paths_mosquitto(void)
{
    paths__init();
    return paths__s.mosquitto;
}

const char *iotc_paths_refdevice(void)
{
    paths__init();
    return paths__s.refdevice;
}

int iotc_paths_profile(const char *arg, char *out, size_t len)
{
    int n;
    if (!arg || !out || len == 0)
        return IOTC_ERR_INVALID;
    if (strchr(arg, '/') || strstr(arg, ".json"))
        n = snprintf(out, len, "%s", arg);
    else
        n = snprintf(out, len, "%s/%s.json", iotc_paths_profiles_dir(), arg);
    return n < 0 || (size_t)n >= len ? IOTC_ERR_TOO_LARGE : IOTC_OK;
}

int iotc_paths_pki_file(char *out, size_t len, const char *pki, const char *name, const char *ext)
{
    if (!out || len == 0 || !pki || !name)
        return IOTC_ERR_INVALID;
    int n = snprintf(out, len, "%s/%s%s", pki, name, ext ? ext : "");
    return n < 0 || (size_t)n >= len ? IOTC_ERR_TOO_LARGE : IOTC_OK;
}

const char *iotc_paths_pki_default(void)
{
    paths__init();
    return paths__s.pki;
}

/*
 * Runs the installed recipe (certs/mkpki.sh) into the per-user directory. It is
 * idempotent and cheap when everything is in place, and renews what is about to
 * expire, as the build does for the build tree. Its progress goes to stderr: stdout
 * carries serve's READY line.
 */
static int paths__mkpki(const char *dir, iotc_errtext *err)
{
    char script[PATH_MAX], bundle[PATH_MAX];
    char *argv[] = {"/bin/bash", script, (char *)dir, "--names", IOTC_PKI_NAMES, NULL};
    /* Its progress goes to stderr so that serve's READY line stays alone on stdout. */
    iotc_spawn_opts so = {.argv = argv, .out = {.kind = IOTC_SPAWN_FD, .fd = STDERR_FILENO}};
    pid_t pid;
    int status = 0, rc;

    paths__set(script, paths__s.data, "/certs/mkpki.sh");
    if (!paths__exists(script, S_IFREG)) {
        return iotc_errtext_set(err, IOTC_ERR_NOT_FOUND,
                                "no test PKI and no recipe to make one (%s); pass --pki DIR",
                                script);
    }
    paths__set(bundle, dir, "/" IOTC_PKI_CA_BUNDLE);
    if (!paths__exists(bundle, S_IFREG))
        fprintf(stderr, "iotconform: generating the test PKI in %s (first use)\n", dir);
    rc = iotc_spawn(&so, &pid);
    if (rc != IOTC_OK) {
        return iotc_errtext_set(err, IOTC_ERR_IO, "cannot run %s: %s", script, strerror(errno));
    }
    if (iotc_spawn_wait(pid, &status) != 0) {
        return iotc_errtext_set(err, IOTC_ERR_IO, "waiting for %s: %s", script, strerror(errno));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !paths__exists(bundle, S_IFREG)) {
        return iotc_errtext_set(err, IOTC_ERR_IO, "%s %s failed (status %d)", script, dir, status);
    }
    return IOTC_OK;
}

const char *iotc_paths_pki(const char *given, iotc_errtext *err)
{
    paths__init();
    if (given && *given)
        return given;
    if (!paths__s.pki[0]) {
        iotc_errtext_set(err, 0,
                         "no test PKI: pass --pki DIR or set IOTCONFORM_PKI (HOME is unset)");
        return NULL;
    }
    if (paths__s.pki_is_user && paths__mkpki(paths__s.pki, err) != IOTC_OK)
        return NULL;
    return paths__s.pki;
}
