/*  fuzz_auth — libFuzzer target for an HTTP request's Authorization header
    (actors/http/auth.c): static tokens and JWTs (base64url segments, JSON
    header and claims, the key chosen by kid) against a token file and a
    JWKS of one RSA and one EC key.

    Build: cmake -DMCPZ_FUZZ=ON with clang (tests/tests.cmake); run:
    build/fuzz_auth -max_total_time=60 -max_len=4096 tests/fuzz/auth
*/
#include "actors/http/auth.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_jwks [] =
    "{\"keys\":[{\"kty\":\"RSA\",\"key_ops\":[\"verify\"],\"n\":\"tVxIJXRn3vFujhJOEKfN3MMqqrn"
    "NJubGmlQ1f38oHyiV8imOds81HRVkq3DewlXPtKo4JzNQYcE0buzG7xDc7CBv71cvZEvG6HazeGZ3cP-USDQNqWX"
    "Y_EC0N0OcbZG0zcXzXG-Rn2H_JzLhDeYWrx_TJE0C0EOntFscgQNz2Q5PVyp3t2FOZEHpnc_OH3uHorXJtnKFvhe"
    "aG4Dg0wJGKo-tnrt44FGkcyfSsykyHWeR9nRSQ5BrugnuHb2AAW6qIIknN3VjyvvPg1p3PUwyKsedOtaMDcrIgOu"
    "aMvff_hUZbi1qa701s4hcr6JVLisZ72xzocSYri-PXg1YL_6OqQ\",\"e\":\"AQAB\",\"kid\":\"r1\"},{\""
    "kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"jgqOkeSTpQEvthIsBYe8h_vQkvpSE0_GA4JJWeqv0Os\",\"y"
    "\":\"XbxspDBaNuqeH2KcerUue5MDJHCHMbl9o0K8lH84rPU\",\"kid\":\"e1\"}]}";

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static http_auth_t *auth;
    static config_t config;
    if (!auth) {
        FILE *file = fopen ("/tmp/mcpz-fuzz-jwks.json", "w");
        fputs (s_jwks, file);
        fclose (file);
        file = fopen ("/tmp/mcpz-fuzz-tokens", "w");
        fputs ("ci 5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\n", file);
        fclose (file);
        strcpy (config.oauth_jwks, "/tmp/mcpz-fuzz-jwks.json");
        strcpy (config.oauth_issuer, "https://issuer.example");
        strcpy (config.http_tokens, "/tmp/mcpz-fuzz-tokens");
        strcpy (config.oauth_scopes, "mcp");
        char error [256];
        auth = http_auth_new (&config, "http://127.0.0.1:8080/mcp", error, sizeof (error));
        if (!auth)
            abort ();
    }
    char *header = (char *) malloc (size + 1);
    if (!header)
        return 0;
    memcpy (header, data, size);
    header [size] = 0;
    char *principal = NULL;
    const char *code, *reason;
    http_auth_check (auth, header, &principal, &code, &reason);
    free (principal);
    free (header);
    return 0;
}
