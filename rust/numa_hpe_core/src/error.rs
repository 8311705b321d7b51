//! Kernel error numbers and the crate's error type.
//!
//! Every operation that the kernel can refuse returns `HpeError` carrying the errno the kernel
//! would return to user space, plus a message that names the file or operation and the reason.

use std::fmt;

/// The subset of Linux errno values that the emulated interfaces can return (x86_64 numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Errno {
    EPERM = 1,
    ENOENT = 2,
    EINTR = 4,
    E2BIG = 7,
    ENOMEM = 12,
    EACCES = 13,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    ENOSPC = 28,
    ERANGE = 34,
    EOPNOTSUPP = 95,
}

impl Errno {
    /// The errno name as the oracle cases spell it (`"EINVAL"`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Errno::EPERM => "EPERM",
            Errno::ENOENT => "ENOENT",
            Errno::EINTR => "EINTR",
            Errno::E2BIG => "E2BIG",
            Errno::ENOMEM => "ENOMEM",
            Errno::EACCES => "EACCES",
            Errno::EBUSY => "EBUSY",
            Errno::EEXIST => "EEXIST",
            Errno::ENODEV => "ENODEV",
            Errno::ENOTDIR => "ENOTDIR",
            Errno::EISDIR => "EISDIR",
            Errno::EINVAL => "EINVAL",
            Errno::ENOSPC => "ENOSPC",
            Errno::ERANGE => "ERANGE",
            Errno::EOPNOTSUPP => "EOPNOTSUPP",
        }
    }

    /// The errno with this number, if the emulator knows it.
    #[must_use]
    pub fn from_code(code: i32) -> Option<Errno> {
        [
            Errno::EPERM, Errno::ENOENT, Errno::EINTR, Errno::E2BIG, Errno::ENOMEM, Errno::EACCES,
            Errno::EBUSY, Errno::EEXIST, Errno::ENODEV, Errno::ENOTDIR, Errno::EISDIR, Errno::EINVAL,
            Errno::ENOSPC, Errno::ERANGE, Errno::EOPNOTSUPP,
        ]
        .into_iter()
        .find(|e| e.code() == code)
    }

    /// The numeric value (what `OSError.errno` carries).
    #[must_use]
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// An operation refused the way the kernel refuses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HpeError {
    pub errno: Errno,
    pub msg: String,
}

impl HpeError {
    pub fn new(errno: Errno, msg: impl Into<String>) -> Self {
        HpeError { errno, msg: msg.into() }
    }
}

impl fmt::Display for HpeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.msg)
    }
}

impl std::error::Error for HpeError {}

/// Crate result type.
pub type Result<T> = std::result::Result<T, HpeError>;

/// Shorthand: `Err(HpeError)` with errno and message.
pub fn err<T>(errno: Errno, msg: impl Into<String>) -> Result<T> {
    Err(HpeError::new(errno, msg))
}
