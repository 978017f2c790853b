// A real OpenID Connect provider (the npm package `oidc-provider`) for the JWT tests and the
// tutorial's part 3. It issues JWT access tokens with the client credentials grant:
//
//   node provider.mjs                 # listens on 127.0.0.1:PORT (env PORT, default 0 = any)
//   OIDC_KEYS=keys.json node provider.mjs
//
// - Two clients stand for two users: `alice` (secret `alice-secret`) and `bob` (`bob-secret`);
//   a token's `sub` is the client's id.
// - Resource indicator `https://pc.example/rs256` gets an RS256 token, `https://pc.example/es256`
//   an ES256 one; both have the audience `private-conversations` (env AUDIENCE to change it)
//   and the scope asked for among `threads:read threads:write`.
// - Signing keys: OIDC_KEYS names a JSON file `[{"kid": "...", "pem": "<PKCS#8 private key>"}]`
//   (the first RSA key signs RS256, the first P-256 key ES256); without it, one RSA and one EC key
//   are generated at start.
//
// Prints `listening on http://127.0.0.1:PORT` (the issuer) once ready; stops on SIGTERM/SIGINT.

import { createServer } from 'node:http';
import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const audience = process.env.AUDIENCE ?? 'private-conversations';
const host = process.env.HOST ?? '127.0.0.1';

function signingKeys() {
  if (process.env.OIDC_KEYS) {
    const listed = JSON.parse(readFileSync(process.env.OIDC_KEYS, 'utf8'));
    return listed.map(({ kid, pem }) => ({ ...createPrivateKey(pem).export({ format: 'jwk' }), kid }));
  }
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  return [
    { ...rsa.export({ format: 'jwk' }), kid: `rsa-${randomUUID()}` },
    { ...ec.export({ format: 'jwk' }), kid: `ec-${randomUUID()}` },
  ];
}

const cookies = { keys: [randomUUID()] };

const client = (id) => ({
  client_id: id,
  client_secret: `${id}-secret`,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_post',
});

// The issuer's URL holds the port, so listen first and build the provider once it is known.
let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = createServer((req, res) => handler(req, res));
server.listen(Number(process.env.PORT ?? 0), host, () => {
  const issuer = `http://${host}:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [client('alice'), client('bob')],
    cookies,
    jwks: { keys: signingKeys() },
    scopes: ['threads:read', 'threads:write'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'https://pc.example/rs256',
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (!['https://pc.example/rs256', 'https://pc.example/es256'].includes(resource)) {
            throw new Provider.errors.InvalidTarget();
          }
          return {
            audience,
            scope: 'threads:read threads:write',
            accessTokenFormat: 'jwt',
            accessTokenTTL: 600,
            jwt: { sign: { alg: resource.endsWith('es256') ? 'ES256' : 'RS256' } },
          };
        },
      },
    },
  });
  handler = provider.callback();
  console.log(`listening on ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
