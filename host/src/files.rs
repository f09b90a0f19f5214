//! Reading the files named in the configuration (pages, PEM files, handler
//! components): regular files only, never more than a set size. A FIFO, a
//! device such as `/dev/zero` or an oversized file is refused at once
//! instead of blocking the start or filling memory. And writing the private
//! keys we make, readable by their owner only.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Largest custom page.
pub const MAX_PAGE: u64 = 1 << 20;
/// Largest PEM file.
pub const MAX_PEM: u64 = 1 << 20;
/// Largest handler component.
pub const MAX_HANDLER: u64 = 64 << 20;

/// The contents of the regular file at `path`, if it holds at most `limit` bytes.
pub fn read_bounded(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_without_blocking(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let too_large = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {} MiB", limit >> 20),
        )
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut contents = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut contents)?;
    if contents.len() as u64 > limit {
        return Err(too_large()); // it grew while being read
    }
    Ok(contents)
}

/// Open for reading; on Unix without waiting for a FIFO's writer.
fn open_without_blocking(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    options.open(path)
}

/// A PEM file's contents, read with [`MAX_PEM`]; failing, an error naming the file.
pub fn read_pem(path: &Path) -> crate::error::Result<Vec<u8>> {
    read_bounded(path, MAX_PEM).map_err(|e| crate::error::Error::Pem {
        path: path.into(),
        source: crate::error::PemError::Read(e),
    })
}

/// Replace `file` with `contents` through a new, randomly named temporary
/// file beside it (created exclusively, mode 0600, never through a link)
/// renamed over it: a reader never sees half of it, and nothing planted
/// beside it is written through. `file` must be a regular file or not
/// exist ([`unreplaceable`]).
pub fn replace(file: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    check_replaceable(file)?;
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // Said with its errno: tempfile's own errors keep only the kind.
    std::fs::metadata(dir)?;
    let mut partial = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(dir)?;
    partial.write_all(contents)?;
    partial.persist(file).map_err(|e| e.error)?;
    Ok(())
}

/// [`unreplaceable`] as an error (`InvalidInput`, saying what is there),
/// for a caller that refuses before doing anything else.
pub fn check_replaceable(file: &Path) -> io::Result<()> {
    match unreplaceable(file)? {
        Some(what) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what}, not a regular file: name a new file"),
        )),
        None => Ok(()),
    }
}

/// What is at `file` when [`replace`] must not put a new file there:
/// anything but a regular file (a device such as `/dev/stdout` or
/// `/dev/full`, a link, a folder, a FIFO), since renaming over it replaces
/// it (for every process, `/dev/stdout` being a link) instead of writing
/// into it. `None` when nothing or a regular file is there.
pub fn unreplaceable(file: &Path) -> io::Result<Option<&'static str>> {
    let meta = match std::fs::symlink_metadata(file) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
        Ok(meta) => meta,
    };
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(None);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() || kind.is_block_device() {
            return Ok(Some("a device"));
        }
        if kind.is_fifo() {
            return Ok(Some("a FIFO"));
        }
        if kind.is_socket() {
            return Ok(Some("a socket"));
        }
    }
    Ok(Some(if kind.is_symlink() {
        "a link"
    } else if kind.is_dir() {
        "a folder"
    } else {
        "not a file"
    }))
}

/// A name for a file kept for `key`: 128 bits of its SHA-256, in hex (a
/// file name on every system that says nothing of what it is for).
pub fn name_for(key: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(key)
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether an existing file and its folder are the user's own and writable
/// by nobody else (neither a link): what a cache may trust.
pub fn trusted(path: &Path) -> bool {
    let private = |p: &Path| {
        std::fs::symlink_metadata(p)
            .is_ok_and(|meta| !meta.file_type().is_symlink() && owned(&meta))
    };
    path.parent().is_some_and(private) && private(path)
}

#[cfg(unix)]
fn owned(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    meta.uid() == me && meta.mode() & 0o022 == 0
}

#[cfg(not(unix))]
fn owned(_meta: &std::fs::Metadata) -> bool {
    // The per-user profile directory (%LOCALAPPDATA%) is private by its ACL.
    true
}

/// Create a folder (and its parents) only its owner can enter (0700 on
/// Unix; on Windows the user's profile ACL it inherits).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Write a file only its owner can read (also when it existed before).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    #[cfg(windows)]
    restrict_to_current_user(path)?;
    file.write_all(contents)
}

/// Windows: replace the inherited ACL with one entry, full control for the
/// current user (`icacls`, part of every Windows since Vista).
#[cfg(windows)]
fn restrict_to_current_user(path: &Path) -> std::io::Result<()> {
    let user = std::env::var("USERNAME").map_err(std::io::Error::other)?;
    let status = std::process::Command::new("icacls")
        .arg(path)
        .args(["/inheritance:r", "/grant:r"])
        .arg(format!("{user}:F"))
        .stdout(std::process::Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "icacls could not restrict the key to {user} ({status})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_oversized_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, b"hello").unwrap();
        assert_eq!(read_bounded(&small, 5).unwrap(), b"hello");
        let error = read_bounded(&small, 4).unwrap_err();
        assert!(error.to_string().contains("larger than"), "{error}");
        #[cfg(unix)]
        {
            let error = read_bounded(Path::new("/dev/zero"), MAX_PAGE).unwrap_err();
            assert_eq!(error.to_string(), "not a regular file");
        }
        assert!(read_bounded(dir.path(), MAX_PAGE).is_err(), "a directory");
    }
}
