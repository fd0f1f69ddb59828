//! SCRAM-SHA-256 verifiers in PostgreSQL's format,
//! `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64),
//! so that a password is never stored, only what checks it (RFC 5802,
//! RFC 7677). pgwire does the exchange itself ([`Verifier::secret`]).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pgwire::api::auth::sasl::scram::{gen_salted_password, ScramSecret};

/// Iterations of a new verifier (PostgreSQL's default `scram_iterations`).
pub const ITERATIONS: usize = 4096;

/// Bytes of a new verifier's salt (as PostgreSQL).
const SALT_LEN: usize = 16;

/// The prefix of PostgreSQL's SCRAM-SHA-256 verifiers.
const PREFIX: &str = "SCRAM-SHA-256$";

/// A SCRAM-SHA-256 verifier: what the server keeps to check a password.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    /// PBKDF2 iterations.
    pub iterations: usize,
    /// The salt.
    pub salt: Vec<u8>,
    /// `H(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// The verifier of `password` with a fresh random salt.
    pub fn from_password(password: &str) -> Verifier {
        let salt = rand::random::<[u8; SALT_LEN]>().to_vec();
        Verifier::with_salt(password, salt, ITERATIONS)
    }

    /// The verifier of `password` with `salt` and `iterations`.
    pub fn with_salt(password: &str, salt: Vec<u8>, iterations: usize) -> Verifier {
        let salted = gen_salted_password(password, &salt, iterations);
        match ScramSecret::verifier_from_salted_password(salt, salted, iterations) {
            ScramSecret::Verifier {
                salt,
                iterations,
                stored_key,
                server_key,
            } => Verifier {
                iterations,
                salt,
                stored_key,
                server_key,
            },
            // verifier_from_salted_password only makes verifiers.
            ScramSecret::SaltedPassword { salt, .. } => Verifier {
                iterations,
                salt,
                stored_key: Vec::new(),
                server_key: Vec::new(),
            },
        }
    }

    /// Parses PostgreSQL's text form; `None` if `text` is not one.
    pub fn parse(text: &str) -> Option<Verifier> {
        let rest = text.strip_prefix(PREFIX)?;
        let (params, keys) = rest.split_once('$')?;
        let (iterations, salt) = params.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        let iterations: usize = iterations.parse().ok().filter(|n| *n > 0)?;
        let salt = STANDARD.decode(salt).ok()?;
        let stored_key = STANDARD.decode(stored).ok()?;
        let server_key = STANDARD.decode(server).ok()?;
        if salt.is_empty() || stored_key.len() != 32 || server_key.len() != 32 {
            return None;
        }
        Some(Verifier {
            iterations,
            salt,
            stored_key,
            server_key,
        })
    }

    /// What pgwire checks a SCRAM exchange against.
    pub fn secret(&self) -> ScramSecret {
        ScramSecret::Verifier {
            salt: self.salt.clone(),
            iterations: self.iterations,
            stored_key: self.stored_key.clone(),
            server_key: self.server_key.clone(),
        }
    }

    /// A verifier no password matches, for users that do not exist or
    /// have no password: the exchange runs as for a real user and fails at
    /// the proof, so a client cannot tell which users exist. The salt is
    /// stable per user name (`seed` is per node).
    pub fn mock(user: &str, seed: u64) -> Verifier {
        use std::hash::{Hash, Hasher};
        let mut salt = Vec::with_capacity(SALT_LEN);
        for part in 0..2u8 {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (seed, part, user).hash(&mut h);
            salt.extend_from_slice(&h.finish().to_be_bytes());
        }
        Verifier {
            iterations: ITERATIONS,
            salt,
            stored_key: rand::random::<[u8; 32]>().to_vec(),
            server_key: rand::random::<[u8; 32]>().to_vec(),
        }
    }
}

impl std::fmt::Display for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{PREFIX}{}:{}${}:{}",
            self.iterations,
            STANDARD.encode(&self.salt),
            STANDARD.encode(&self.stored_key),
            STANDARD.encode(&self.server_key)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_round_trip_through_text() {
        let v = Verifier::from_password("secret");
        let text = v.to_string();
        assert!(text.starts_with("SCRAM-SHA-256$4096:"));
        assert_eq!(Verifier::parse(&text), Some(v));
        assert_eq!(Verifier::parse("md5abc"), None);
        assert_eq!(Verifier::parse("SCRAM-SHA-256$x:y$z:w"), None);
    }

    #[test]
    fn a_verifier_matches_postgresql() {
        // PostgreSQL 15.18: CREATE USER u PASSWORD 'pencil'; its
        // pg_authid.rolpassword.
        let pg = "SCRAM-SHA-256$4096:1O/olu8GIQ3rVJcic4dCZg==$GdBP3ZPUt/20F/vNjCYRQbYELNfpXuc73qSy6XpoUbY=:o6ENL/cXTP350dkPGhvVaJlbY/c/2L2pE35DDG+8SQo=";
        let theirs = Verifier::parse(pg).unwrap();
        let ours = Verifier::with_salt("pencil", theirs.salt.clone(), theirs.iterations);
        assert_eq!(ours.to_string(), pg);
    }
}
