/*  auth — see auth.h.

    Static tokens: --http-tokens names a file of lines "NAME SHA256-HEX";
    a request's token is hashed and compared with every line in constant
    time, and its principal is "token:NAME". The file holds no token.

    OAuth: a JWT access token is checked for its signature with a key of
    the JWKS file (--oauth-jwks) chosen by kid, its issuer (--oauth-issuer),
    its audience (--oauth-audience, else this server's resource URL), its
    expiry and not-before (60 s of leeway), and the scopes --oauth-scopes
    asks for; its principal is "oauth:ISSUER SUBJECT". libjwt checks the
    signature; Debian's libjwt 1.10 reads no JWKS, so OpenSSL turns each
    JWK into a PEM key, and libjwt takes the algorithm from the token's
    header: this file accepts only the algorithm the key is for (never
    none, never HMAC, which a public key would key), before libjwt sees it.

    Checked tokens are remembered by their hash until they expire (bounded),
    so steady traffic costs a hash, not an RSA verification.
*/
#include "actors/http/auth.h"
#include "proto/mcpz.h"

#include <czmq.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <time.h>

#define LEEWAY_S      60
#define CACHE_MAX     10000
#define KEY_MAX       2048          //  bytes of a decoded key part or token segment

typedef struct {
    char *kid;                      //  "" when the JWK has none
    char *pem;
    jwt_alg_t alg;                  //  the one algorithm this key verifies
} key_t_;

typedef struct {
    char name [128];
    unsigned char hash [crypto_hash_sha256_BYTES];
} token_t;

typedef struct {
    char *principal;
    int64_t expires;                //  seconds since the epoch
} remembered_t;

struct _http_auth_t {
    const config_t *config;
    char resource [1024];
    char metadata_url [1200];
    char metadata_path [1100];      //  the well-known path with the resource's path
    token_t *tokens;
    size_t token_count;
    key_t_ *keys;
    size_t key_count;
    zhashx_t *cache;                //  token hash (hex) -> remembered_t
};

bool
http_auth_wanted (const config_t *config)
{
    return *config->http_tokens || *config->oauth_jwks;
}

//  --------------------------------------------------------------------------
//  Static tokens

static void
s_hash_hex (const char *token, char *hex)
{
    unsigned char hash [crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (hash, (const unsigned char *) token, strlen (token));
    sodium_bin2hex (hex, 2 * sizeof (hash) + 1, hash, sizeof (hash));
}

static int
s_load_tokens (const char *path, token_t **tokens_p, size_t *count_p, char *error, size_t error_size)
{
    *tokens_p = NULL;
    *count_p = 0;
    if (!*path)
        return 0;
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (error, error_size, "--http-tokens %.200s: %s", path, strerror (errno));
        return -1;
    }
    token_t *tokens = NULL;
    size_t count = 0;
    char line [1024];
    int number = 0, rc = 0;
    while (rc == 0 && fgets (line, sizeof (line), file)) {
        number++;
        char name [128], hex [128];
        if (line [0] == '#' || strspn (line, " \t\r\n") == strlen (line))
            continue;
        token_t *grown = (token_t *) realloc (tokens, (count + 1) * sizeof (token_t));
        if (sscanf (line, "%127s %127s", name, hex) != 2 || !grown
        ||  sodium_hex2bin (grown [count].hash, sizeof (grown [count].hash), hex, strlen (hex),
                            NULL, NULL, NULL) || strlen (hex) != 2 * crypto_hash_sha256_BYTES) {
            snprintf (error, error_size, "--http-tokens %.200s line %d: expected NAME SHA256-HEX",
                      path, number);
            rc = -1;
        }
        if (grown)
            tokens = grown;
        if (rc == 0)
            snprintf (tokens [count++].name, sizeof (tokens [0].name), "%s", name);
    }
    fclose (file);
    if (rc)
        free (tokens);
    else {
        *tokens_p = tokens;
        *count_p = count;
    }
    return rc;
}

//  The name of the token whose hash this is, or NULL. Every line is
//  compared, whole: no early exit tells how much matched.
static const char *
s_static_token (http_auth_t *self, const char *token)
{
    unsigned char hash [crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (hash, (const unsigned char *) token, strlen (token));
    const char *found = NULL;
    for (size_t index = 0; index < self->token_count; index++)
        if (sodium_memcmp (hash, self->tokens [index].hash, sizeof (hash)) == 0)
            found = self->tokens [index].name;
    return found;
}

//  --------------------------------------------------------------------------
//  JWKS

//  Base64url text into bytes; -1 when it is not base64url or too long
static int
s_unbase64 (const char *text, size_t length, unsigned char *out, size_t out_size, size_t *size_p)
{
    return sodium_base642bin (out, out_size, text, length, NULL, size_p, NULL,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static int
s_member (json_t *jwk, const char *name, unsigned char *out, size_t *size_p)
{
    const char *text = json_string_value (json_object_get (jwk, name));
    return text? s_unbase64 (text, strlen (text), out, KEY_MAX, size_p): -1;
}

//  A JWK's public key as an EVP_PKEY and the algorithm it is for, or NULL
static EVP_PKEY *
s_jwk_key (json_t *jwk, jwt_alg_t *alg_p)
{
    const char *kty = json_string_value (json_object_get (jwk, "kty"));
    const char *crv = json_string_value (json_object_get (jwk, "crv"));
    unsigned char first [KEY_MAX], second [KEY_MAX];
    //  The builder keeps a pointer to it until OSSL_PARAM_BLD_to_param, below
    //  (fuzzing found it in an inner scope, gone by then)
    unsigned char point [1 + 2 * 66];
    size_t first_size, second_size;
    OSSL_PARAM_BLD *build = OSSL_PARAM_BLD_new ();
    BIGNUM *n = NULL, *e = NULL;
    const char *type = NULL;
    bool ok = build != NULL;
    if (ok && kty && streq (kty, "RSA") && s_member (jwk, "n", first, &first_size) == 0
    &&  s_member (jwk, "e", second, &second_size) == 0) {
        n = BN_bin2bn (first, (int) first_size, NULL);
        e = BN_bin2bn (second, (int) second_size, NULL);
        ok = n && e && OSSL_PARAM_BLD_push_BN (build, "n", n) && OSSL_PARAM_BLD_push_BN (build, "e", e);
        type = "RSA";
        *alg_p = JWT_ALG_RS256;
    }
    else
    if (ok && kty && streq (kty, "EC") && crv && s_member (jwk, "x", first, &first_size) == 0
    &&  s_member (jwk, "y", second, &second_size) == 0) {
        const char *group = streq (crv, "P-256")? "prime256v1": streq (crv, "P-384")? "secp384r1":
                            streq (crv, "P-521")? "secp521r1": NULL;
        *alg_p = streq (crv, "P-256")? JWT_ALG_ES256: streq (crv, "P-384")? JWT_ALG_ES384: JWT_ALG_ES512;
        size_t field = streq (crv, "P-256")? 32: streq (crv, "P-384")? 48: 66;
        //  The uncompressed point: 4, x, y, each its field's width (some
        //  writers drop leading zero bytes)
        memset (point, 0, sizeof (point));
        point [0] = 4;
        ok = group && first_size <= field && second_size <= field;
        if (ok) {
            memcpy (point + 1 + field - first_size, first, first_size);
            memcpy (point + 1 + 2 * field - second_size, second, second_size);
        }
        ok = ok && OSSL_PARAM_BLD_push_utf8_string (build, "group", group, 0)
          && OSSL_PARAM_BLD_push_octet_string (build, "pub", point, 1 + 2 * field);
        type = "EC";
    }
    else
        ok = false;
    OSSL_PARAM *params = ok? OSSL_PARAM_BLD_to_param (build): NULL;
    EVP_PKEY_CTX *context = params? EVP_PKEY_CTX_new_from_name (NULL, type, NULL): NULL;
    EVP_PKEY *key = NULL;
    if (!context || EVP_PKEY_fromdata_init (context) <= 0
    ||  EVP_PKEY_fromdata (context, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        key = NULL;
    EVP_PKEY_CTX_free (context);
    OSSL_PARAM_free (params);
    OSSL_PARAM_BLD_free (build);
    BN_free (n);
    BN_free (e);
    return key;
}

static char *
s_pem (EVP_PKEY *key)
{
    BIO *bio = BIO_new (BIO_s_mem ());
    char *data = NULL, *pem = NULL;
    if (bio && PEM_write_bio_PUBKEY (bio, key)) {
        long size = BIO_get_mem_data (bio, &data);
        if (size > 0 && (pem = (char *) malloc ((size_t) size + 1))) {
            memcpy (pem, data, (size_t) size);
            pem [size] = 0;
        }
    }
    BIO_free (bio);
    return pem;
}

static void
s_free_keys (key_t_ *keys, size_t count)
{
    for (size_t index = 0; index < count; index++) {
        free (keys [index].kid);
        free (keys [index].pem);
    }
    free (keys);
}

static int
s_load_jwks (const char *path, key_t_ **keys_p, size_t *count_p, char *error, size_t error_size)
{
    *keys_p = NULL;
    *count_p = 0;
    if (!*path)
        return 0;
    json_error_t problem;
    json_t *jwks = json_load_file (path, 0, &problem);
    json_t *list = json_object_get (jwks, "keys");
    size_t count = json_array_size (list);
    key_t_ *keys = count? (key_t_ *) calloc (count, sizeof (key_t_)): NULL;
    int rc = keys? 0: -1;
    for (size_t index = 0; rc == 0 && index < count; index++) {
        json_t *jwk = json_array_get (list, index);
        const char *kid = json_string_value (json_object_get (jwk, "kid"));
        const char *alg = json_string_value (json_object_get (jwk, "alg"));
        EVP_PKEY *key = s_jwk_key (jwk, &keys [index].alg);
        //  RSA keys verify the RS algorithm the JWK names (RS256 unless)
        if (key && alg && keys [index].alg == JWT_ALG_RS256
        &&  (streq (alg, "RS384") || streq (alg, "RS512")))
            keys [index].alg = jwt_str_alg (alg);
        keys [index].pem = key? s_pem (key): NULL;
        keys [index].kid = strdup (kid? kid: "");
        EVP_PKEY_free (key);
        if (!keys [index].pem || !keys [index].kid
        ||  (alg && !streq (alg, jwt_alg_str (keys [index].alg))))
            rc = -1;
    }
    if (rc)
        snprintf (error, error_size, "--oauth-jwks %.200s: %s", path,
                  !jwks? problem.text: !count? "no \"keys\"": "a key is not an RSA or EC (P-256, "
                  "P-384, P-521) public key for the algorithm it names");
    json_decref (jwks);
    if (rc)
        s_free_keys (keys, count);
    else {
        *keys_p = keys;
        *count_p = count;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  JWT

//  A segment of a token as JSON, or NULL
static json_t *
s_segment (const char *start, size_t length)
{
    unsigned char text [4 * KEY_MAX];
    size_t size;
    if (s_unbase64 (start, length, text, sizeof (text) - 1, &size))
        return NULL;
    return json_loadb ((const char *) text, size, 0, NULL);
}

static key_t_ *
s_key_for (http_auth_t *self, json_t *header)
{
    const char *kid = json_string_value (json_object_get (header, "kid"));
    const char *alg = json_string_value (json_object_get (header, "alg"));
    key_t_ *key = NULL;
    if (!kid && self->key_count == 1)
        key = &self->keys [0];
    for (size_t index = 0; kid && index < self->key_count; index++)
        if (streq (self->keys [index].kid, kid))
            key = &self->keys [index];
    //  Only the algorithm the key is for: "none" and HMAC never
    return key && alg && jwt_str_alg (alg) == key->alg? key: NULL;
}

static bool
s_audience (json_t *aud, const char *want)
{
    if (json_is_string (aud))
        return streq (json_string_value (aud), want);
    size_t index;
    json_t *item;
    json_array_foreach (aud, index, item)
        if (json_is_string (item) && streq (json_string_value (item), want))
            return true;
    return false;
}

//  True when the token grants every scope the settings ask for
static bool
s_scopes (http_auth_t *self, json_t *claims)
{
    const char *granted = json_string_value (json_object_get (claims, "scope"));
    char wanted [1024];
    snprintf (wanted, sizeof (wanted), "%s", self->config->oauth_scopes);
    for (char *save = NULL, *scope = strtok_r (wanted, " ", &save); scope;
         scope = strtok_r (NULL, " ", &save)) {
        bool found = false;
        char have [4096];
        snprintf (have, sizeof (have), "%s", granted? granted: "");
        for (char *other = NULL, *one = strtok_r (have, " ", &other); one && !found;
             one = strtok_r (NULL, " ", &other))
            found = streq (one, scope);
        if (!found)
            return false;
    }
    return true;
}

//  Checks a JWT; 200 with *principal and *expires, else 401/403 with why
static int
s_check_jwt (http_auth_t *self, const char *token, char **principal, int64_t *expires,
             const char **error_code, const char **reason)
{
    *error_code = "invalid_token";
    const char *dot = strchr (token, '.'), *last = dot? strchr (dot + 1, '.'): NULL;
    json_t *header = dot? s_segment (token, (size_t) (dot - token)): NULL;
    key_t_ *key = header? s_key_for (self, header): NULL;
    json_decref (header);
    jwt_t *jwt = NULL;
    if (!key || jwt_decode (&jwt, token, (const unsigned char *) key->pem, (int) strlen (key->pem))) {
        *reason = key? "the token's signature does not verify": "the token names no key or algorithm of ours";
        return 401;
    }
    jwt_free (jwt);
    json_t *claims = s_segment (dot + 1, (size_t) (last - dot - 1));
    const char *iss = json_string_value (json_object_get (claims, "iss"));
    const char *sub = json_string_value (json_object_get (claims, "sub"));
    json_t *exp = json_object_get (claims, "exp"), *nbf = json_object_get (claims, "nbf");
    int64_t now = (int64_t) time (NULL);
    const char *audience = *self->config->oauth_audience? self->config->oauth_audience: self->resource;
    int status = 401;
    if (!iss || !streq (iss, self->config->oauth_issuer))
        *reason = "the token's issuer is not ours";
    else
    if (!s_audience (json_object_get (claims, "aud"), audience))
        *reason = "the token is not for this resource (audience)";
    else
    if (!json_is_integer (exp) || json_integer_value (exp) + LEEWAY_S < now)
        *reason = "the token has expired";
    else
    if (json_is_integer (nbf) && json_integer_value (nbf) - LEEWAY_S > now)
        *reason = "the token is not valid yet";
    else
    if (!sub || strlen (iss) + strlen (sub) + 8 > MCPZ_PRINCIPAL_MAX)
        *reason = "the token names no subject";
    else
    if (!s_scopes (self, claims)) {
        status = 403;
        *error_code = "insufficient_scope";
        *reason = "the token lacks a scope this resource needs";
    }
    else {
        status = 200;
        *principal = (char *) malloc (strlen (iss) + strlen (sub) + 8);
        if (*principal)
            sprintf (*principal, "oauth:%s %s", iss, sub);
        *expires = json_integer_value (exp);
    }
    json_decref (claims);
    return status == 200 && !*principal? 401: status;
}

static void
s_forget_all (http_auth_t *self)
{
    for (remembered_t *item = (remembered_t *) zhashx_first (self->cache); item;
         item = (remembered_t *) zhashx_next (self->cache))
        free (item->principal);
    zhashx_purge (self->cache);
}

static void
s_remember (http_auth_t *self, const char *hash, const char *principal, int64_t expires)
{
    if (zhashx_size (self->cache) >= CACHE_MAX)
        s_forget_all (self);
    remembered_t *item = (remembered_t *) calloc (1, sizeof (remembered_t));
    if (!item || !(item->principal = strdup (principal))) {
        free (item);
        return;
    }
    item->expires = expires;
    zhashx_insert (self->cache, hash, item);
}

//  --------------------------------------------------------------------------
//  The class

int
http_auth_reload (http_auth_t *self, char *error, size_t error_size)
{
    token_t *tokens;
    key_t_ *keys;
    size_t token_count, key_count;
    if (s_load_tokens (self->config->http_tokens, &tokens, &token_count, error, error_size))
        return -1;
    if (s_load_jwks (self->config->oauth_jwks, &keys, &key_count, error, error_size)) {
        free (tokens);
        return -1;
    }
    free (self->tokens);
    s_free_keys (self->keys, self->key_count);
    self->tokens = tokens;
    self->token_count = token_count;
    self->keys = keys;
    self->key_count = key_count;
    //  A revoked token or key must not live on here
    s_forget_all (self);
    return 0;
}

http_auth_t *
http_auth_new (const config_t *config, const char *resource, char *error, size_t error_size)
{
    http_auth_t *self = (http_auth_t *) calloc (1, sizeof (http_auth_t));
    if (!self || !(self->cache = zhashx_new ())) {
        free (self);
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->config = config;
    snprintf (self->resource, sizeof (self->resource), "%s",
              *config->oauth_resource? config->oauth_resource: resource);
    //  RFC 9728 3.1: the well-known path goes between the host and the
    //  resource's path
    const char *scheme_end = strstr (self->resource, "://");
    const char *path = scheme_end? strchr (scheme_end + 3, '/'): NULL;
    size_t origin = path? (size_t) (path - self->resource): strlen (self->resource);
    snprintf (self->metadata_path, sizeof (self->metadata_path), "/.well-known/oauth-protected-resource%s",
              path && !streq (path, "/")? path: "");
    snprintf (self->metadata_url, sizeof (self->metadata_url), "%.*s%s", (int) origin, self->resource,
              self->metadata_path);
    if (http_auth_reload (self, error, error_size)) {
        http_auth_destroy (&self);
        return NULL;
    }
    return self;
}

void
http_auth_destroy (http_auth_t **self_p)
{
    if (*self_p) {
        http_auth_t *self = *self_p;
        if (self->cache)
            s_forget_all (self);
        zhashx_destroy (&self->cache);
        free (self->tokens);
        s_free_keys (self->keys, self->key_count);
        free (self);
        *self_p = NULL;
    }
}

int
http_auth_check (http_auth_t *self, const char *authorization, char **principal,
                 const char **error_code, const char **reason)
{
    *principal = NULL;
    *error_code = NULL;
    *reason = "this resource needs a bearer token";
    if (!authorization || strncasecmp (authorization, "Bearer ", 7) != 0)
        return 401;
    const char *token = authorization + 7;
    while (*token == ' ')
        token++;
    *error_code = "invalid_token";
    *reason = "the token is not one this resource accepts";
    if (!*token || strlen (token) > 8192)
        return 401;
    char hash [2 * crypto_hash_sha256_BYTES + 1];
    s_hash_hex (token, hash);
    remembered_t *known = (remembered_t *) zhashx_lookup (self->cache, hash);
    if (known && known->expires >= (int64_t) time (NULL) - LEEWAY_S) {
        *principal = strdup (known->principal);
        return *principal? 200: 401;
    }
    const char *name = self->token_count? s_static_token (self, token): NULL;
    if (name) {
        *principal = (char *) malloc (strlen (name) + 7);
        if (*principal)
            sprintf (*principal, "token:%s", name);
        return *principal? 200: 401;
    }
    if (!self->key_count)
        return 401;
    int64_t expires = 0;
    int status = s_check_jwt (self, token, principal, &expires, error_code, reason);
    if (status == 200)
        s_remember (self, hash, *principal, expires);
    return status;
}

char *
http_auth_challenge (http_auth_t *self, const char *error_code, const char *reason)
{
    char *text = (char *) malloc (2048);
    if (!text)
        return NULL;
    int at = snprintf (text, 2048, "Bearer resource_metadata=\"%s\"", self->metadata_url);
    if (*self->config->oauth_scopes)
        at += snprintf (text + at, 2048 - (size_t) at, ", scope=\"%s\"", self->config->oauth_scopes);
    if (error_code)
        snprintf (text + at, 2048 - (size_t) at, ", error=\"%s\", error_description=\"%s\"",
                  error_code, reason);
    return text;
}

bool
http_auth_is_metadata_path (http_auth_t *self, const char *path)
{
    return self->key_count && (streq (path, "/.well-known/oauth-protected-resource")
                               || streq (path, self->metadata_path));
}

char *
http_auth_metadata (http_auth_t *self)
{
    if (!self->key_count)
        return NULL;
    json_t *document = json_pack ("{s:s,s:[s],s:[s]}", "resource", self->resource,
        "authorization_servers", *self->config->oauth_authorization_server?
            self->config->oauth_authorization_server: self->config->oauth_issuer,
        "bearer_methods_supported", "header");
    json_t *scopes = json_array ();
    char wanted [1024];
    snprintf (wanted, sizeof (wanted), "%s", self->config->oauth_scopes);
    for (char *save = NULL, *scope = strtok_r (wanted, " ", &save); scope; scope = strtok_r (NULL, " ", &save))
        json_array_append_new (scopes, json_string (scope));
    if (json_array_size (scopes))
        json_object_set (document, "scopes_supported", scopes);
    json_decref (scopes);
    char *text = document? json_dumps (document, JSON_COMPACT): NULL;
    json_decref (document);
    return text;
}

void
http_auth_test (bool verbose)
{
    printf (" * http_auth: ");
    //  A static token file: names, hashes, comments; a bad line is refused
    char path [] = "/tmp/mcpz-tokens-XXXXXX";
    int fd = mkstemp (path);
    assert (fd >= 0);
    char hex [2 * crypto_hash_sha256_BYTES + 1], line [256];
    s_hash_hex ("s3cret", hex);
    int size = snprintf (line, sizeof (line), "# tokens\nci %s\n\n", hex);
    assert (write (fd, line, (size_t) size) == size);
    close (fd);
    config_t config = { 0 };
    snprintf (config.http_tokens, sizeof (config.http_tokens), "%s", path);
    char error [256];
    http_auth_t *auth = http_auth_new (&config, "http://127.0.0.1:8080/mcp", error, sizeof (error));
    assert (auth);
    char *principal;
    const char *code, *reason;
    assert (http_auth_check (auth, "Bearer s3cret", &principal, &code, &reason) == 200);
    assert (streq (principal, "token:ci"));
    free (principal);
    assert (http_auth_check (auth, "Bearer s3cre", &principal, &code, &reason) == 401);
    assert (streq (code, "invalid_token") && !principal);
    assert (http_auth_check (auth, NULL, &principal, &code, &reason) == 401 && !code);
    assert (http_auth_check (auth, "Basic czNjcmV0", &principal, &code, &reason) == 401);
    //  Without OAuth there is no metadata document
    assert (!http_auth_metadata (auth));
    char *challenge = http_auth_challenge (auth, "invalid_token", "x");
    assert (strstr (challenge, "resource_metadata=\"http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp\""));
    free (challenge);
    http_auth_destroy (&auth);
    FILE *file = fopen (path, "w");
    fprintf (file, "ci nothex\n");
    fclose (file);
    assert (!http_auth_new (&config, "http://h/mcp", error, sizeof (error)));
    assert (strstr (error, "line 1"));
    unlink (path);
    //  A JWKS key that names HS256 is no key of ours
    char jwks [] = "/tmp/mcpz-jwks-XXXXXX";
    fd = mkstemp (jwks);
    const char *text = "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"alg\":\"HS256\"}]}";
    assert (write (fd, text, strlen (text)) == (ssize_t) strlen (text));
    close (fd);
    memset (&config, 0, sizeof (config));
    snprintf (config.oauth_jwks, sizeof (config.oauth_jwks), "%s", jwks);
    assert (!http_auth_new (&config, "http://h/mcp", error, sizeof (error)));
    unlink (jwks);
    printf ("OK\n");
}
