//! Files under the data directory that only the server's own user may read: the store (which
//! holds sealed secrets, ledgers and everyone's documents) and the generated development keys.
//! The directory is made 0700 and each file 0600, also when an older version left them
//! readable by others.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

#[cfg(unix)]
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

/// Creates `dir` (and its parents) if needed; `dir` itself is made 0700.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// Creates `path` empty if it does not exist, and makes it 0600 either way.
pub fn private_file(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    opts.mode(0o600);
    drop(opts.open(path)?);
    restrict(path)
}

/// Makes an existing `path` 0600 (nothing when it does not exist).
pub fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        other => other?,
    }
    Ok(())
}

/// Writes a new file readable by the owner only (fails if it exists).
pub fn write_new(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    Ok(())
}

/// A random 32-byte key kept (hex) in `DATA/name`: generated on first use, 0600. What development
/// mode uses when no key is configured, so every command on one data directory agrees.
pub fn dev_key(data: &Path, name: &str) -> anyhow::Result<Vec<u8>> {
    let path = data.join(name);
    if let Ok(hex_key) = std::fs::read_to_string(&path) {
        restrict(&path)?;
        return hex::decode(hex_key.trim())
            .with_context(|| format!("{} is not a hex key", path.display()));
    }
    private_dir(data).with_context(|| format!("creating {}", data.display()))?;
    let mut key = vec![0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    write_new(&path, hex::encode(&key).as_bytes())?;
    tracing::warn!(
        path = %path.display(),
        "no key configured: generated a development key and stored it under the data directory"
    );
    Ok(key)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_keys_are_the_owners_alone_even_when_they_were_not() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        private_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        let db = data.join("creo.db");
        std::fs::write(&db, b"x").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(std::fs::read(&db).unwrap(), b"x", "kept its contents");
        let key = dev_key(&data, "k").unwrap();
        assert_eq!(key.len(), 32);
        assert_eq!(mode(&data.join("k")), 0o600);
        assert_eq!(dev_key(&data, "k").unwrap(), key, "the same key next time");
    }
}
