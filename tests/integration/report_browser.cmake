# The HTML report in headless Chromium over the DevTools protocol (stdlib python).
# Exit 77 = chromium not installed (ci/install-deps.sh installs it), reported as skipped.
add_test(NAME integration.report_browser
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_report_browser.py
                 $<TARGET_FILE:iotconform>
                 ${CMAKE_SOURCE_DIR}/tests/unit/data/report/browser_mixed.json
                 ${CMAKE_BINARY_DIR}/test-report-browser)
set_tests_properties(integration.report_browser PROPERTIES LABELS "integration;report;browser"
                     TIMEOUT 90 SKIP_RETURN_CODE 77)
