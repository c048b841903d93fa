/*  prelude — the few helpers proto/ shares. proto/ stays free of CZMQ so it
    can be fuzzed and tested with nothing but jansson. */
#ifndef MCPZ_PROTO_PRELUDE_H
#define MCPZ_PROTO_PRELUDE_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#ifndef streq
#   define streq(s1,s2) (!strcmp ((s1), (s2)))
#endif

//  printf into a new heap buffer of exactly the right size; *size_p (may be
//  NULL) gets the length. Returns NULL on failure. Caller frees.
char *
    proto_format (size_t *size_p, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  The same with a va_list.
char *
    proto_vformat (size_t *size_p, const char *format, va_list args);

#endif
