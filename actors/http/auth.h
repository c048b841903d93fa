/*  auth — who an HTTP request's bearer token names: a static token from
    --http-tokens, or an OAuth 2.1 access token (a JWT) checked as the MCP
    authorization specification asks of a resource server. Run by the
    supervisor's thread, inside the HTTP edge.
*/
#ifndef MCPZ_HTTP_AUTH_H
#define MCPZ_HTTP_AUTH_H

#include "runtime/config.h"

typedef struct _http_auth_t http_auth_t;

//  True when the settings ask for HTTP authentication.
bool
    http_auth_wanted (const config_t *config);

//  Reads the token file and the JWKS. resource is this server's canonical
//  URL (the tokens' audience unless --oauth-audience says otherwise).
//  NULL with the reason in error.
http_auth_t *
    http_auth_new (const config_t *config, const char *resource, char *error, size_t error_size);

void
    http_auth_destroy (http_auth_t **self_p);

//  Reads the files again; on failure keeps what it had. 0 or -1 with the
//  reason.
int
    http_auth_reload (http_auth_t *self, char *error, size_t error_size);

//  Checks an Authorization header (NULL when none). Returns 200 with
//  *principal (a new string), or 401 or 403 with *error_code
//  ("invalid_token", "insufficient_scope", or NULL when no token came) and
//  *reason.
int
    http_auth_check (http_auth_t *self, const char *authorization, char **principal,
                     const char **error_code, const char **reason);

//  The WWW-Authenticate value for a refusal (a new string).
char *
    http_auth_challenge (http_auth_t *self, const char *error_code, const char *reason);

//  The Protected Resource Metadata document (RFC 9728) as JSON text (a new
//  string), or NULL without OAuth. Its paths: the well-known one, and that
//  with the resource's path after it.
char *
    http_auth_metadata (http_auth_t *self);
bool
    http_auth_is_metadata_path (http_auth_t *self, const char *path);

void
    http_auth_test (bool verbose);

#endif
