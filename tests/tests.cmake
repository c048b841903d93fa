# A throw-away PostgreSQL server for the tests that need one: started
# before them, stopped after, on a free loopback port.
set(MCPZ_PG_DIR ${CMAKE_BINARY_DIR}/pgtest)
add_test(NAME pg.start COMMAND ${CMAKE_SOURCE_DIR}/tests/pg.sh start ${MCPZ_PG_DIR})
add_test(NAME pg.stop COMMAND ${CMAKE_SOURCE_DIR}/tests/pg.sh stop ${MCPZ_PG_DIR})
set_tests_properties(pg.start PROPERTIES FIXTURES_SETUP pg)
set_tests_properties(pg.stop PROPERTIES FIXTURES_CLEANUP pg)

# Unit self-tests of every class, one ctest entry each so failures name it.
foreach(class jsonw jsonrpc mcp mcpz control metrics http mcpheaders endpoint config ids heap ring tool content catalog session zap http_auth store)
  add_test(NAME unit.${class} COMMAND mcpz_selftest ${class})
endforeach()
set_tests_properties(unit.store PROPERTIES FIXTURES_REQUIRED pg
  ENVIRONMENT "MCPZ_TEST_PG_URL_FILE=${MCPZ_PG_DIR}/url")

# Black-box tests: Debian's python3 with python3-zmq drives a real mcpzd
# over real sockets. Each file is one ctest entry.
set(MCPZ_PYTHON /usr/bin/python3 CACHE FILEPATH "python3 that has zmq")
file(GLOB MCPZ_PY_TESTS ${CMAKE_SOURCE_DIR}/tests/integration/test_*.py)
foreach(py ${MCPZ_PY_TESTS})
  get_filename_component(name ${py} NAME_WE)
  add_test(NAME it.${name} COMMAND ${MCPZ_PYTHON} ${py})
  set_tests_properties(it.${name} PROPERTIES
    TIMEOUT 300
    FIXTURES_REQUIRED pg
    ENVIRONMENT "MCPZ_SANITIZED=${MCPZ_SANITIZE};MCPZD=$<TARGET_FILE:mcpzd>;MCPZCTL=$<TARGET_FILE:mcpzctl>;MCPZ_TEST_PG_URL_FILE=${MCPZ_PG_DIR}/url;MCPZ_NPM=${CMAKE_BINARY_DIR}/npm;PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/integration;PYTHONDONTWRITEBYTECODE=1")
endforeach()

# The cluster in containers (deploy/compose.yaml under podman): label
# "cluster", run by scripts/test and CI; -LE cluster leaves it out.
add_test(NAME cluster.containers COMMAND bash ${CMAKE_SOURCE_DIR}/deploy/cluster-test)
set_tests_properties(cluster.containers PROPERTIES TIMEOUT 3600 LABELS cluster RUN_SERIAL TRUE)

# The soak (tests/soak/soak.py): ten minutes of mixed load with a
# PostgreSQL restart; label "soak", which CI runs (-LE soak leaves it out).
add_test(NAME soak.ten_minutes COMMAND ${MCPZ_PYTHON} ${CMAKE_SOURCE_DIR}/tests/soak/soak.py
         --seconds 600 --out ${CMAKE_BINARY_DIR}/soak)
set_tests_properties(soak.ten_minutes PROPERTIES TIMEOUT 1200 LABELS soak RUN_SERIAL TRUE
                     ENVIRONMENT "MCPZD=${CMAKE_BINARY_DIR}/mcpzd;MCPZCTL=${CMAKE_BINARY_DIR}/mcpzctl")

# Fuzz targets (clang's libFuzzer, with ASan and UBSan): built with
# -DMCPZ_FUZZ=ON -DCMAKE_C_COMPILER=clang (tests/fuzz/run does it in
# build/fuzz). The suite runs each for a bounded time over its corpus in
# tests/fuzz (label fuzz); longer runs by hand (README).
add_test(NAME fuzz.smoke COMMAND bash ${CMAKE_SOURCE_DIR}/tests/fuzz/run 15)
set_tests_properties(fuzz.smoke PROPERTIES TIMEOUT 900 LABELS fuzz RUN_SERIAL TRUE)
option(MCPZ_FUZZ "Build the libFuzzer targets (needs clang)" OFF)
if(MCPZ_FUZZ)
  # The code under test carries libFuzzer's coverage and the sanitizers too
  foreach(library mcpz_proto mcpz_core)
    target_compile_options(${library} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
    target_link_options(${library} INTERFACE -fsanitize=address,undefined)
  endforeach()
  # The targets that read only proto/ link only it; the others the core
  function(mcpz_fuzz_target target library)
    add_executable(fuzz_${target} ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_${target}.c)
    target_compile_options(fuzz_${target} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${target} PRIVATE ${library})
  endfunction()
  foreach(target http envelope control)
    mcpz_fuzz_target(${target} mcpz_proto)
  endforeach()
  foreach(target catalog config auth)
    mcpz_fuzz_target(${target} mcpz_core)
  endforeach()
endif()
