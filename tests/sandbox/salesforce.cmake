# Salesforce simulator tests: unit tests of the SOQL parser and of the vendor
# (driven through sbx_salesforce_ops.handle, no sockets), the HTTP
# integration suite against the campsync-sandbox binary, and fuzz targets.
if(TARGET campsync_sandbox_core)
  set_property(GLOBAL APPEND PROPERTY CAMPSYNC_UNIT_LIBS_test_sandbox_soql campsync_sandbox_core)
  set_property(GLOBAL APPEND PROPERTY CAMPSYNC_UNIT_LIBS_test_sandbox_salesforce campsync_sandbox_core)
  set_property(GLOBAL APPEND PROPERTY CAMPSYNC_INTEGRATION_LIBS_test_sandbox_salesforce
    campsync_sandbox_core PkgConfig::CURL)
  set_property(GLOBAL APPEND PROPERTY CAMPSYNC_FUZZ_LIBS_fuzz_soql campsync_sandbox_core)
  set_property(GLOBAL APPEND PROPERTY CAMPSYNC_FUZZ_LIBS_fuzz_sandbox_salesforce campsync_sandbox_core)
endif()
