/* config/paths: the build-tree layout, IOTCONFORM_* overrides, profile names, PKI files. */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "config/paths.h"

static const char *const paths_vars[] = {
    "IOTCONFORM_DATA_DIR",  "IOTCONFORM_SUITES",
    "IOTCONFORM_PROFILES",  "IOTCONFORM_ADAPTERS",
    "IOTCONFORM_REGISTRY",  "IOTCONFORM_PLUGIN",
    "IOTCONFORM_MOSQUITTO", "IOTCONFORM_REFDEVICE",
    "IOTCONFORM_PKI",       NULL,
};

static void paths_clear_env(void)
{
    for (int i = 0; paths_vars[i]; i++)
        unsetenv(paths_vars[i]);
    iotc_paths_reload();
}

/* A test binary lives in the build tree: data from the source tree, PKI from the build. */
static void test_build_tree_defaults(void)
{
    paths_clear_env();
    CU_ASSERT_FALSE(iotc_paths_installed());
    CU_ASSERT_STRING_EQUAL(iotc_paths_data_dir(), IOTC_SOURCE_DIR);
    CU_ASSERT_STRING_EQUAL(iotc_paths_suites_dir(), IOTC_SOURCE_DIR "/suites");
    CU_ASSERT_STRING_EQUAL(iotc_paths_profiles_dir(), IOTC_SOURCE_DIR "/fixtures/profiles");
    CU_ASSERT_STRING_EQUAL(iotc_paths_adapters_dir(), IOTC_SOURCE_DIR "/fixtures/adapters");
    CU_ASSERT_STRING_EQUAL(iotc_paths_registry(), IOTC_SOURCE_DIR "/fixtures/registry.json");
    CU_ASSERT_STRING_EQUAL(iotc_paths_catalogue(), IOTC_SOURCE_DIR "/suites/certification.json");
    CU_ASSERT_STRING_EQUAL(iotc_paths_pki_default(), IOTC_BINARY_DIR "/pki");
    /* No generation in the build tree: the build made it. */
    iotc_errtext err = {0};
    CU_ASSERT_STRING_EQUAL(iotc_paths_pki(NULL, &err), IOTC_BINARY_DIR "/pki");
    CU_ASSERT_STRING_EQUAL(iotc_paths_pki("/given", &err), "/given");
    CU_ASSERT_PTR_NOT_NULL(strstr(iotc_paths_plugin(), "iotc_plugin.so"));
}

static void test_env_overrides(void)
{
    paths_clear_env();
    setenv("IOTCONFORM_DATA_DIR", "/opt/data", 1);
    setenv("IOTCONFORM_PROFILES", "/p", 1);
    setenv("IOTCONFORM_PKI", "/k", 1);
    setenv("IOTCONFORM_PLUGIN", "/x/plugin.so", 1);
    setenv("IOTCONFORM_MOSQUITTO", "/x/mosquitto", 1);
    setenv("IOTCONFORM_REFDEVICE", "/x/refdev", 1);
    iotc_paths_reload();
    CU_ASSERT_STRING_EQUAL(iotc_paths_data_dir(), "/opt/data");
    CU_ASSERT_STRING_EQUAL(iotc_paths_suites_dir(), "/opt/data/suites");
    CU_ASSERT_STRING_EQUAL(iotc_paths_registry(), "/opt/data/fixtures/registry.json");
    CU_ASSERT_STRING_EQUAL(iotc_paths_adapters_dir(), "/opt/data/fixtures/adapters");
    CU_ASSERT_STRING_EQUAL(iotc_paths_profiles_dir(), "/p");
    CU_ASSERT_STRING_EQUAL(iotc_paths_pki_default(), "/k");
    CU_ASSERT_STRING_EQUAL(iotc_paths_plugin(), "/x/plugin.so");
    CU_ASSERT_STRING_EQUAL(iotc_paths_mosquitto(), "/x/mosquitto");
    CU_ASSERT_STRING_EQUAL(iotc_paths_refdevice(), "/x/refdev");
    /* An empty variable is no override. */
    setenv("IOTCONFORM_PROFILES", "", 1);
    iotc_paths_reload();
    CU_ASSERT_STRING_EQUAL(iotc_paths_profiles_dir(), "/opt/data/fixtures/profiles");
    paths_clear_env();
}

static void test_profile_names(void)
{
    char out[256];
    paths_clear_env();
    CU_ASSERT_EQUAL(iotc_paths_profile("tls13-only", out, sizeof out), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(out, IOTC_SOURCE_DIR "/fixtures/profiles/tls13-only.json");
    CU_ASSERT_EQUAL(iotc_paths_profile("./mine.json", out, sizeof out), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(out, "./mine.json");
    CU_ASSERT_EQUAL(iotc_paths_profile("mine.json", out, sizeof out), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(out, "mine.json");
    CU_ASSERT_EQUAL(iotc_paths_profile("default", out, 8), IOTC_ERR_TOO_LARGE);
    CU_ASSERT_EQUAL(iotc_paths_profile(NULL, out, sizeof out), IOTC_ERR_INVALID);
}

static void test_pki_files(void)
{
    char out[64];
    CU_ASSERT_EQUAL(iotc_paths_pki_file(out, sizeof out, "/k", IOTC_PKI_CA_BUNDLE, ""), IOTC_OK);
    CU_ASSERT_STRING_EQUAL(out, "/k/ca-bundle.crt");
    CU_ASSERT_EQUAL(iotc_paths_pki_file(out, sizeof out, "/k", "device-01", IOTC_PKI_KEY_EXT),
                    IOTC_OK);
    CU_ASSERT_STRING_EQUAL(out, "/k/device-01.key");
    CU_ASSERT_EQUAL(iotc_paths_pki_file(out, 8, "/k", "device-01", IOTC_PKI_CERT_EXT),
                    IOTC_ERR_TOO_LARGE);
    CU_ASSERT_EQUAL(iotc_paths_pki_file(out, sizeof out, NULL, "x", ""), IOTC_ERR_INVALID);
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("paths", NULL, NULL);
    if (!s)
        return -1;
    if (!CU_add_test(s, "build-tree defaults", test_build_tree_defaults) ||
        !CU_add_test(s, "IOTCONFORM_* overrides", test_env_overrides) ||
        !CU_add_test(s, "profile names and paths", test_profile_names) ||
        !CU_add_test(s, "PKI file names", test_pki_files))
        return -1;
    return 0;
}
