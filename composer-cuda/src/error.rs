//! Typed errors of the CUDA crate.

use std::fmt;

/// Everything that can go wrong here. "No CUDA" is an error like any other, never a panic,
/// so a caller (the trainer) can fall back to `composer-core`'s CPU path.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CudaError {
    /// The CUDA driver (`libcuda`) or NVRTC (`libnvrtc`) library could not be loaded.
    NoCuda {
        /// Which library is missing.
        library: &'static str,
        /// What to do about it.
        hint: &'static str,
    },
    /// NVRTC rejected a kernel source; `log` is the compiler's log.
    Compile {
        /// Kernel family (`"fused"`, `"update"`, `"whiten"`).
        family: &'static str,
        /// Target architecture.
        arch: String,
        /// NVRTC's log.
        log: String,
    },
    /// A CUDA driver call failed.
    Driver(String),
    /// Bad input, caught before any launch (the core's error type).
    Invalid(composer_core::Error),
    /// A device pointer argument is null.
    NullPointer {
        /// Argument name.
        arg: &'static str,
    },
    /// A shape the kernels cannot take (e.g. more rows than a grid dimension).
    Unsupported(String),
    /// A kernel reported a problem through its status word (bit 0: mask not a valid prefix
    /// in prefix mode; bit 1: a non-finite output; bit 2: an empty batch).
    Status {
        /// The status bits.
        bits: i32,
    },
}

impl fmt::Display for CudaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CudaError::NoCuda { library, hint } => {
                write!(f, "no CUDA: {library} could not be loaded; {hint}")
            }
            CudaError::Compile { family, arch, log } => {
                write!(
                    f,
                    "NVRTC failed to compile kernel family `{family}` for {arch}:\n{log}"
                )
            }
            CudaError::Driver(e) => write!(f, "CUDA driver error: {e}"),
            CudaError::Invalid(e) => write!(f, "{e}"),
            CudaError::NullPointer { arg } => write!(f, "`{arg}` is a null device pointer"),
            CudaError::Unsupported(s) => write!(f, "unsupported: {s}"),
            CudaError::Status { bits } => {
                let mut parts = Vec::new();
                if bits & 1 != 0 {
                    parts
                        .push("a mask is not a valid prefix (use carry mode for masks with holes)");
                }
                if bits & 2 != 0 {
                    parts.push("an output is NaN or infinite (a non-finite input, or an overflow)");
                }
                if bits & 4 != 0 {
                    parts.push("the batch has no valid token");
                }
                write!(f, "kernel status {bits:#x}: {}", parts.join("; "))
            }
        }
    }
}

impl std::error::Error for CudaError {}

impl From<composer_core::Error> for CudaError {
    fn from(e: composer_core::Error) -> Self {
        CudaError::Invalid(e)
    }
}

impl From<cudarc::driver::DriverError> for CudaError {
    fn from(e: cudarc::driver::DriverError) -> Self {
        CudaError::Driver(format!("{e:?}"))
    }
}
