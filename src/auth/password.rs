//! Passwords, hashed with argon2id (the `argon2` crate's PHC strings carry their own salt and
//! parameters, so raising the cost later still verifies old hashes). Hashing is deliberately
//! slow: callers run it on the blocking pool, never on the async executor.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordVerifier, Version};

/// argon2id cost: memory in KiB, iterations, lanes (configurable; OWASP's minimum is
/// 19 MiB, 2 iterations, 1 lane).
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub lanes: u32,
}

impl Cost {
    pub fn of(config: &crate::config::Config) -> Cost {
        Cost {
            memory_kib: config.argon2_memory_kib,
            iterations: config.argon2_iterations,
            lanes: config.argon2_lanes,
        }
    }
}

fn hasher(cost: Cost) -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.lanes, None)
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub fn hash(password: &str, cost: Cost) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher(cost)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?
        .to_string())
}

/// Whether `password` matches the stored PHC string (with the parameters stored in it).
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A hash of a fixed password at `cost`: verified against when the email is unknown, so a
/// failed login takes as long whether or not the account exists.
pub fn decoy(cost: Cost) -> String {
    hash("creo-decoy-password", cost).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let cost = Cost {
            memory_kib: 1024,
            iterations: 1,
            lanes: 1,
        };
        let a = hash("correct horse", cost).unwrap();
        let b = hash("correct horse", cost).unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse", &a));
        assert!(!verify("wrong horse", &a));
        assert!(!verify("correct horse", "not a hash"));
    }
}
