/*  frames — raw zmq_msg_t helpers for the hot paths.

    CZMQ's zmsg costs ~2.7x raw zmq_msg_t on an inproc hop (measured here),
    so the request path reads and writes frames with these instead.
*/
#ifndef MCPZ_FRAMES_H
#define MCPZ_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <zmq.h>

//  Receives one whole multipart message: its first max frames into frames
//  (initialised here), the rest read and dropped so a bad peer cannot leave
//  parts behind. *count_p gets how many frames arrived in all. Returns 0,
//  or -1 with errno (EAGAIN with ZMQ_DONTWAIT, ETERM, EINTR).
int
    frames_recv (void *socket, zmq_msg_t *frames, int max, int *count_p,
                 int flags);

//  Closes count frames.
void
    frames_close (zmq_msg_t *frames, int count);

//  Sends a heap buffer as one frame without copying; takes ownership of
//  data (freed by libzmq when sent, or here on failure). Returns 0 or -1.
int
    frames_send_owned (void *socket, char *data, size_t size, int flags);

//  Sends a copy of size bytes at data as one frame. Returns 0 or -1.
int
    frames_send_copy (void *socket, const void *data, size_t size, int flags);

//  Sends a string frame (no NUL). Returns 0 or -1.
int
    frames_send_text (void *socket, const char *text, int flags);

//  Sends a multipart message of C strings (NULL-terminated list) without
//  waiting: all of it, or nothing when the peer's queue is full. Returns 0
//  or -1. For replies to actors that must never stall the sender.
int
    frames_send_strings (void *socket, const char *first, ...);

//  True when a message is waiting on socket. Loops drain a socket with it,
//  a batch at a time, so a busy socket costs one poll per batch.
bool
    frames_ready (void *socket);

//  True when a frame holds exactly this text.
bool
    frames_is (zmq_msg_t *frame, const char *text);

//  Copies a frame into a NUL-terminated buffer; false when it does not fit.
bool
    frames_text (zmq_msg_t *frame, char *buffer, size_t size);

//  A frame as a new NUL-terminated string (the caller frees it), or NULL.
char *
    frames_strdup (zmq_msg_t *frame);

#endif
