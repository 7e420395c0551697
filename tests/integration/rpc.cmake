# common/rpc interop check: Debian's python3-grpcio calls the campsync test
# server (it_test_rpc --serve). /usr/bin/python3 -E on purpose: the pyenv
# python on PATH has no grpc, and -E keeps its PYTHON* variables out.
if(TARGET it_test_rpc AND EXISTS /usr/bin/python3)
  add_test(NAME integration.rpc_interop
           COMMAND /usr/bin/python3 -E ${CMAKE_CURRENT_SOURCE_DIR}/rpc_interop.py
                   $<TARGET_FILE:it_test_rpc> ${CMAKE_BINARY_DIR}/campsync.protoset)
  set_tests_properties(integration.rpc_interop PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)
endif()
