# The whole-system fault test (test_system_faults.c) runs a smaller dataset
# under the sanitizers, where every process is several times slower; it
# learns which build it is in from CAMPSYNC_SANITIZE_BUILD.
if(TARGET it_test_system_faults)
  if(CAMPSYNC_SANITIZE)
    set_property(TEST integration.test_system_faults APPEND PROPERTY ENVIRONMENT
                 "CAMPSYNC_SANITIZE_BUILD=1")
  endif()
  set_tests_properties(integration.test_system_faults PROPERTIES TIMEOUT 600)
endif()
