/*  fuzz_control — libFuzzer target for an operator's control request
    (proto/control.c): any bytes, as JSON or not.

    Build: cmake -DMCPZ_FUZZ=ON with clang (tests/tests.cmake); run:
    build/fuzz_control -max_total_time=60 -max_len=4096 tests/fuzz/control
*/
#include "proto/control.h"

#include <stdint.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    control_request_t request;
    char error [256];
    control_parse ((const char *) data, size, &request, error, sizeof (error));
    return 0;
}
