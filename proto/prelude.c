/*  prelude — shared helpers of proto/. See prelude.h. */
#include "proto/prelude.h"

#include <stdio.h>
#include <stdlib.h>

char *
proto_vformat (size_t *size_p, const char *format, va_list args)
{
    va_list copy;
    va_copy (copy, args);
    int size = vsnprintf (NULL, 0, format, copy);
    va_end (copy);
    if (size < 0)
        return NULL;
    char *text = (char *) malloc ((size_t) size + 1);
    if (!text)
        return NULL;
    vsnprintf (text, (size_t) size + 1, format, args);
    if (size_p)
        *size_p = (size_t) size;
    return text;
}

char *
proto_format (size_t *size_p, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = proto_vformat (size_p, format, args);
    va_end (args);
    return text;
}
