//! Where the data is read from: a folder on disk holding `catalog.toml` and the GeoJSON files
//! it names, or the same folder built into the binary.
//!
//! Every path is resolved, symbolic links included, and must stay inside the folder: a catalog
//! cannot make the server read `/etc/passwd`, whatever links the folder holds.

use std::path::{Path, PathBuf};

use super::config::CatalogConfig;
use super::embedded;
use super::geojson::LoadError;

/// A data folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataFolder {
    /// A folder on disk.
    Dir(PathBuf),
    /// The data built into the binary (never changes).
    Embedded,
}

/// The catalog's name inside a data folder.
pub const CATALOG_FILE: &str = "catalog.toml";

impl DataFolder {
    /// Reads and checks `catalog.toml`.
    pub fn catalog(&self) -> Result<CatalogConfig, LoadError> {
        let bytes = self.read(CATALOG_FILE).map_err(|problem| LoadError {
            file: CATALOG_FILE.into(),
            feature: None,
            problem,
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|_| LoadError {
            file: CATALOG_FILE.into(),
            feature: None,
            problem: "not UTF-8 text".into(),
        })?;
        CatalogConfig::parse(text, CATALOG_FILE).map_err(|e| LoadError {
            file: CATALOG_FILE.into(),
            feature: None,
            problem: match e {
                super::config::ConfigError::Parse { message, .. } => message,
                super::config::ConfigError::Layer { id, problem, .. } => {
                    format!("layer {id:?}: {problem}")
                }
                super::config::ConfigError::Read { source, .. } => source.to_string(),
            },
        })
    }

    /// The bytes of a file named relative to the folder. The problem, on failure, names the
    /// file as given, never the absolute path.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        match self {
            Self::Embedded => embedded::file(name)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| format!("{name} is missing from the built-in data")),
            Self::Dir(dir) => {
                let path = resolve_inside(dir, name)?;
                std::fs::read(&path).map_err(|e| format!("cannot read {name}: {}", io_kind(&e)))
            }
        }
    }

    /// The path of a file named relative to the folder, checked to stay inside it; `None` for
    /// the built-in data.
    pub fn path(&self, name: &str) -> Result<Option<PathBuf>, String> {
        match self {
            Self::Embedded => Ok(None),
            Self::Dir(dir) => resolve_inside(dir, name).map(Some),
        }
    }

    /// A cheap fingerprint of the folder's files (names, sizes, modification times) that
    /// changes when any of them does; `None` for the built-in data.
    #[must_use]
    pub fn fingerprint(&self) -> Option<u64> {
        let Self::Dir(dir) = self else {
            return None;
        };
        let mut entries: Vec<(String, u64, u128)> = std::fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let meta = std::fs::metadata(e.path()).ok()?;
                let modified = meta
                    .modified()
                    .ok()?
                    .duration_since(std::time::UNIX_EPOCH)
                    .ok()?
                    .as_nanos();
                Some((name, meta.len(), modified))
            })
            .collect();
        entries.sort();
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for (name, len, modified) in entries {
            hasher.update(name.as_bytes());
            hasher.update(&len.to_le_bytes());
            hasher.update(&modified.to_le_bytes());
        }
        Some(hasher.digest())
    }

    /// How the folder is named in logs.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Dir(dir) => dir.display().to_string(),
            Self::Embedded => "the data built into the binary".into(),
        }
    }
}

/// `dir/name`, resolved through any symbolic links, if it lies inside `dir`.
fn resolve_inside(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let root = dir
        .canonicalize()
        .map_err(|e| format!("cannot open the data folder: {}", io_kind(&e)))?;
    let path = root
        .join(name)
        .canonicalize()
        .map_err(|e| format!("cannot read {name}: {}", io_kind(&e)))?;
    if !path.starts_with(&root) {
        return Err(format!(
            "{name} resolves to a file outside the data folder (through a symbolic link?): refused"
        ));
    }
    if !path.is_file() {
        return Err(format!("{name} is not a regular file"));
    }
    Ok(path)
}

/// An I/O error's kind in words, without the path the OS message may carry.
fn io_kind(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        other => other.to_string(),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn symlinks_out_of_the_folder_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.geojson"), b"{}").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("b.geojson")).unwrap();
        std::os::unix::fs::symlink("a.geojson", dir.path().join("c.geojson")).unwrap();
        let folder = DataFolder::Dir(dir.path().to_path_buf());
        assert_eq!(folder.read("a.geojson").unwrap(), b"{}");
        assert_eq!(
            folder.read("c.geojson").unwrap(),
            b"{}",
            "links inside stay readable"
        );
        let e = folder.read("b.geojson").unwrap_err();
        assert!(e.contains("outside the data folder"), "{e}");
        let e = folder.read("missing.geojson").unwrap_err();
        assert!(
            !e.contains(&*dir.path().to_string_lossy()),
            "no absolute path: {e}"
        );
    }
}
