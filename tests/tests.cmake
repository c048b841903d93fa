# Unit self-tests of every class, one ctest entry each so failures name it.
foreach(class jsonrpc mcp mcpz control config ids tool session)
  add_test(NAME unit.${class} COMMAND mcpz_selftest ${class})
endforeach()

# Black-box tests: Debian's python3 with python3-zmq drives a real mcpzd
# over real sockets. Each file is one ctest entry.
set(MCPZ_PYTHON /usr/bin/python3 CACHE FILEPATH "python3 that has zmq")
file(GLOB MCPZ_PY_TESTS ${CMAKE_SOURCE_DIR}/tests/integration/test_*.py)
foreach(py ${MCPZ_PY_TESTS})
  get_filename_component(name ${py} NAME_WE)
  add_test(NAME it.${name} COMMAND ${MCPZ_PYTHON} ${py})
  set_tests_properties(it.${name} PROPERTIES
    TIMEOUT 300
    ENVIRONMENT "MCPZD=$<TARGET_FILE:mcpzd>;MCPZCTL=$<TARGET_FILE:mcpzctl>;PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/integration;PYTHONDONTWRITEBYTECODE=1")
endforeach()
