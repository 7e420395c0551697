# Whole-system tests (issue 8).
#
# it_test_system_faults (test_system_faults.c) runs a smaller dataset under
# the sanitizers, where every process is several times slower; it learns
# which build it is in from CAMPSYNC_SANITIZE_BUILD.
#
# integration.flow_load: a short, light run of the load benchmark
# tests/bench/bench_flow_load.c (5 s, 4 caller threads, small dataset); it
# fails on any error other than the intended RESOURCE_EXHAUSTED.
if(TARGET it_test_system_faults)
  if(CAMPSYNC_SANITIZE)
    set_property(TEST integration.test_system_faults APPEND PROPERTY ENVIRONMENT
                 "CAMPSYNC_SANITIZE_BUILD=1")
  endif()
  set_tests_properties(integration.test_system_faults PROPERTIES TIMEOUT 900
                       LABELS system)
endif()
if(EXISTS ${CMAKE_SOURCE_DIR}/tests/bench/bench_flow_load.c)
  add_test(NAME integration.flow_load COMMAND bench_flow_load 5 4 1000 500)
  set_tests_properties(integration.flow_load PROPERTIES TIMEOUT 180
    ENVIRONMENT "CAMPSYNC_BIN_DIR=${CMAKE_BINARY_DIR}/bin;CAMPSYNC_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endif()
