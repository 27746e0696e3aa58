//! The one way the program reads a file it is pointed at (kubeconfigs, token files, certificates
//! and keys, CA bundles, the in-cluster namespace, `--docs-dir` markdown): regular files only,
//! never blocking on a FIFO, and never more than a cap per use, whatever the file's size claims.
//!
//! Why each rule: a FIFO opened for reading blocks until a writer appears (a `runbook.md` FIFO
//! hung every docs search for good); `/dev/zero` and `/proc` files report a size of 0 and never
//! end or end late (`KUBECONFIG=/dev/zero` grew memory by 1.5 GB a second). So the type is
//! checked before the open, the open cannot block (`O_NONBLOCK`), the type is checked again on
//! the opened file (it may have been swapped in between), and at most cap + 1 bytes are read.

use std::fmt;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// What a file is read as, and how large it may be. The caps are far above any real file of
/// that purpose; they exist so a wrong path (a log, a disk image, a device) fails fast with a
/// clear message instead of filling memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purpose {
    /// For messages: "a kubeconfig", "a token file".
    pub what: &'static str,
    /// The most bytes accepted.
    pub max_bytes: u64,
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// A kubeconfig: the largest real ones (hundreds of contexts with embedded certificates) are a
/// few MB, and kubectl reads the file whole too.
pub const KUBECONFIG: Purpose = Purpose {
    what: "a kubeconfig",
    max_bytes: 16 * MIB,
};

/// `tokenFile` and the service-account token: a service-account JWT is about 1 KB, an OIDC
/// token with many groups stays far below 1 MiB.
pub const TOKEN: Purpose = Purpose {
    what: "a token file",
    max_bytes: MIB,
};

/// Certificates, keys and CA bundles (`certificate-authority`, `client-certificate`,
/// `client-key`, `SSL_CERT_FILE`, the system bundle): a certificate or key is a few KB; a CA
/// bundle such as Debian's `ca-certificates.crt` is about 220 KB and may be named as a
/// cluster's `certificate-authority`.
pub const CERTIFICATE: Purpose = Purpose {
    what: "a certificate, key or CA bundle",
    max_bytes: 4 * MIB,
};

/// The in-cluster namespace file: a namespace name is at most 63 bytes.
pub const NAMESPACE: Purpose = Purpose {
    what: "a namespace file",
    max_bytes: 64 * KIB,
};

/// A `--docs-dir` markdown file: a runbook is a few KB; a 100 MB log renamed `.md` would make
/// every first search slow, and the index lives in memory for the server's lifetime.
pub const MARKDOWN: Purpose = Purpose {
    what: "a markdown document",
    max_bytes: 2 * MIB,
};

/// Why a file was not read. `Display` says what is wrong with the file, not which file: every
/// caller's message names the path already (`cannot read token file /x: ...`).
#[derive(Debug)]
pub enum Error {
    /// Opening, inspecting or reading failed (missing, permission denied, a link where none
    /// may be, an I/O error).
    Io(io::Error),
    /// Not a regular file; says what it is instead.
    NotRegular(FileKind),
    /// More than the purpose allows. `size`: what the file's metadata claims, when it claims
    /// more (a `/proc` file or a growing file only shows it while being read).
    TooLarge { purpose: Purpose, size: Option<u64> },
}

impl Error {
    /// The file (or a folder on its path) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::NotRegular(kind) => write!(f, "not a regular file but {kind}"),
            Error::TooLarge { purpose, size } => {
                match size {
                    Some(size) => write!(f, "{} is", Bytes(*size))?,
                    None => f.write_str("it is")?,
                }
                write!(
                    f,
                    " over the {} limit for {}",
                    Bytes(purpose.max_bytes),
                    purpose.what
                )
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

/// What a path is when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Other,
}

impl FileKind {
    /// `None` for a regular file.
    pub(crate) fn of(meta: &Metadata) -> Option<FileKind> {
        let t = meta.file_type();
        if t.is_file() {
            return None;
        }
        if t.is_dir() {
            return Some(FileKind::Directory);
        }
        if t.is_symlink() {
            return Some(FileKind::Symlink);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if t.is_fifo() {
                return Some(FileKind::Fifo);
            }
            if t.is_socket() {
                return Some(FileKind::Socket);
            }
            if t.is_char_device() {
                return Some(FileKind::CharDevice);
            }
            if t.is_block_device() {
                return Some(FileKind::BlockDevice);
            }
        }
        Some(FileKind::Other)
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Symlink => "a symbolic link",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Other => "a special file",
        })
    }
}

/// A byte count for messages: `16 MiB`, `2.5 GiB`, `812 bytes`.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, size) in [("GiB", 1024 * MIB), ("MiB", MIB), ("KiB", KIB)] {
            if n >= size {
                return if n.is_multiple_of(size) {
                    write!(f, "{} {unit}", n / size)
                } else {
                    write!(f, "{:.1} {unit}", n as f64 / size as f64)
                };
            }
        }
        write!(f, "{n} bytes")
    }
}

/// The contents of the file at `path` (symbolic links followed: kubeconfigs and projected
/// tokens are often links), if it is a regular file within `purpose`'s cap.
pub fn read(path: &Path, purpose: Purpose) -> Result<Vec<u8>, Error> {
    read_with(path, purpose, Follow::Yes)
}

/// [`read`], but a symbolic link as the last component is refused (`O_NOFOLLOW`), not
/// followed: for paths that were already resolved and checked (`--docs-dir` containment), so
/// a link swapped in after the check is not followed out of the folder.
pub fn read_no_follow(path: &Path, purpose: Purpose) -> Result<Vec<u8>, Error> {
    read_with(path, purpose, Follow::No)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Follow {
    Yes,
    No,
}

fn read_with(path: &Path, purpose: Purpose, follow: Follow) -> Result<Vec<u8>, Error> {
    // First the path's type, so a FIFO is never opened at all...
    let meta = match follow {
        Follow::Yes => fs::metadata(path)?,
        Follow::No => fs::symlink_metadata(path)?,
    };
    check(&meta, purpose)?;
    let file = open(path, follow)?;
    // ...then the opened file's, in case the path was replaced in between.
    let meta = file.metadata()?;
    check(&meta, purpose)?;
    // The size is a hint only: `/proc` files say 0 and a file may grow while it is read.
    let hint = meta.len().min(purpose.max_bytes) as usize;
    let mut bytes = Vec::with_capacity(hint.saturating_add(1));
    file.take(purpose.max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > purpose.max_bytes {
        return Err(Error::TooLarge {
            purpose,
            size: None,
        });
    }
    Ok(bytes)
}

fn check(meta: &Metadata, purpose: Purpose) -> Result<(), Error> {
    if let Some(kind) = FileKind::of(meta) {
        return Err(Error::NotRegular(kind));
    }
    if meta.len() > purpose.max_bytes {
        return Err(Error::TooLarge {
            purpose,
            size: Some(meta.len()),
        });
    }
    Ok(())
}

/// Open for reading without blocking: `O_NONBLOCK` makes opening a FIFO return at once even
/// when no writer exists (it is then refused by type); it changes nothing for regular files.
fn open(path: &Path, follow: Follow) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut flags = open_flags::NONBLOCK;
        if follow == Follow::No {
            flags |= open_flags::NOFOLLOW;
        }
        options.custom_flags(flags);
    }
    if follow == Follow::No && open_flags::NOFOLLOW == 0 {
        // No O_NOFOLLOW known for this platform: check right before the open (a narrow race,
        // and the opened file's type is checked again).
        if fs::symlink_metadata(path)?.file_type().is_symlink() {
            return Err(io::Error::other("a symbolic link where none may be"));
        }
    }
    options.open(path)
}

/// `open(2)` flag values; std has no constants for them and the crate takes no libc. They
/// differ by architecture (and O_NOFOLLOW even between x86 and arm), so each is spelled out
/// where it is known; elsewhere 0, and `open` falls back to checking before it opens.
pub(crate) mod open_flags {
    #[cfg(all(
        target_os = "linux",
        any(
            target_arch = "x86_64",
            target_arch = "x86",
            target_arch = "aarch64",
            target_arch = "arm",
            target_arch = "riscv64",
            target_arch = "powerpc64",
            target_arch = "s390x",
            target_arch = "loongarch64"
        )
    ))]
    pub const NONBLOCK: i32 = 0o4000;
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    pub const NONBLOCK: i32 = 0x4;

    // asm-generic/fcntl.h: 0o400000; arm, arm64 and powerpc put O_DIRECTORY and O_NOFOLLOW
    // lower (0o40000, 0o100000).
    #[cfg(all(
        target_os = "linux",
        any(
            target_arch = "x86_64",
            target_arch = "x86",
            target_arch = "riscv64",
            target_arch = "s390x",
            target_arch = "loongarch64"
        )
    ))]
    pub const NOFOLLOW: i32 = 0o400000;
    #[cfg(all(
        target_os = "linux",
        any(
            target_arch = "aarch64",
            target_arch = "arm",
            target_arch = "powerpc64"
        )
    ))]
    pub const NOFOLLOW: i32 = 0o100000;
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    pub const NOFOLLOW: i32 = 0x100;

    #[cfg(not(any(
        all(
            target_os = "linux",
            any(
                target_arch = "x86_64",
                target_arch = "x86",
                target_arch = "aarch64",
                target_arch = "arm",
                target_arch = "riscv64",
                target_arch = "powerpc64",
                target_arch = "s390x",
                target_arch = "loongarch64"
            )
        ),
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    )))]
    pub const NONBLOCK: i32 = 0;
    #[cfg(not(any(
        all(
            target_os = "linux",
            any(
                target_arch = "x86_64",
                target_arch = "x86",
                target_arch = "aarch64",
                target_arch = "arm",
                target_arch = "riscv64",
                target_arch = "powerpc64",
                target_arch = "s390x",
                target_arch = "loongarch64"
            )
        ),
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    )))]
    pub const NOFOLLOW: i32 = 0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    /// A fresh folder under the system temp dir, removed on drop.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir =
                std::env::temp_dir().join(format!("fomcp-files-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("create temp dir");
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const SMALL: Purpose = Purpose {
        what: "a test file",
        max_bytes: 16,
    };

    /// Runs `f` on another thread and fails the test if it has not returned within 10 s:
    /// a regression here is a hang, and a hung test must fail, not stall the suite.
    fn within_10s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("did not return within 10 s: it blocked")
    }

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("run mkfifo");
        assert!(status.success(), "mkfifo {}", path.display());
    }

    #[test]
    fn regular_files_within_the_cap_are_read_whole() {
        let dir = Dir::new("regular");
        let path = dir.0.join("ok");
        fs::write(&path, b"0123456789abcdef").expect("write");
        assert_eq!(read(&path, SMALL).expect("read"), b"0123456789abcdef");
        fs::write(&path, b"").expect("write");
        assert_eq!(read(&path, SMALL).expect("read"), b"");
    }

    #[test]
    fn a_file_over_the_cap_is_refused_with_its_size() {
        let dir = Dir::new("large");
        let path = dir.0.join("big");
        fs::write(&path, [b'x'; 17]).expect("write");
        let e = read(&path, SMALL).expect_err("too large");
        assert!(matches!(e, Error::TooLarge { size: Some(17), .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "17 bytes is over the 16 bytes limit for a test file"
        );
        // A sparse 3 GiB file: refused from its metadata, nothing read.
        let huge = dir.0.join("huge");
        File::create(&huge)
            .and_then(|f| f.set_len(3 * 1024 * MIB))
            .expect("sparse file");
        let started = Instant::now();
        let e = read(&huge, KUBECONFIG).expect_err("too large");
        assert_eq!(
            e.to_string(),
            "3 GiB is over the 16 MiB limit for a kubeconfig"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_file_that_claims_size_zero_is_still_bounded() {
        // /proc files report 0 bytes; /proc/self/maps of a test process is several KB.
        let maps = Path::new("/proc/self/maps");
        if !maps.exists() {
            return;
        }
        let e = read(maps, SMALL).expect_err("over 16 bytes");
        assert!(matches!(e, Error::TooLarge { size: None, .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "it is over the 16 bytes limit for a test file"
        );
        assert!(read(maps, KUBECONFIG).expect("read").len() > 16);
    }

    #[test]
    fn devices_directories_and_sockets_are_refused_by_name() {
        let dir = Dir::new("special");
        let e = within_10s(|| read(Path::new("/dev/zero"), KUBECONFIG)).expect_err("device");
        assert_eq!(e.to_string(), "not a regular file but a character device");
        let e = read(&dir.0, KUBECONFIG).expect_err("directory");
        assert_eq!(e.to_string(), "not a regular file but a directory");
        let socket = dir.0.join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
        let e = read(&socket, KUBECONFIG).expect_err("socket");
        assert_eq!(e.to_string(), "not a regular file but a socket");
        let e = read(&dir.0.join("missing"), KUBECONFIG).expect_err("missing");
        assert!(e.is_not_found(), "{e:?}");
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = Dir::new("fifo");
        let fifo = dir.0.join("x.md");
        mkfifo(&fifo);
        let path = fifo.clone();
        let e = within_10s(move || read(&path, MARKDOWN)).expect_err("fifo");
        assert_eq!(e.to_string(), "not a regular file but a FIFO (named pipe)");
        // A link to it is refused the same way.
        let link = dir.0.join("link.md");
        std::os::unix::fs::symlink(&fifo, &link).expect("symlink");
        let e = within_10s(move || read(&link, MARKDOWN)).expect_err("fifo");
        assert!(matches!(e, Error::NotRegular(FileKind::Fifo)), "{e:?}");
    }

    /// The type check before the open is only half the defence: the open itself must not
    /// block on a FIFO swapped in afterwards. Proves O_NONBLOCK has the right value here.
    #[test]
    fn the_open_itself_does_not_block_on_a_fifo() {
        let dir = Dir::new("fifo-open");
        let fifo = dir.0.join("p");
        mkfifo(&fifo);
        let file = within_10s(move || open(&fifo, Follow::Yes)).expect("opens at once");
        let meta = file.metadata().expect("fstat");
        assert!(matches!(
            check(&meta, SMALL),
            Err(Error::NotRegular(FileKind::Fifo))
        ));
    }

    /// Proves O_NOFOLLOW has the right value here: a link as the last component is refused
    /// by the kernel (ELOOP), even when the type check before the open is skipped.
    #[test]
    fn no_follow_refuses_a_link() {
        let dir = Dir::new("nofollow");
        let target = dir.0.join("target");
        fs::write(&target, b"secret").expect("write");
        let link = dir.0.join("link.md");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        assert_eq!(read(&link, SMALL).expect("follows"), b"secret");
        let e = read_no_follow(&link, SMALL).expect_err("a link");
        assert!(matches!(e, Error::NotRegular(FileKind::Symlink)), "{e:?}");
        let e = open(&link, Follow::No).expect_err("kernel refuses");
        #[cfg(target_os = "linux")]
        assert_eq!(e.raw_os_error(), Some(40), "ELOOP, got {e:?}");
        #[cfg(not(target_os = "linux"))]
        let _ = e;
        assert_eq!(read_no_follow(&target, SMALL).expect("a file"), b"secret");
    }

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(Bytes(812).to_string(), "812 bytes");
        assert_eq!(Bytes(2 * MIB).to_string(), "2 MiB");
        assert_eq!(Bytes(2 * MIB + MIB / 2).to_string(), "2.5 MiB");
        assert_eq!(Bytes(64 * KIB).to_string(), "64 KiB");
        assert_eq!(Bytes(2_147_483_648).to_string(), "2 GiB");
    }
}
