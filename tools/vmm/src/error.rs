// SPDX-License-Identifier: GPL-2.0

//! The library's error type: every failure names what failed and, when the
//! kernel refused, carries its errno.

use std::fmt;
use std::path::PathBuf;

use rustix::io::Errno;

/// A failed VMM operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An ioctl the kernel refused.
    #[error("{name}: {}", ErrnoName(errno.raw_os_error()))]
    Ioctl {
        /// The command, as the C header names it.
        name: &'static str,
        /// What the kernel returned.
        errno: Errno,
    },
    /// A file or sysfs attribute that could not be opened, read or written.
    #[error("{op} {}: {}", path.display(), io_text(cause))]
    File {
        /// "open", "read", "write" or "poll".
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong; shown in the message, so no error source.
        cause: std::io::Error,
    },
    /// The platform TSM refused a guest request it received.
    #[error("{what}: TSM status {} ({})", *code as i64, crate::tsm_req::tsm_status_name(*code))]
    Tsm {
        /// The request.
        what: String,
        /// The TSM's status (out_tsm_code).
        code: u64,
    },
    /// No vEVENTQ record arrived in time.
    #[error("no vEVENTQ record within {0} ms")]
    Timeout(u64),
    /// Bytes from the kernel that do not have the layout the uAPI defines.
    #[error("{what}: {detail}")]
    Malformed {
        /// What was parsed.
        what: &'static str,
        /// How it is wrong.
        detail: String,
    },
    /// A request this library will not send, or a step that cannot run.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// The errno behind the failure, if the kernel returned one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Ioctl { errno, .. } => Some(errno.raw_os_error()),
            Error::File { cause, .. } => cause.raw_os_error(),
            Error::Timeout(_) => Some(Errno::TIMEDOUT.raw_os_error()),
            _ => None,
        }
    }

    /// A `File` error for `op` on `path`.
    pub(crate) fn file(op: &'static str, path: impl Into<PathBuf>, cause: impl Into<std::io::Error>) -> Self {
        Error::File { op, path: path.into(), cause: cause.into() }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Errno names the kernel paths used here return.
const ERRNO_NAMES: &[(Errno, &str)] = &[
    (Errno::PERM, "EPERM"),
    (Errno::NOENT, "ENOENT"),
    (Errno::INTR, "EINTR"),
    (Errno::IO, "EIO"),
    (Errno::NXIO, "ENXIO"),
    (Errno::TOOBIG, "E2BIG"),
    (Errno::BADF, "EBADF"),
    (Errno::AGAIN, "EAGAIN"),
    (Errno::NOMEM, "ENOMEM"),
    (Errno::ACCESS, "EACCES"),
    (Errno::FAULT, "EFAULT"),
    (Errno::BUSY, "EBUSY"),
    (Errno::EXIST, "EEXIST"),
    (Errno::NODEV, "ENODEV"),
    (Errno::NOTDIR, "ENOTDIR"),
    (Errno::INVAL, "EINVAL"),
    (Errno::MFILE, "EMFILE"),
    (Errno::NOTTY, "ENOTTY"),
    (Errno::NOSPC, "ENOSPC"),
    (Errno::RANGE, "ERANGE"),
    (Errno::NOSYS, "ENOSYS"),
    (Errno::OVERFLOW, "EOVERFLOW"),
    (Errno::BADFD, "EBADFD"),
    (Errno::OPNOTSUPP, "EOPNOTSUPP"),
    (Errno::ADDRNOTAVAIL, "EADDRNOTAVAIL"),
    (Errno::TIMEDOUT, "ETIMEDOUT"),
    (Errno::ALREADY, "EALREADY"),
];

/// The symbolic name of `errno`, if it is one of [`ERRNO_NAMES`].
pub fn errno_name(errno: i32) -> Option<&'static str> {
    ERRNO_NAMES.iter().find(|(e, _)| e.raw_os_error() == errno).map(|&(_, name)| name)
}

/// Shows an errno as `ENXIO (errno 6)`.
pub struct ErrnoName(pub i32);

impl fmt::Display for ErrnoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match errno_name(self.0) {
            Some(name) => write!(f, "{name} (errno {})", self.0),
            None => write!(f, "errno {}", self.0),
        }
    }
}

fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(errno) => ErrnoName(errno).to_string(),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_text() {
        let e = Error::Ioctl { name: "TEEIO_IOMMUFD_VDEVICE_TSM_OP", errno: Errno::NXIO };
        assert_eq!(e.to_string(), "TEEIO_IOMMUFD_VDEVICE_TSM_OP: ENXIO (errno 6)");
        assert_eq!(e.errno(), Some(6));
        let e = Error::file("write", "/sys/x", std::io::Error::from_raw_os_error(16));
        assert_eq!(e.to_string(), "write /sys/x: EBUSY (errno 16)");
        assert_eq!(ErrnoName(4095).to_string(), "errno 4095");
    }
}
