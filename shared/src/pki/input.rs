//! Reading input files: only regular files, and only up to a size limit.
//!
//! Every file the tools read (certificates, keys, `service.key`, token files,
//! `dynamic-cert.json`, files a plan would replace) goes through [`read`]. A FIFO
//! would block the tool forever, `/dev/zero` behind a `.crt` symlink would fill
//! memory, and no certificate or key file comes anywhere near the limit.

use std::io::Read as _;
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags};

use crate::pki::error::{Error, Kind, Result};

/// The largest input file read: far above any PEM bundle or key file.
pub const MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024;

/// What a non-regular file is, for messages.
pub fn file_kind(file_type: FileType) -> &'static str {
    match file_type {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "not a regular file",
    }
}

/// The contents of the regular file at `path` (symlinks followed), refusing
/// anything else and anything larger than [`MAX_INPUT_BYTES`].
pub fn read(path: &Path) -> Result<Vec<u8>> {
    read_up_to(path, MAX_INPUT_BYTES)
}

/// [`read`] with another limit, for the one kind of input that is a batch
/// (a `kubectl get csr -o json` list of many requests).
pub fn read_up_to(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let refuse = |file_type: FileType| Error::at(path, Kind::NotAFile(file_kind(file_type)));
    // stat first, so that a device is never even opened (opening some has side
    // effects); then fstat the opened file, which is what is actually read.
    let before = rustix::fs::stat(path).map_err(|e| Error::io(path, "reading", e.into()))?;
    let file_type = FileType::from_raw_mode(before.st_mode);
    if file_type != FileType::RegularFile {
        return Err(refuse(file_type));
    }
    // O_NONBLOCK: should the file have been swapped for a FIFO since, opening it
    // does not wait for a writer.
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = rustix::fs::open(path, flags, Mode::empty())
        .map_err(|e| Error::io(path, "reading", e.into()))?;
    let opened = rustix::fs::fstat(&fd).map_err(|e| Error::io(path, "reading", e.into()))?;
    let file_type = FileType::from_raw_mode(opened.st_mode);
    if file_type != FileType::RegularFile {
        return Err(refuse(file_type));
    }
    // Sized from fstat, the file is read in one call (and one to see its end).
    let expected = usize::try_from(opened.st_size.clamp(0, limit as i64)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(expected + 1);
    std::fs::File::from(fd)
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, "reading", e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::at(path, Kind::TooLarge { limit }));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10 case 7: a FIFO or /dev/zero as an input hung the tools.
    #[test]
    fn unbounded_reads_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.crt");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let err = read(&fifo).unwrap_err().to_string();
        assert!(err.contains("a FIFO"), "{err}");
        let zero = dir.path().join("zero.crt");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let err = read(&zero).unwrap_err().to_string();
        assert!(err.contains("a character device"), "{err}");
        assert!(
            read(dir.path())
                .unwrap_err()
                .to_string()
                .contains("a directory")
        );
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'a'; MAX_INPUT_BYTES as usize + 1]).unwrap();
        let err = read(&big).unwrap_err().to_string();
        assert!(err.contains("larger than"), "{err}");
    }
}
