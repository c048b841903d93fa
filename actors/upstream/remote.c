/*  remote — an MCP session with a Streamable HTTP server. See remote.h.

    libcurl's multi interface runs every POST at once on reused
    connections; its descriptors sit in the upstream actor's poll. Messages
    that come back during curl_multi_perform are queued and handed over
    after it returns, so the actor may send again from its handlers
    (libcurl forbids adding a transfer from inside its callbacks).
*/
#include "actors/upstream/remote.h"

#include <czmq.h>
#include <curl/curl.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define MAX_RESPONSE (64 * 1024 * 1024)     //  largest answer taken

typedef struct {
    char *data;
    size_t size, used;
} buffer_t;

typedef struct {
    remote_t *remote;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    uint64_t tag;
    buffer_t response;
    size_t parsed;              //  SSE bytes already split into events
    bool sse;
    bool too_big;
    int local_port;             //  of the connection it goes on
    bool lasting;               //  a stream that ends only when the server ends it
} transfer_t;

//  A message or failure waiting to be handed over
typedef struct {
    uint64_t tag;
    char *data;                 //  NULL for a failure
    size_t size;
    long status;
    char reason [128];
} event_t;

struct _remote_t {
    CURLM *multi;
    char *url;
    char *headers;              //  the configured ones
    int timeout_ms;
    char session [256];         //  Mcp-Session-Id, once the server gave one
    char version [32];
    zlistx_t *transfers;        //  transfer_t in flight
    zlistx_t *events;           //  event_t to hand over
    zlistx_t *sockets;          //  libcurl's open sockets, as fd + 1
};

static int
s_append (buffer_t *buffer, const char *data, size_t size)
{
    if (buffer->used + size + 1 > buffer->size) {
        size_t want = buffer->size? buffer->size: 4096;
        while (want < buffer->used + size + 1)
            want *= 2;
        char *grown = (char *) realloc (buffer->data, want);
        if (!grown)
            return -1;
        buffer->data = grown;
        buffer->size = want;
    }
    memcpy (buffer->data + buffer->used, data, size);
    buffer->used += size;
    buffer->data [buffer->used] = 0;
    return 0;
}

static void
s_queue (remote_t *self, uint64_t tag, const char *data, size_t size, long status, const char *reason)
{
    event_t *event = (event_t *) calloc (1, sizeof (event_t));
    if (!event)
        return;
    event->tag = tag;
    event->status = status;
    if (data) {
        event->data = (char *) malloc (size + 1);
        if (event->data)
            memcpy (event->data, data, size);
        event->size = size;
    }
    else
        snprintf (event->reason, sizeof (event->reason), "%s", reason);
    zlistx_add_end (self->events, event);
}

//  Splits complete SSE events off the response: each data payload is a
//  message (lines joined by newlines); comments and empty data are not
static void
s_split_events (transfer_t *transfer)
{
    buffer_t *response = &transfer->response;
    while (true) {
        char *start = response->data + transfer->parsed;
        char *end = strstr (start, "\n\n");
        char *crlf = strstr (start, "\r\n\r\n");
        if (crlf && (!end || crlf < end))
            end = crlf;
        if (!end)
            return;
        buffer_t data = { 0 };
        for (char *line = start; line < end; ) {
            char *next = memchr (line, '\n', (size_t) (end - line));
            size_t length = next? (size_t) (next - line): (size_t) (end - line);
            if (length && line [length - 1] == '\r')
                length--;
            if (length >= 5 && memcmp (line, "data:", 5) == 0) {
                size_t skip = line [5] == ' '? 6: 5;
                if (data.used)
                    s_append (&data, "\n", 1);
                s_append (&data, line + skip, length - skip);
            }
            line = next? next + 1: end;
        }
        if (data.used)
            s_queue (transfer->remote, transfer->tag, data.data, data.used, 0, NULL);
        free (data.data);
        transfer->parsed = (size_t) (end - response->data) + (*end == '\r'? 4: 2);
    }
}

static size_t
s_on_body (char *data, size_t size, size_t count, void *arg)
{
    transfer_t *transfer = (transfer_t *) arg;
    size_t bytes = size * count;
    if (transfer->response.used + bytes > MAX_RESPONSE || s_append (&transfer->response, data, bytes)) {
        transfer->too_big = true;
        return 0;               //  libcurl ends the transfer
    }
    if (transfer->sse)
        s_split_events (transfer);
    return bytes;
}

static size_t
s_on_header (char *data, size_t size, size_t count, void *arg)
{
    transfer_t *transfer = (transfer_t *) arg;
    size_t bytes = size * count;
    char line [512];
    size_t length = bytes < sizeof (line) - 1? bytes: sizeof (line) - 1;
    memcpy (line, data, length);
    line [length] = 0;
    line [strcspn (line, "\r\n")] = 0;
    char *colon = strchr (line, ':');
    if (colon) {
        *colon = 0;
        char *value = colon + 1;
        while (*value == ' ')
            value++;
        if (strcasecmp (line, "content-type") == 0)
            transfer->sse = strncasecmp (value, "text/event-stream", 17) == 0;
        else
        if (strcasecmp (line, "mcp-session-id") == 0 && !*transfer->remote->session)
            snprintf (transfer->remote->session, sizeof (transfer->remote->session), "%s", value);
    }
    return bytes;
}

static void
s_transfer_destroy (transfer_t **transfer_p)
{
    transfer_t *transfer = *transfer_p;
    if (transfer) {
        if (transfer->easy) {
            curl_multi_remove_handle (transfer->remote->multi, transfer->easy);
            curl_easy_cleanup (transfer->easy);
        }
        curl_slist_free_all (transfer->headers);
        free (transfer->body);
        free (transfer->response.data);
        free (transfer);
        *transfer_p = NULL;
    }
}

remote_t *
remote_new (const char *url, const char *headers, int timeout_ms)
{
    remote_t *self = (remote_t *) calloc (1, sizeof (remote_t));
    if (!self)
        return NULL;
    self->multi = curl_multi_init ();
    self->url = strdup (url);
    self->headers = strdup (headers);
    self->timeout_ms = timeout_ms;
    self->transfers = zlistx_new ();
    self->events = zlistx_new ();
    self->sockets = zlistx_new ();
    if (!self->multi || !self->url || !self->headers || !self->transfers || !self->events || !self->sockets) {
        remote_destroy (&self);
        return NULL;
    }
    return self;
}

void
remote_destroy (remote_t **self_p)
{
    remote_t *self = *self_p;
    if (!self)
        return;
    for (transfer_t *transfer = (transfer_t *) zlistx_first (self->transfers); transfer;
         transfer = (transfer_t *) zlistx_next (self->transfers))
        s_transfer_destroy (&transfer);
    zlistx_destroy (&self->transfers);
    for (event_t *event = (event_t *) zlistx_first (self->events); event;
         event = (event_t *) zlistx_next (self->events)) {
        free (event->data);
        free (event);
    }
    zlistx_destroy (&self->events);
    if (self->multi)
        curl_multi_cleanup (self->multi);
    zlistx_destroy (&self->sockets);       //  after libcurl closed them
    free (self->url);
    free (self->headers);
    free (self);
    *self_p = NULL;
}

void
remote_set_version (remote_t *self, const char *version)
{
    snprintf (self->version, sizeof (self->version), "%s", version);
}

static struct curl_slist *
s_append_lines (struct curl_slist *list, const char *lines)
{
    char *copy = lines? strdup (lines): NULL;
    char *saved = NULL;
    for (char *header = copy? strtok_r (copy, "\n", &saved): NULL; header; header = strtok_r (NULL, "\n", &saved))
        list = curl_slist_append (list, header);
    free (copy);
    return list;
}

static struct curl_slist *
s_headers (remote_t *self, const char *extra)
{
    struct curl_slist *list = curl_slist_append (NULL, "Content-Type: application/json");
    list = curl_slist_append (list, "Accept: application/json, text/event-stream");
    char line [320];
    if (*self->session) {
        snprintf (line, sizeof (line), "Mcp-Session-Id: %s", self->session);
        list = curl_slist_append (list, line);
    }
    if (*self->version) {
        snprintf (line, sizeof (line), "MCP-Protocol-Version: %s", self->version);
        list = curl_slist_append (list, line);
    }
    return s_append_lines (s_append_lines (list, self->headers), extra);
}

//  Which connection a transfer goes on, by its local port: a POST to a
//  2026 server is cancelled by closing that connection, and libcurl,
//  asked to drop a transfer, may keep the connection open for the next
static int
s_on_prereq (void *arg, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    (void) primary_ip, (void) local_ip, (void) primary_port;
    ((transfer_t *) arg)->local_port = local_port;
    return CURL_PREREQFUNC_OK;
}

static curl_socket_t
s_on_open (void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
    (void) purpose;
    remote_t *self = (remote_t *) arg;
    curl_socket_t fd = socket (address->family, address->socktype, address->protocol);
    if (fd != CURL_SOCKET_BAD)
        zlistx_add_end (self->sockets, (void *) (intptr_t) (fd + 1));
    return fd;
}

static int
s_on_close (void *arg, curl_socket_t fd)
{
    remote_t *self = (remote_t *) arg;
    void *handle = zlistx_find (self->sockets, (void *) (intptr_t) (fd + 1));
    if (handle)
        zlistx_delete (self->sockets, handle);
    return close (fd);
}

int
remote_send (remote_t *self, const char *text, size_t size, uint64_t tag, const char *headers, bool lasting)
{
    transfer_t *transfer = (transfer_t *) calloc (1, sizeof (transfer_t));
    if (!transfer)
        return -1;
    transfer->remote = self;
    transfer->tag = tag;
    transfer->body = (char *) malloc (size + 1);
    transfer->easy = curl_easy_init ();
    transfer->headers = s_headers (self, headers);
    if (!transfer->body || !transfer->easy || !transfer->headers) {
        s_transfer_destroy (&transfer);
        return -1;
    }
    memcpy (transfer->body, text, size);
    CURL *easy = transfer->easy;
    curl_easy_setopt (easy, CURLOPT_URL, self->url);
    curl_easy_setopt (easy, CURLOPT_POSTFIELDS, transfer->body);
    curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE, (long) size);
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, transfer->headers);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, transfer);
    curl_easy_setopt (easy, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt (easy, CURLOPT_HEADERDATA, transfer);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, transfer);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_PREREQFUNCTION, s_on_prereq);
    curl_easy_setopt (easy, CURLOPT_PREREQDATA, transfer);
    curl_easy_setopt (easy, CURLOPT_OPENSOCKETFUNCTION, s_on_open);
    curl_easy_setopt (easy, CURLOPT_OPENSOCKETDATA, self);
    curl_easy_setopt (easy, CURLOPT_CLOSESOCKETFUNCTION, s_on_close);
    curl_easy_setopt (easy, CURLOPT_CLOSESOCKETDATA, self);
    curl_easy_setopt (easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    if (self->timeout_ms > 0 && !lasting)
        curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, (long) self->timeout_ms);
    transfer->lasting = lasting;
    if (lasting) {              //  a stream of its own, on a connection no other POST shares
        curl_easy_setopt (easy, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt (easy, CURLOPT_FORBID_REUSE, 1L);
    }
    if (curl_multi_add_handle (self->multi, easy) != CURLM_OK) {
        s_transfer_destroy (&transfer);
        return -1;
    }
    zlistx_add_end (self->transfers, transfer);
    return 0;
}

void
remote_cancel (remote_t *self, uint64_t tag)
{
    transfer_t *transfer;
    for (transfer = (transfer_t *) zlistx_first (self->transfers); transfer;
         transfer = (transfer_t *) zlistx_next (self->transfers))
        if (transfer->tag == tag)
            break;
    if (!transfer)
        return;
    //  HTTP/2 carries other requests on the connection: there taking the
    //  transfer out resets its stream alone
    long version = 0;
    curl_easy_getinfo (transfer->easy, CURLINFO_HTTP_VERSION, &version);
    bool alone = strncmp (self->url, "http:", 5) == 0 || version == CURL_HTTP_VERSION_1_0
              || version == CURL_HTTP_VERSION_1_1;
    for (void *item = zlistx_first (self->sockets); item && alone && transfer->local_port;
         item = zlistx_next (self->sockets)) {
        int fd = (int) (intptr_t) item - 1;
        struct sockaddr_storage local;
        socklen_t size = sizeof (local);
        int port = getsockname (fd, (struct sockaddr *) &local, &size) == -1? 0:
                   local.ss_family == AF_INET? ntohs (((struct sockaddr_in *) &local)->sin_port):
                   local.ss_family == AF_INET6? ntohs (((struct sockaddr_in6 *) &local)->sin6_port): 0;
        if (port == transfer->local_port)
            shutdown (fd, SHUT_RDWR);
    }
    zlistx_detach_cur (self->transfers);
    s_transfer_destroy (&transfer);
}

//  An error status's body as the JSON-RPC error answering tag, or NULL
static char *
s_error_answer (transfer_t *transfer)
{
    if (!transfer->tag || transfer->sse || !transfer->response.used)
        return NULL;
    json_t *body = json_loadb (transfer->response.data, transfer->response.used, 0, NULL);
    char *text = NULL;
    if (json_is_object (json_object_get (body, "error"))) {
        json_object_set_new (body, "id", json_integer ((json_int_t) transfer->tag));
        text = json_dumps (body, JSON_COMPACT);
    }
    json_decref (body);
    return text;
}

int
remote_items (remote_t *self, zmq_pollitem_t *items, int max)
{
    fd_set read, write, error;
    FD_ZERO (&read);
    FD_ZERO (&write);
    FD_ZERO (&error);
    int highest = -1;
    curl_multi_fdset (self->multi, &read, &write, &error, &highest);
    int used = 0;
    for (int fd = 0; fd <= highest && used < max; fd++) {
        short events = (FD_ISSET (fd, &read)? ZMQ_POLLIN: 0) | (FD_ISSET (fd, &write)? ZMQ_POLLOUT: 0);
        if (events)
            items [used++] = (zmq_pollitem_t) { NULL, fd, events, 0 };
    }
    return used;
}

long
remote_timeout (remote_t *self)
{
    long timeout = -1;
    curl_multi_timeout (self->multi, &timeout);
    //  Transfers in flight whose descriptors libcurl does not show yet
    if (timeout < 0 && zlistx_size (self->transfers))
        timeout = 10;
    return timeout;
}

//  A finished transfer: its JSON answer, or its failure
static void
s_finished (remote_t *self, transfer_t *transfer, CURLcode code)
{
    long status = 0;
    curl_easy_getinfo (transfer->easy, CURLINFO_RESPONSE_CODE, &status);
    char reason [128] = "";
    if (code != CURLE_OK)
        snprintf (reason, sizeof (reason), "%s", transfer->too_big? "an answer over 64 MB": curl_easy_strerror (code));
    else
    if (status == 404 && *self->session)     //  the session is gone, whatever the body says
        snprintf (reason, sizeof (reason), "the server forgot the session (404)");
    else
    if (status >= 300)
        snprintf (reason, sizeof (reason), "HTTP status %ld", status);
    bool forgotten = status == 404 && *self->session;
    char *answer = code == CURLE_OK && status >= 400 && !forgotten? s_error_answer (transfer): NULL;
    if (answer) {
        s_queue (self, transfer->tag, answer, strlen (answer), 0, NULL);
        free (answer);
        return;
    }
    if (*reason) {
        s_queue (self, transfer->tag, NULL, 0, status, reason);
        return;
    }
    if (transfer->sse) {
        //  A last event without its blank line still counts
        s_append (&transfer->response, "\n\n", 2);
        s_split_events (transfer);
        if (transfer->lasting)  //  over, whether or not it was answered
            s_queue (self, transfer->tag, NULL, 0, status, "the stream ended");
    }
    else
    if (transfer->response.used)
        s_queue (self, transfer->tag, transfer->response.data, transfer->response.used, 0, NULL);
    else
    if (status != 202 && transfer->tag)
        s_queue (self, transfer->tag, NULL, 0, status, "an empty answer");
}

void
remote_perform (remote_t *self, remote_message_fn *message, remote_failed_fn *failed, void *arg)
{
    int running;
    curl_multi_perform (self->multi, &running);
    CURLMsg *done;
    int left;
    while ((done = curl_multi_info_read (self->multi, &left)))
        if (done->msg == CURLMSG_DONE) {
            transfer_t *transfer = NULL;
            curl_easy_getinfo (done->easy_handle, CURLINFO_PRIVATE, (char **) &transfer);
            CURLcode code = done->data.result;
            s_finished (self, transfer, code);
            void *handle = zlistx_find (self->transfers, transfer);
            if (handle)
                zlistx_delete (self->transfers, handle);
            s_transfer_destroy (&transfer);
        }
    //  Handed over after libcurl returned: handlers may send again, and the
    //  remote may be destroyed by them (an instance taken down): stop then
    while (zlistx_size (self->events)) {
        event_t *event = (event_t *) zlistx_first (self->events);
        zlistx_detach_cur (self->events);
        bool stop = false;
        if (event->data)
            message (arg, event->data, event->size, event->tag);
        else {
            failed (arg, event->tag, event->status, event->reason);
            stop = true;
        }
        free (event->data);
        free (event);
        if (stop)
            return;
    }
}
