# integration.install_deb: cpack's .deb, unpacked into a temporary root, runs `serve`
# and a few x509 cases from an unrelated directory with a fresh HOME (the PKI is made
# on first use), and strace shows no access to the source or the build tree.
add_test(NAME integration.install_deb
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/test_install_deb.sh
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(integration.install_deb PROPERTIES
  LABELS "integration;install"
  TIMEOUT 600)
