//! The test key pairs, included as a module by the unit tests (`src/jwt/tests.rs`) and by the
//! benchmark (`benches/jwt.rs`): an RSA key (kid `rsa`) and an EC P-256 key (kid `ec`), private
//! halves to sign with, public halves for a verifier.

use super::{EncodingKey, StaticKey};

const RSA: &str = include_str!("rsa.pem");
const EC: &str = include_str!("ec.pem");
/// The RSA public key, PEM.
pub const RSA_PUB: &str = include_str!("rsa.pub.pem");
const EC_PUB: &str = include_str!("ec.pub.pem");

/// The RSA private key, to sign RS256 (and PS256) tokens.
pub fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA.as_bytes()).unwrap()
}

/// The EC private key, to sign ES256 tokens.
pub fn ec_key() -> EncodingKey {
    EncodingKey::from_ec_pem(EC.as_bytes()).unwrap()
}

/// Both public keys with their kids, as `JwtVerifier::from_keys` takes them.
pub fn public_keys() -> [StaticKey; 2] {
    [
        StaticKey::rsa_pem(RSA_PUB.as_bytes())
            .unwrap()
            .with_kid("rsa"),
        StaticKey::ec_pem(EC_PUB.as_bytes()).unwrap().with_kid("ec"),
    ]
}
