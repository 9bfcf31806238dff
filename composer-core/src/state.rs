//! The composer state record: a versioned, fixed-layout, checksummed byte record.
//!
//! Layout (version 2, all little-endian, [`RECORD_LEN`] = 1208 bytes; version 1 is the
//! first 688 bytes of the same layout with its checksum at 688, 696 bytes in all, and
//! still decodes: the fields it lacks are absent):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `b"FASTRLCS"` |
//! | 8 | 4 | version `u32` = [`RECORD_VERSION`] |
//! | 12 | 4 | composer kind `u32` ([`ComposerKind`]) |
//! | 16 | 4 | `n` `u32` |
//! | 20 | 4 | flags `u32`: bit 0 EMA initialised, bit 1 KL beta present, bit 2 reference statistics present, bit 3 previous signal present |
//! | 24 | 8 | step count `u64` |
//! | 32 | 8 | normaliser sample count `u64` |
//! | 40 | 8 | KL controller beta `f64` |
//! | 48 | 128 | log-weights `[f64; 16]` |
//! | 176 | 128 | EMA of reward means `[f64; 16]` |
//! | 304 | 128 | normaliser running means `[f64; 16]` |
//! | 432 | 128 | normaliser running sums of squared deviations `[f64; 16]` |
//! | 560 | 128 | Lagrange multiplier parameters `[f64; 16]` |
//! | 688 | 128 | reference means `[f64; 16]` (version 2) |
//! | 816 | 128 | reference standard deviations `[f64; 16]` |
//! | 944 | 128 | previous signal `[f64; 16]` (optimistic rule) |
//! | 1072 | 128 | running average of the weights `[f64; 16]` (all 0: none) |
//! | 1200 | 8 | FNV-1a 64 checksum of bytes 0..1200 |

use crate::composers::kind::ComposerKind;
use crate::error::Error;
use crate::error::Result;
use crate::shape::MAX_REWARDS;

/// Record layout version written and read by this build.
pub const RECORD_VERSION: u32 = 2;
/// Size of an encoded record in bytes.
pub const RECORD_LEN: usize = 1208;
/// Size of a version-1 record, which [`StateRecord::decode`] still reads.
pub const RECORD_LEN_V1: usize = 696;
const MAGIC: [u8; 8] = *b"FASTRLCS";
const BODY: usize = RECORD_LEN - 8;
const FLAG_EMA: u32 = 1;
const FLAG_KL: u32 = 2;
const FLAG_REF: u32 = 4;
const FLAG_PREV: u32 = 8;

/// Decoded composer state. Composers write and read the fields they own.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StateRecord {
    /// Composer kind.
    pub kind: ComposerKind,
    /// Number of reward channels.
    pub n: u32,
    /// Updates done.
    pub step: u64,
    /// Whether the EMA smoother has seen a batch.
    pub ema_ready: bool,
    /// KL controller coefficient, when saved.
    pub kl_beta: Option<f64>,
    /// Log-weights (Fast RL).
    pub log_weights: [f64; MAX_REWARDS],
    /// EMA of reward means (Fast RL smoothing).
    pub ema: [f64; MAX_REWARDS],
    /// Batches seen by the normaliser.
    pub norm_count: u64,
    /// Normaliser running means.
    pub norm_mean: [f64; MAX_REWARDS],
    /// Normaliser running sums of squared deviations (Welford's `M2`).
    pub norm_m2: [f64; MAX_REWARDS],
    /// Lagrange multiplier parameters (before squashing).
    pub multipliers: [f64; MAX_REWARDS],
    /// Reference statistics `(mean, std)` (Fast RL, `Normalization::Reference`).
    pub reference: Option<([f64; MAX_REWARDS], [f64; MAX_REWARDS])>,
    /// The previous signal (Fast RL, optimistic rule).
    pub prev_signal: Option<[f64; MAX_REWARDS]>,
    /// Running average of the weights (Fast RL, averaging); all 0 when absent.
    pub avg_weights: [f64; MAX_REWARDS],
}

/// FNV-1a, 64-bit.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn put(out: &mut [u8], at: &mut usize, bytes: &[u8]) {
    out[*at..*at + bytes.len()].copy_from_slice(bytes);
    *at += bytes.len();
}

fn take<const N: usize>(bytes: &[u8], at: &mut usize) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&bytes[*at..*at + N]);
    *at += N;
    a
}

impl StateRecord {
    /// A record with every numeric field zero.
    pub fn empty(kind: ComposerKind, n: u32) -> Self {
        StateRecord {
            kind,
            n,
            step: 0,
            ema_ready: false,
            kl_beta: None,
            log_weights: [0.0; MAX_REWARDS],
            ema: [0.0; MAX_REWARDS],
            norm_count: 0,
            norm_mean: [0.0; MAX_REWARDS],
            norm_m2: [0.0; MAX_REWARDS],
            multipliers: [0.0; MAX_REWARDS],
            reference: None,
            prev_signal: None,
            avg_weights: [0.0; MAX_REWARDS],
        }
    }

    /// Encodes into `out[..RECORD_LEN]`; returns [`RECORD_LEN`].
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        if out.len() < RECORD_LEN {
            return Err(Error::RecordTooShort {
                expected: RECORD_LEN,
                actual: out.len(),
            });
        }
        let mut at = 0;
        put(out, &mut at, &MAGIC);
        put(out, &mut at, &RECORD_VERSION.to_le_bytes());
        put(out, &mut at, &(self.kind.code() as u32).to_le_bytes());
        put(out, &mut at, &self.n.to_le_bytes());
        let flags = if self.ema_ready { FLAG_EMA } else { 0 }
            | if self.kl_beta.is_some() { FLAG_KL } else { 0 }
            | if self.reference.is_some() {
                FLAG_REF
            } else {
                0
            }
            | if self.prev_signal.is_some() {
                FLAG_PREV
            } else {
                0
            };
        put(out, &mut at, &flags.to_le_bytes());
        put(out, &mut at, &self.step.to_le_bytes());
        put(out, &mut at, &self.norm_count.to_le_bytes());
        put(out, &mut at, &self.kl_beta.unwrap_or(0.0).to_le_bytes());
        let zero = [0.0f64; MAX_REWARDS];
        let (ref_mean, ref_std) = self
            .reference
            .as_ref()
            .map_or((&zero, &zero), |(m, s)| (m, s));
        for arr in [
            &self.log_weights,
            &self.ema,
            &self.norm_mean,
            &self.norm_m2,
            &self.multipliers,
            ref_mean,
            ref_std,
            self.prev_signal.as_ref().unwrap_or(&zero),
            &self.avg_weights,
        ] {
            for x in arr {
                put(out, &mut at, &x.to_le_bytes());
            }
        }
        debug_assert_eq!(at, BODY);
        let sum = fnv1a(&out[..BODY]);
        put(out, &mut at, &sum.to_le_bytes());
        Ok(RECORD_LEN)
    }

    /// Encodes into a new `Vec` of [`RECORD_LEN`] bytes.
    #[cfg(feature = "alloc")]
    pub fn to_vec(&self) -> alloc::vec::Vec<u8> {
        let mut v = alloc::vec![0u8; RECORD_LEN];
        // The buffer has exactly RECORD_LEN bytes, the only way `encode` can fail.
        let _ = self.encode(&mut v);
        v
    }

    /// Decodes a record: exactly [`RECORD_LEN`] bytes of version 2, or
    /// [`RECORD_LEN_V1`] bytes of version 1 (written before reference statistics,
    /// optimistic updates and averaging existed; those fields come back absent). Checks,
    /// in order: length, magic, version, checksum, then every field's domain.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < RECORD_LEN_V1 {
            return Err(Error::RecordTooShort {
                expected: RECORD_LEN,
                actual: bytes.len(),
            });
        }
        let mut at = 0;
        if take::<8>(bytes, &mut at) != MAGIC {
            return Err(Error::RecordMagic);
        }
        let version = u32::from_le_bytes(take(bytes, &mut at));
        let (len, arrays_len) = match version {
            1 => (RECORD_LEN_V1, 5),
            RECORD_VERSION => (RECORD_LEN, 9),
            _ => {
                return Err(Error::RecordVersion {
                    expected: RECORD_VERSION,
                    actual: version,
                })
            }
        };
        if bytes.len() < len {
            return Err(Error::RecordTooShort {
                expected: len,
                actual: bytes.len(),
            });
        }
        crate::error::length("record", len, bytes.len())?;
        let body = len - 8;
        let stored = u64::from_le_bytes(bytes[body..].try_into().map_err(|_| Error::RecordMagic)?);
        let computed = fnv1a(&bytes[..body]);
        if stored != computed {
            return Err(Error::RecordChecksum { stored, computed });
        }
        let kind = i32::try_from(u32::from_le_bytes(take(bytes, &mut at)))
            .ok()
            .and_then(|code| ComposerKind::try_from(code).ok())
            .ok_or(Error::RecordField { field: "kind" })?;
        let n = u32::from_le_bytes(take(bytes, &mut at));
        if n == 0 || n as usize > MAX_REWARDS {
            return Err(Error::RecordField { field: "n" });
        }
        let flags = u32::from_le_bytes(take(bytes, &mut at));
        let known = if version == 1 {
            FLAG_EMA | FLAG_KL
        } else {
            FLAG_EMA | FLAG_KL | FLAG_REF | FLAG_PREV
        };
        if flags & !known != 0 {
            return Err(Error::RecordField { field: "flags" });
        }
        let step = u64::from_le_bytes(take(bytes, &mut at));
        let norm_count = u64::from_le_bytes(take(bytes, &mut at));
        let beta = f64::from_le_bytes(take(bytes, &mut at));
        let kl_beta = if flags & FLAG_KL != 0 {
            if !(beta.is_finite() && beta >= 0.0) {
                return Err(Error::RecordField { field: "kl_beta" });
            }
            Some(beta)
        } else {
            None
        };
        let mut arrays = [[0.0f64; MAX_REWARDS]; 9];
        const NAMES: [&str; 9] = [
            "log_weights",
            "ema",
            "norm_mean",
            "norm_m2",
            "multipliers",
            "reference_mean",
            "reference_std",
            "prev_signal",
            "avg_weights",
        ];
        for (arr, field) in arrays.iter_mut().zip(NAMES).take(arrays_len) {
            for x in arr.iter_mut() {
                *x = f64::from_le_bytes(take(bytes, &mut at));
                if !x.is_finite() {
                    return Err(Error::RecordField { field });
                }
            }
        }
        let [log_weights, ema, norm_mean, norm_m2, multipliers, ref_mean, ref_std, prev, avg_weights] =
            arrays;
        if norm_m2.iter().any(|&m| m < 0.0) {
            return Err(Error::RecordField { field: "norm_m2" });
        }
        if avg_weights.iter().any(|&a| a < 0.0) {
            return Err(Error::RecordField {
                field: "avg_weights",
            });
        }
        let reference = if flags & FLAG_REF != 0 {
            if ref_std[..n as usize].iter().any(|&s| s <= 0.0) {
                return Err(Error::RecordField {
                    field: "reference_std",
                });
            }
            Some((ref_mean, ref_std))
        } else {
            None
        };
        Ok(StateRecord {
            kind,
            n,
            step,
            ema_ready: flags & FLAG_EMA != 0,
            kl_beta,
            log_weights,
            ema,
            norm_count,
            norm_mean,
            norm_m2,
            multipliers,
            reference,
            prev_signal: (flags & FLAG_PREV != 0).then_some(prev),
            avg_weights,
        })
    }

    /// Checks that this record belongs to a composer of `kind` with `n` rewards.
    pub fn expect(&self, kind: ComposerKind, n: usize) -> Result<()> {
        if self.kind != kind {
            return Err(Error::RecordMismatch {
                field: "kind",
                expected: kind.code() as u32,
                actual: self.kind.code() as u32,
            });
        }
        if self.n as usize != n {
            return Err(Error::RecordMismatch {
                field: "n",
                expected: n as u32,
                actual: self.n,
            });
        }
        Ok(())
    }
}
