/*  frames — see frames.h. */
#include "runtime/frames.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int
frames_recv (void *socket, zmq_msg_t *frames, int max, int *count_p, int flags)
{
    int count = 0;
    int more = 1;
    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *frame = count < max? &frames [count]: &scratch;
        zmq_msg_init (frame);
        //  Only the first part can be missing: the rest of a multipart
        //  message arrives with it, atomically.
        if (zmq_msg_recv (frame, socket, count? 0: flags) == -1) {
            int error = errno;
            zmq_msg_close (frame);
            frames_close (frames, count < max? count: max);
            errno = error;
            return -1;
        }
        more = zmq_msg_more (frame);
        if (frame == &scratch)
            zmq_msg_close (&scratch);
        count++;
    }
    *count_p = count;
    return 0;
}

void
frames_close (zmq_msg_t *frames, int count)
{
    for (int index = 0; index < count; index++)
        zmq_msg_close (&frames [index]);
}

static void
s_free (void *data, void *hint)
{
    free (data);
}

int
frames_send_owned (void *socket, char *data, size_t size, int flags)
{
    zmq_msg_t frame;
    if (zmq_msg_init_data (&frame, data, size, s_free, NULL)) {
        free (data);
        return -1;
    }
    if (zmq_msg_send (&frame, socket, flags) == -1) {
        int error = errno;
        zmq_msg_close (&frame);         //  frees data
        errno = error;
        return -1;
    }
    return 0;
}

int
frames_send_copy (void *socket, const void *data, size_t size, int flags)
{
    return zmq_send (socket, data, size, flags) == -1? -1: 0;
}

int
frames_send_text (void *socket, const char *text, int flags)
{
    return frames_send_copy (socket, text, strlen (text), flags);
}

int
frames_send_strings (void *socket, const char *first, ...)
{
    va_list args;
    va_start (args, first);
    const char *text = first;
    const char *next = va_arg (args, const char *);
    //  Only the first part can meet the HWM; the rest follow it
    int rc = zmq_send (socket, text, strlen (text), (next? ZMQ_SNDMORE: 0) | ZMQ_DONTWAIT);
    while (rc != -1 && next) {
        text = next;
        next = va_arg (args, const char *);
        rc = zmq_send (socket, text, strlen (text), next? ZMQ_SNDMORE: 0);
    }
    va_end (args);
    return rc == -1? -1: 0;
}

bool
frames_ready (void *socket)
{
    int events = 0;
    size_t size = sizeof (events);
    return zmq_getsockopt (socket, ZMQ_EVENTS, &events, &size) == 0 && (events & ZMQ_POLLIN);
}

bool
frames_is (zmq_msg_t *frame, const char *text)
{
    size_t size = strlen (text);
    return zmq_msg_size (frame) == size && memcmp (zmq_msg_data (frame), text, size) == 0;
}

bool
frames_text (zmq_msg_t *frame, char *buffer, size_t size)
{
    size_t length = zmq_msg_size (frame);
    if (length >= size)
        return false;
    memcpy (buffer, zmq_msg_data (frame), length);
    buffer [length] = 0;
    return true;
}

char *
frames_strdup (zmq_msg_t *frame)
{
    char *text = (char *) malloc (zmq_msg_size (frame) + 1);
    if (text)
        frames_text (frame, text, zmq_msg_size (frame) + 1);
    return text;
}
