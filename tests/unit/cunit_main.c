/*
 * Shared main for CUnit programs: each test file defines iotc_register_tests().
 * CUnit's basic runner does not fail the process by itself, so the exit code is
 * the number of failures (capped) to make ctest see them.
 */
#include <CUnit/Basic.h>
#include <stdio.h>

int iotc_register_tests(void);

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (iotc_register_tests() != 0) {
        fprintf(stderr, "test registration failed: %s\n", CU_get_error_msg());
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (run == 0) {
        fprintf(stderr, "no tests ran\n");
        return 2;
    }
    return failed > 100 ? 100 : (int)failed;
}
