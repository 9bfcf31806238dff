//! The boundary's plumbing: the thread-local last error, statuses from the core's
//! errors, the panic guard, slices from (pointer, length) pairs, enum codes and
//! reward-channel structs.

use crate::types::*;
use composer_core::{bf16, Channel, Error, KlEstimator, MaskMode, Storage};
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(crate) fn set_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// The message of the last error on this thread (empty after a success). The pointer
/// stays valid until the next call into this library on the same thread.
#[no_mangle]
pub extern "C" fn fastrl_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

pub(crate) fn status_of(e: &Error) -> FastrlStatus {
    match e {
        Error::Length { .. } | Error::ShapeOverflow => FastrlStatus::Length,
        Error::NoRewards | Error::TooManyRewards { .. } => FastrlStatus::Rewards,
        Error::EmptyBatch { .. } => FastrlStatus::Empty,
        Error::NonFinite { .. } => FastrlStatus::NonFinite,
        Error::OutOfRange { .. } => FastrlStatus::Range,
        Error::MaskNotPrefix { .. } => FastrlStatus::Mask,
        Error::Overflow { .. } => FastrlStatus::Overflow,
        Error::UnknownName { .. } | Error::UnknownCode { .. } => FastrlStatus::Range,
        Error::Incompatible { .. } | Error::NotCalibrated => FastrlStatus::Config,
        Error::GroupSize { .. } | Error::ConstantReward { .. } => FastrlStatus::Group,
        _ => FastrlStatus::Record,
    }
}

/// An error carried to the boundary: a status and its message.
pub(crate) struct Fail(pub(crate) FastrlStatus, pub(crate) String);

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail(status_of(&e), e.to_string())
    }
}

pub(crate) fn null(arg: &str) -> Fail {
    Fail(
        FastrlStatus::Null,
        format!("`{arg}` is a null pointer with a non-zero length"),
    )
}

pub(crate) fn range(arg: &str, value: i32, expected: &str) -> Fail {
    Fail(
        FastrlStatus::Range,
        format!("`{arg}` = {value}, expected {expected}"),
    )
}

/// Runs `f`, turning its error or a panic into a status and message.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Fail>) -> FastrlStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_error("");
            FastrlStatus::Ok
        }
        Ok(Err(Fail(status, msg))) => {
            set_error(&msg);
            status
        }
        Err(_) => {
            set_error("internal panic caught at the C boundary (a bug)");
            FastrlStatus::Panic
        }
    }
}

/// # Safety
/// `ptr` must point to `len` readable `T` (or `len == 0`), valid for `'a`.
pub(crate) unsafe fn slice<'a, T>(arg: &str, ptr: *const T, len: usize) -> Result<&'a [T], Fail> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null(arg));
    }
    // SAFETY: non-null, and the caller guarantees `len` readable elements for 'a.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// # Safety
/// `ptr` must point to `len` writable `T` (or `len == 0`), valid and unaliased for `'a`.
pub(crate) unsafe fn slice_mut<'a, T>(
    arg: &str,
    ptr: *mut T,
    len: usize,
) -> Result<&'a mut [T], Fail> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(null(arg));
    }
    // SAFETY: non-null, and the caller guarantees `len` writable, unaliased elements.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// Decodes an enum code with the core's one mapping; the error names the argument and
/// the accepted codes.
pub(crate) fn code<T: TryFrom<i32, Error = composer_core::Error>>(
    arg: &str,
    value: i32,
    names: &[&str],
) -> Result<T, Fail> {
    T::try_from(value).map_err(|_| {
        let expected: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{i} ({n})"))
            .collect();
        range(arg, value, &expected.join(", "))
    })
}

pub(crate) fn mode(m: i32) -> Result<MaskMode, Fail> {
    code("mode", m, MaskMode::NAMES)
}

pub(crate) fn estimator(e: i32) -> Result<KlEstimator, Fail> {
    code("estimator", e, KlEstimator::NAMES)
}

/// A read-only input slice of the C API and the storage type it holds.
pub(crate) trait InSlice: Copy {
    /// Element type as the core sees it.
    type Elem: Storage;
    /// # Safety
    /// As [`slice`]: `ptr` addresses `len` readable elements (or `len == 0`), valid for `'a`.
    unsafe fn get<'a>(self, arg: &str) -> Result<&'a [Self::Elem], Fail>;
}

impl InSlice for FastrlF32 {
    type Elem = f32;
    unsafe fn get<'a>(self, arg: &str) -> Result<&'a [f32], Fail> {
        // SAFETY: forwarded from the caller.
        unsafe { slice(arg, self.ptr, self.len) }
    }
}

impl InSlice for FastrlBf16 {
    type Elem = bf16;
    unsafe fn get<'a>(self, arg: &str) -> Result<&'a [bf16], Fail> {
        // SAFETY: forwarded from the caller.
        unsafe { slice(arg, self.ptr, self.len) }.map(composer_core::storage::bf16_from_bits)
    }
}

/// A reward channel struct of the C API.
pub(crate) trait InChannel: Copy {
    /// Its data slice type.
    type Data: InSlice;
    /// The data and whether it is dense.
    fn parts(&self) -> (Self::Data, bool);
}

impl InChannel for FastrlChannelF32 {
    type Data = FastrlF32;
    fn parts(&self) -> (FastrlF32, bool) {
        (self.data, self.dense != 0)
    }
}

impl InChannel for FastrlChannelBf16 {
    type Data = FastrlBf16;
    fn parts(&self) -> (FastrlBf16, bool) {
        (self.data, self.dense != 0)
    }
}

/// # Safety
/// `chs` addresses `n` channel structs, and every channel's data satisfies [`slice`]'s
/// contract, all valid for `'a`.
pub(crate) unsafe fn read_channels<'a, C: InChannel>(
    chs: *const C,
    n: usize,
) -> Result<Vec<Channel<'a, <C::Data as InSlice>::Elem>>, Fail> {
    // SAFETY: forwarded from the caller.
    let chs = unsafe { slice("channels", chs, n)? };
    chs.iter()
        .map(|c| {
            let (data, dense) = c.parts();
            // SAFETY: forwarded from the caller.
            let d = unsafe { data.get("channels[].data")? };
            Ok(if dense {
                Channel::Dense(d)
            } else {
                Channel::Sequence(d)
            })
        })
        .collect()
}
