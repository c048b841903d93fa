/*  zap — an actor that answers libzmq's ZAP requests (RFC 27) for the
    CURVE endpoints: the client front (--listen with --curve-cert) and the
    node link (--node-curve-cert).

    Owns: the ZAP endpoint (inproc://zeromq.zap.01, a REP socket) and the
    keys it lets in: the public certificates in --curve-clients (read with
    CZMQ's zcert, again on RELOAD) for clients, and the cluster's own
    public key for nodes (every node holds the same certificate).

    Takes from libzmq: version, request id, domain, address, routing id,
    mechanism, the client's public key (32 bytes). Answers 200 with the
    user id "curve:" and that key in Z85, which libzmq sets on every
    message of the connection as User-Id: the front's principal. Anything
    else is answered 400.
    Takes on its pipe: RELOAD (logs what it read; a list it cannot read
    leaves the one it has), $TERM.

    Why not CZMQ's zauth: it answers every request with an empty user id,
    so a session could not be bound to the key that opened it. Revoking a
    key (removing its file, then SIGHUP) stops its new connections; a
    connection already made keeps its handshake.
*/
#include "actors/zap.h"
#include "runtime/actor.h"
#include "runtime/frames.h"
#include "runtime/log.h"

#include <dirent.h>
#include <sys/stat.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define KEY_TEXT     41         //  Z85 of 32 bytes, and a NUL

static const char *const s_name = "zap";

typedef struct {
    zsock_t *pipe;
    zsock_t *handler;
    const config_t *config;
    zhashx_t *clients;          //  Z85 public key -> "" for each allowed client
    char node_key [KEY_TEXT];   //  the cluster's public key, "" = no node link
    uint64_t allowed, denied;
} zap_t;

//  The public keys of the certificates in a directory, or NULL with the
//  reason. Files that are not certificates are skipped, and counted.
static zhashx_t *
s_load_clients (const char *directory, char *error, size_t error_size)
{
    DIR *dir = opendir (directory);
    if (!dir) {
        snprintf (error, error_size, "--curve-clients %.200s: %s", directory, strerror (errno));
        return NULL;
    }
    zhashx_t *keys = zhashx_new ();
    int skipped = 0;
    struct dirent *entry;
    while (keys && (entry = readdir (dir))) {
        char path [2048];
        struct stat info;
        snprintf (path, sizeof (path), "%s/%s", directory, entry->d_name);
        if (entry->d_name [0] == '.' || stat (path, &info) || !S_ISREG (info.st_mode))
            continue;
        zcert_t *cert = zcert_load (path);
        if (cert)
            zhashx_insert (keys, zcert_public_txt (cert), (void *) "");
        else
            skipped++;
        zcert_destroy (&cert);
    }
    closedir (dir);
    if (!keys)
        snprintf (error, error_size, "out of memory");
    else
    if (skipped)
        log_warn (s_name, "%.200s: %d files are not certificates, skipped", directory, skipped);
    return keys;
}

static int
s_reload (zap_t *self, char *error, size_t error_size)
{
    if (!*self->config->curve_clients)
        return 0;
    zhashx_t *keys = s_load_clients (self->config->curve_clients, error, error_size);
    if (!keys)
        return -1;
    zhashx_destroy (&self->clients);
    self->clients = keys;
    log_info (s_name, "%zu client keys allowed (%.200s)", zhashx_size (keys),
              self->config->curve_clients);
    return 0;
}

//  The node link's key: the cluster's certificate's own public key
static int
s_load_node_key (zap_t *self, char *error, size_t error_size)
{
    if (!*self->config->node_curve_cert)
        return 0;
    zcert_t *cert = zcert_load (self->config->node_curve_cert);
    if (!cert) {
        snprintf (error, error_size, "--node-curve-cert %.200s: not a certificate",
                  self->config->node_curve_cert);
        return -1;
    }
    snprintf (self->node_key, sizeof (self->node_key), "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
    return 0;
}

//  The verdict on one request's frames: the user id when allowed, else NULL
static const char *
s_judge (zap_t *self, zmq_msg_t *frames, int count, char *user, size_t user_size)
{
    if (count != 7 || !frames_is (&frames [0], "1.0") || !frames_is (&frames [5], "CURVE")
    ||  zmq_msg_size (&frames [6]) != 32)
        return NULL;
    char key [KEY_TEXT];
    zmq_z85_encode (key, (const uint8_t *) zmq_msg_data (&frames [6]), 32);
    bool allowed = false;
    if (frames_is (&frames [2], ZAP_DOMAIN_CLIENTS))
        allowed = self->clients && zhashx_lookup (self->clients, key);
    else
    if (frames_is (&frames [2], ZAP_DOMAIN_NODES))
        allowed = *self->node_key && streq (key, self->node_key);
    if (!allowed)
        return NULL;
    snprintf (user, user_size, "%s%s", ZAP_PRINCIPAL_PREFIX, key);
    return user;
}

static void
s_handle_request (zap_t *self)
{
    void *handler = zsock_resolve (self->handler);
    zmq_msg_t frames [8];
    int count;
    if (frames_recv (handler, frames, 8, &count, ZMQ_DONTWAIT))
        return;
    char user [64];
    const char *verdict = s_judge (self, frames, count, user, sizeof (user));
    if (verdict)
        self->allowed++;
    else {
        self->denied++;
        char address [64] = "?";
        if (count >= 4)
            frames_text (&frames [3], address, sizeof (address));
        log_debug (s_name, "refused a connection from %s", address);
    }
    //  REP must answer every request, even one it cannot read
    frames_send_text (handler, "1.0", ZMQ_SNDMORE);
    if (count >= 2)
        zmq_msg_send (&frames [1], handler, ZMQ_SNDMORE);
    else
        frames_send_text (handler, "", ZMQ_SNDMORE);
    frames_send_strings (handler, verdict? "200": "400", verdict? "OK": "No access",
                         verdict? verdict: "", "", NULL);
    frames_close (frames, count < 8? count: 8);
}

static void
s_handle_pipe (zap_t *self, bool *terminated)
{
    char *command = zstr_recv (self->pipe);
    if (!command || streq (command, "$TERM"))
        *terminated = true;
    else
    if (streq (command, "RELOAD")) {
        char error [512] = "";
        if (s_reload (self, error, sizeof (error)))
            log_error (s_name, "%s: the allow-list stays as it was", error);
    }
    zstr_free (&command);
}

void
zap_actor (zsock_t *pipe, void *args)
{
    zap_t self = { .pipe = pipe, .config = (const config_t *) args };
    char error [512] = "";
    self.handler = zsock_new (ZMQ_REP);
    int rc = self.handler && zsock_bind (self.handler, ZAP_ENDPOINT) == 0? 0: -1;
    if (rc)
        snprintf (error, sizeof (error), "cannot bind the ZAP handler");
    if (rc == 0)
        rc = s_reload (&self, error, sizeof (error));
    if (rc == 0)
        rc = s_load_node_key (&self, error, sizeof (error));
    actor_ready (pipe, rc? error: NULL);
    zpoller_t *poller = rc? NULL: zpoller_new (pipe, self.handler, NULL);
    bool terminated = rc != 0 || !poller;
    while (!terminated) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe)
            s_handle_pipe (&self, &terminated);
        else
        if (which == self.handler)
            s_handle_request (&self);
        else
            terminated = zpoller_terminated (poller);
    }
    zpoller_destroy (&poller);
    zhashx_destroy (&self.clients);
    zsock_destroy (&self.handler);
}

//  A certificate with its secret key, or NULL with the reason
static zcert_t *
s_load_secret (const char *path, char *error, size_t error_size)
{
    zcert_t *cert = zcert_load (path);
    if (!cert || streq (zcert_secret_txt (cert), "0000000000000000000000000000000000000000")) {
        snprintf (error, error_size, "%.200s: not a certificate with its secret key", path);
        zcert_destroy (&cert);
    }
    return cert;
}

int
zap_serve (zsock_t *socket, const char *path, const char *domain, char *error, size_t error_size)
{
    zcert_t *cert = s_load_secret (path, error, error_size);
    if (!cert)
        return -1;
    zcert_apply (cert, zsock_resolve (socket));
    zsock_set_curve_server (socket, 1);
    zsock_set_zap_domain (socket, domain);
    zcert_destroy (&cert);
    return 0;
}

int
zap_join (zsock_t *socket, const char *path, char *error, size_t error_size)
{
    zcert_t *cert = s_load_secret (path, error, error_size);
    if (!cert)
        return -1;
    zcert_apply (cert, zsock_resolve (socket));
    zsock_set_curve_serverkey (socket, zcert_public_txt (cert));
    zcert_destroy (&cert);
    return 0;
}

//  True when a client with this key gets a message through to front,
//  which must then name it by its key
static bool
s_connects (zsock_t *front, int port, zcert_t *key, zcert_t *server)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zcert_apply (key, zsock_resolve (dealer));
    zsock_set_curve_serverkey (dealer, zcert_public_txt (server));
    zsock_connect (dealer, "tcp://127.0.0.1:%d", port);
    zstr_send (dealer, "hello");
    zsock_set_rcvtimeo (front, 1000);
    zmq_msg_t frames [2];
    int count;
    bool through = frames_recv (zsock_resolve (front), frames, 2, &count, 0) == 0;
    if (through) {
        const char *user = zmq_msg_gets (&frames [1], "User-Id");
        assert (count == 2 && user && strncmp (user, ZAP_PRINCIPAL_PREFIX, 6) == 0);
        assert (streq (user + 6, zcert_public_txt (key)));
        frames_close (frames, 2);
    }
    zsock_destroy (&dealer);
    return through;
}

void
zap_test (bool verbose)
{
    printf (" * zap: ");
    //  A client key in the allow-list gets in, under its own name; one
    //  that is not, or the wrong domain, does not
    char directory [] = "/tmp/mcpz-zap-XXXXXX";
    assert (mkdtemp (directory));
    zcert_t *server = zcert_new (), *client = zcert_new (), *stranger = zcert_new ();
    char path [256];
    snprintf (path, sizeof (path), "%s/client.txt", directory);
    assert (zcert_save_public (client, path) == 0);
    snprintf (path, sizeof (path), "%s/server.cert", directory);
    assert (zcert_save (server, path) == 0);
    config_t config = { 0 };
    snprintf (config.curve_clients, sizeof (config.curve_clients), "%s", directory);
    char error [256];
    zactor_t *zap = actor_start (zap_actor, &config, error, sizeof (error));
    assert (zap);

    zsock_t *front = zsock_new (ZMQ_ROUTER);
    assert (zap_serve (front, path, ZAP_DOMAIN_CLIENTS, error, sizeof (error)) == 0);
    int port = zsock_bind (front, "tcp://127.0.0.1:*");
    assert (port > 0);
    assert (s_connects (front, port, client, server));
    assert (!s_connects (front, port, stranger, server));
    //  RELOAD reads the directory again: an empty one lets nobody in
    unlink (path);
    snprintf (path, sizeof (path), "%s/client.txt", directory);
    unlink (path);
    zstr_send (zap, "RELOAD");
    zclock_sleep (100);
    assert (!s_connects (front, port, client, server));
    zsock_destroy (&front);
    zactor_destroy (&zap);
    zcert_destroy (&server);
    zcert_destroy (&client);
    zcert_destroy (&stranger);
    rmdir (directory);
    printf ("OK\n");
}
