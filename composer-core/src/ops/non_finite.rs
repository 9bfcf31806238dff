//! Error diagnosis for a row whose output came out non-finite: the first non-finite
//! valid input names the culprit, otherwise it is an overflow of finite inputs.

use crate::error::Error;
use crate::storage::Storage;

/// Names the first non-finite input among `f32` and storage slices at the valid
/// positions of `range`; otherwise an overflow of `output` in `row`.
pub(crate) fn diagnose_row<T: Storage>(
    f32_inputs: &[(&'static str, &[f32])],
    inputs: &[(&'static str, &[T])],
    mask: &[u8],
    range: core::ops::Range<usize>,
    output: &'static str,
    row: usize,
) -> Error {
    for i in range.clone() {
        if mask[i] == 0 {
            continue;
        }
        for (arg, s) in f32_inputs {
            if let Some(x) = s.get(i) {
                if !x.is_finite() {
                    return Error::NonFinite { arg, index: i };
                }
            }
        }
        for (arg, s) in inputs {
            if let Some(x) = s.get(i) {
                if !x.to_f32().is_finite() {
                    return Error::NonFinite { arg, index: i };
                }
            }
        }
    }
    Error::Overflow { arg: output, row }
}
