//! ggml tensor types and their dequantisation to f32, block by block, as llama.cpp's
//! `dequantize_row_*` and gguf-py's `quants.py` compute them (the same f32 operations in
//! the same order, so the results are bit-identical):
//!
//! - `Q8_0`: blocks of 32: `f16 d`, 32 `i8 q`; `x_j = d q_j`.
//! - `Q4_0`: blocks of 32: `f16 d`, 16 bytes; `x_j = d (lo(b_j) - 8)`,
//!   `x_{j+16} = d (hi(b_j) - 8)` for `j < 16`.
//! - `Q4_1`: blocks of 32: `f16 d`, `f16 m`, 16 bytes; `x_j = d lo(b_j) + m`,
//!   `x_{j+16} = d hi(b_j) + m`.
//! - `F32`, `F16`, `BF16`: one element per block.

use half::{bf16, f16};

/// The ggml types this reader dequantises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GgmlType {
    /// 32-bit float (id 0).
    F32,
    /// IEEE half (id 1).
    F16,
    /// 4-bit, scale only (id 2).
    Q4_0,
    /// 4-bit, scale and minimum (id 3).
    Q4_1,
    /// 8-bit, scale only (id 8).
    Q8_0,
    /// bfloat16 (id 30).
    Bf16,
}

/// Names of ggml type ids, for messages (llama.cpp's `ggml_type`).
const NAMES: &[(u32, &str)] = &[
    (0, "F32"),
    (1, "F16"),
    (2, "Q4_0"),
    (3, "Q4_1"),
    (6, "Q5_0"),
    (7, "Q5_1"),
    (8, "Q8_0"),
    (9, "Q8_1"),
    (10, "Q2_K"),
    (11, "Q3_K"),
    (12, "Q4_K"),
    (13, "Q5_K"),
    (14, "Q6_K"),
    (15, "Q8_K"),
    (16, "IQ2_XXS"),
    (17, "IQ2_XS"),
    (18, "IQ3_XXS"),
    (19, "IQ1_S"),
    (20, "IQ4_NL"),
    (21, "IQ3_S"),
    (22, "IQ2_S"),
    (23, "IQ4_XS"),
    (24, "I8"),
    (25, "I16"),
    (26, "I32"),
    (27, "I64"),
    (28, "F64"),
    (29, "IQ1_M"),
    (30, "BF16"),
    (34, "TQ1_0"),
    (35, "TQ2_0"),
    (39, "MXFP4"),
];

/// The name of ggml type `id` (`type <id>` when unknown).
pub fn type_name(id: u32) -> String {
    NAMES
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, n)| (*n).to_string())
        .unwrap_or_else(|| format!("type {id}"))
}

impl GgmlType {
    /// The type of ggml id `id`, `None` when this reader does not support it.
    pub fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => GgmlType::F32,
            1 => GgmlType::F16,
            2 => GgmlType::Q4_0,
            3 => GgmlType::Q4_1,
            8 => GgmlType::Q8_0,
            30 => GgmlType::Bf16,
            _ => return None,
        })
    }

    /// Its ggml name.
    pub fn name(self) -> &'static str {
        match self {
            GgmlType::F32 => "F32",
            GgmlType::F16 => "F16",
            GgmlType::Q4_0 => "Q4_0",
            GgmlType::Q4_1 => "Q4_1",
            GgmlType::Q8_0 => "Q8_0",
            GgmlType::Bf16 => "BF16",
        }
    }

    /// Elements per block.
    pub fn block_len(self) -> usize {
        match self {
            GgmlType::F32 | GgmlType::F16 | GgmlType::Bf16 => 1,
            GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q8_0 => 32,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            GgmlType::F32 => 4,
            GgmlType::F16 | GgmlType::Bf16 => 2,
            GgmlType::Q4_0 => 18,
            GgmlType::Q4_1 => 20,
            GgmlType::Q8_0 => 34,
        }
    }
}

fn half_at(b: &[u8], i: usize) -> f32 {
    f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

/// Dequantises `raw` (whole blocks of `ty`: `raw.len()` is a multiple of
/// [`GgmlType::block_bytes`]) to f32.
pub fn dequantize(ty: GgmlType, raw: &[u8]) -> Vec<f32> {
    let bb = ty.block_bytes();
    let mut out = Vec::with_capacity(raw.len() / bb * ty.block_len());
    for blk in raw.chunks_exact(bb) {
        match ty {
            GgmlType::F32 => out.push(f32::from_le_bytes([blk[0], blk[1], blk[2], blk[3]])),
            GgmlType::F16 => out.push(half_at(blk, 0)),
            GgmlType::Bf16 => out.push(bf16::from_le_bytes([blk[0], blk[1]]).to_f32()),
            GgmlType::Q8_0 => {
                let d = half_at(blk, 0);
                out.extend(blk[2..].iter().map(|&q| d * f32::from(q as i8)));
            }
            GgmlType::Q4_0 => {
                let d = half_at(blk, 0);
                let qs = &blk[2..];
                out.extend(qs.iter().map(|&q| d * f32::from((q & 0x0f) as i8 - 8)));
                out.extend(qs.iter().map(|&q| d * f32::from((q >> 4) as i8 - 8)));
            }
            GgmlType::Q4_1 => {
                let (d, m) = (half_at(blk, 0), half_at(blk, 2));
                let qs = &blk[4..];
                out.extend(qs.iter().map(|&q| d * f32::from(q & 0x0f) + m));
                out.extend(qs.iter().map(|&q| d * f32::from(q >> 4) + m));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(x: f32) -> [u8; 2] {
        f16::from_f32(x).to_le_bytes()
    }

    #[test]
    fn q4_blocks_put_low_nibbles_first() {
        // Byte j holds element j (low nibble) and element j + 16 (high nibble).
        let qs: Vec<u8> = (0..16u8).map(|j| j | ((15 - j) << 4)).collect();
        let mut b0 = h(0.5).to_vec();
        b0.extend(&qs);
        let x = dequantize(GgmlType::Q4_0, &b0);
        assert_eq!(x.len(), 32);
        assert_eq!((x[0], x[15], x[16], x[31]), (-4.0, 3.5, 3.5, -4.0));
        let mut b1 = h(0.5).to_vec();
        b1.extend(h(-1.0));
        b1.extend(&qs);
        let x = dequantize(GgmlType::Q4_1, &b1);
        assert_eq!((x[0], x[15], x[16], x[31]), (-1.0, 6.5, 6.5, -1.0));
    }

    #[test]
    fn q8_and_float_types() {
        let mut b = h(0.25).to_vec();
        b.extend((0..32).map(|j| (j as i8 - 16) as u8));
        let x = dequantize(GgmlType::Q8_0, &b);
        assert_eq!((x[0], x[16], x[31]), (-4.0, 0.0, 3.75));
        assert_eq!(dequantize(GgmlType::F16, &h(1.5)), vec![1.5]);
        let bf = bf16::from_f32(-2.0).to_le_bytes();
        assert_eq!(dequantize(GgmlType::Bf16, &bf), vec![-2.0]);
        assert_eq!(dequantize(GgmlType::F32, &7.0f32.to_le_bytes()), vec![7.0]);
        assert_eq!(type_name(12), "Q4_K");
        assert_eq!(type_name(99), "type 99");
        assert_eq!(GgmlType::from_id(14), None);
    }
}
