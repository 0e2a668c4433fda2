//! Where a server process keeps its data: the directory the user names
//! (`--data-dir`), or with `--in-memory` a private directory on a tmpfs that
//! lives as long as the process.
//!
//! `--in-memory` is the same LMDB engine with the same semantics, durability
//! calls included; only the files live in memory. Owns choosing that
//! directory and removing it; the engine does not know the difference.
//!
//! * The directory is created fresh (random name `ferrodyn-in-memory-*`,
//!   mode 0700) under `/dev/shm` when that is a writable directory, else
//!   under the system's temporary directory, with a warning when that is
//!   not a tmpfs (the data then sits on disk until the process exits).
//! * It is removed when [`DataDir`] is dropped: when `main` returns, after
//!   SIGTERM or SIGINT (see [`crate::shutdown`]) as after a start-up error.
//!   A process killed with SIGKILL, or by the kernel's out-of-memory killer,
//!   leaves it behind; nothing else uses those directories, so they may be
//!   deleted whenever no Ferrodyn process runs.
//! * Nothing is written to the working directory.
//! * When the tmpfs is full, a commit fails as on a full disk: the engine
//!   refuses further writes (fail-stop, `InternalServerError`) while reads
//!   go on; only a restart, with everything lost, makes it writable again.

use std::path::{Path, PathBuf};

/// The name every in-memory data directory starts with.
pub const IN_MEMORY_PREFIX: &str = "ferrodyn-in-memory-";

/// The data flags both binaries accept.
#[derive(Debug, Clone, clap::Args)]
pub struct DataDirArgs {
    /// Directory holding the data (created if missing).
    #[arg(long, env = "FERRODYN_DATA_DIR", default_value = "./ferrodyn-data")]
    pub data_dir: PathBuf,
    /// Keep the data in memory only: a private directory on a tmpfs
    /// (/dev/shm), removed when the process exits. Same engine and
    /// semantics; nothing is written to the working directory.
    #[arg(
        long,
        env = "FERRODYN_IN_MEMORY",
        conflicts_with = "data_dir",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub in_memory: bool,
}

/// The data directory of a running process.
#[derive(Debug)]
pub enum DataDir {
    /// A directory the user named; it outlives the process.
    OnDisk(PathBuf),
    /// A private directory, removed when this value is dropped.
    InMemory(tempfile::TempDir),
}

/// Why the in-memory directory could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create an in-memory data directory under {base}")]
pub struct InMemoryError {
    base: PathBuf,
    #[source]
    source: std::io::Error,
}

impl DataDir {
    /// The directory `args` ask for; for `--in-memory`, created now.
    pub fn from_args(args: &DataDirArgs) -> Result<DataDir, InMemoryError> {
        if args.in_memory {
            DataDir::in_memory()
        } else {
            Ok(DataDir::OnDisk(args.data_dir.clone()))
        }
    }

    /// A fresh private directory on `/dev/shm`, else in the temporary
    /// directory.
    pub fn in_memory() -> Result<DataDir, InMemoryError> {
        let shm = Path::new("/dev/shm");
        let created = if shm.is_dir() {
            // Not writable (a read-only container, say): fall back below.
            create_under(shm).ok()
        } else {
            None
        };
        let dir = match created {
            Some(dir) => dir,
            None => {
                let base = std::env::temp_dir();
                let dir = create_under(&base).map_err(|source| InMemoryError {
                    base: base.clone(),
                    source,
                })?;
                if memory_backed(dir.path()) != Some(true) {
                    tracing::warn!(
                        dir = %dir.path().display(),
                        "no writable /dev/shm: the in-memory data directory is in the temporary directory, which is disk-backed"
                    );
                }
                dir
            }
        };
        tracing::info!(
            dir = %dir.path().display(),
            "in-memory data directory; removed when the process exits (kill -9 leaves it behind)"
        );
        Ok(DataDir::InMemory(dir))
    }

    pub fn path(&self) -> &Path {
        match self {
            DataDir::OnDisk(path) => path,
            DataDir::InMemory(dir) => dir.path(),
        }
    }

    pub fn is_in_memory(&self) -> bool {
        matches!(self, DataDir::InMemory(_))
    }
}

fn create_under(base: &Path) -> std::io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(IN_MEMORY_PREFIX);
    // /dev/shm is world-readable: the data must be the user's alone.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    builder.tempdir_in(base)
}

/// Whether `path` is on a tmpfs (`None`: cannot tell, e.g. no
/// `/proc/self/mounts`). The mount with the longest matching mount point
/// is the one holding the path.
fn memory_backed(path: &Path) -> Option<bool> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    let path = path.canonicalize().ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _device = fields.next()?;
            // Spaces in mount points are written as \040; such mounts
            // simply never match.
            let mount_point = Path::new(fields.next()?);
            let fs_type = fields.next()?;
            path.starts_with(mount_point)
                .then(|| (mount_point.as_os_str().len(), fs_type == "tmpfs"))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, tmpfs)| tmpfs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_directory_is_private_and_removed_on_drop() {
        let dir = DataDir::in_memory().expect("create");
        let path = dir.path().to_owned();
        assert!(path.is_dir());
        assert!(path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(IN_MEMORY_PREFIX)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        std::fs::write(path.join("data.mdb"), b"x").expect("write");
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn dev_shm_counts_as_memory_backed_where_it_is_a_tmpfs() {
        let shm = Path::new("/dev/shm");
        if let (true, Some(mounts)) = (
            shm.is_dir(),
            std::fs::read_to_string("/proc/self/mounts").ok(),
        ) {
            let listed_as_tmpfs = mounts.lines().any(|l| l.contains(" /dev/shm tmpfs "));
            assert_eq!(memory_backed(shm), Some(listed_as_tmpfs));
        }
    }
}
