//! The GGUF container (version 3, llama.cpp's format): header, metadata and tensor table,
//! and each tensor dequantised to an f32 [`Tensor`] through [`crate::gguf_quant`].
//! Layout: magic `GGUF`, `u32` version, `u64` tensor and metadata counts, the metadata
//! key/value pairs, the tensor infos (name, dims innermost first, type, offset), then the
//! data section at `general.alignment` (default 32), little-endian throughout.

use crate::gguf_quant::{self, GgmlType};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// What went wrong reading a GGUF file; every variant names the file and, where there is
/// one, the tensor or metadata key.
#[derive(Debug)]
pub enum GgufError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a GGUF file, another version, or a structure that does not parse.
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong (names the field and the byte offset).
        message: String,
    },
    /// A tensor type this reader does not dequantise.
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The tensor.
        tensor: String,
        /// The ggml type's name (`Q4_K`, ...) or `type <id>` for an unknown id.
        type_name: String,
    },
    /// A metadata key the model needs is missing or has another type.
    Metadata {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What was expected and found.
        message: String,
    },
    /// A tensor the model needs is missing, or has another shape.
    Tensor {
        /// The file.
        path: PathBuf,
        /// The tensor.
        tensor: String,
        /// What was expected and found.
        message: String,
    },
}

impl fmt::Display for GgufError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GgufError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            GgufError::Format { path, message } => {
                write!(f, "{}: not a GGUF v3 file: {message}", path.display())
            }
            GgufError::UnsupportedType {
                path,
                tensor,
                type_name,
            } => write!(
                f,
                "{}: tensor {tensor} has type {type_name}, which is not supported (supported: \
                 F32, F16, BF16, Q8_0, Q4_0, Q4_1)",
                path.display()
            ),
            GgufError::Metadata { path, key, message } => {
                write!(f, "{}: metadata {key}: {message}", path.display())
            }
            GgufError::Tensor {
                path,
                tensor,
                message,
            } => write!(f, "{}: tensor {tensor}: {message}", path.display()),
        }
    }
}

impl std::error::Error for GgufError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GgufError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Arrays of arrays deeper than this are refused (no recursion bounded only by the file).
const MAX_DEPTH: u32 = 4;

/// Bytes a tensor-table entry takes at least (empty name, no dims).
const MIN_INFO_BYTES: usize = 8 + 4 + 4 + 8;

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Any unsigned integer type.
    U64(u64),
    /// Any signed integer type.
    I64(i64),
    /// `f32` or `f64`.
    F64(f64),
    /// `bool`.
    Bool(bool),
    /// A UTF-8 string.
    Str(String),
    /// An array.
    Array(Vec<Value>),
}

/// One entry of the tensor table.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    /// Its name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Dimensions, innermost first (ggml's `ne`).
    pub dims: Vec<u64>,
    /// The ggml type id.
    pub type_id: u32,
    /// Offset inside the data section.
    pub offset: u64,
}

/// A GGUF file read into memory.
#[derive(Debug)]
pub struct GgufFile {
    /// The file.
    pub path: PathBuf,
    /// Metadata by key.
    pub metadata: BTreeMap<String, Value>,
    /// The tensor table in file order.
    pub tensors: Vec<TensorInfo>,
    bytes: Vec<u8>,
    data_start: usize,
}

/// A little-endian cursor over the file's bytes.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn fail(&self, what: &str) -> GgufError {
        GgufError::Format {
            path: self.path.to_path_buf(),
            message: format!("{what} at byte {}", self.pos),
        }
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], GgufError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| self.fail(&format!("truncated {what} ({n} bytes)")))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn len(&mut self, what: &str) -> Result<usize, GgufError> {
        let n = self.u64(what)?;
        // Every element takes at least one byte: a count beyond the file is corrupt.
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.b.len())
            .ok_or_else(|| self.fail(&format!("{what} {n} exceeds the file")))
    }
    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let n = self.len(what)?;
        let s = self.take(n, what)?;
        String::from_utf8(s.to_vec()).map_err(|_| self.fail(&format!("{what} is not UTF-8")))
    }
    fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }
    fn value(&mut self, ty: u32, key: &str, depth: u32) -> Result<Value, GgufError> {
        Ok(match ty {
            0 => Value::U64(u64::from(self.array::<1>(key)?[0])),
            1 => Value::I64(i64::from(i8::from_le_bytes(self.array(key)?))),
            2 => Value::U64(u64::from(u16::from_le_bytes(self.array(key)?))),
            3 => Value::I64(i64::from(i16::from_le_bytes(self.array(key)?))),
            4 => Value::U64(u64::from(self.u32(key)?)),
            5 => Value::I64(i64::from(i32::from_le_bytes(self.array(key)?))),
            6 => Value::F64(f64::from(f32::from_le_bytes(self.array(key)?))),
            7 => Value::Bool(self.array::<1>(key)?[0] != 0),
            8 => Value::Str(self.string(key)?),
            9 => {
                if depth >= MAX_DEPTH {
                    return Err(self.fail(&format!(
                        "metadata {key} nests arrays deeper than {MAX_DEPTH}"
                    )));
                }
                let et = self.u32(key)?;
                let n = self.len(key)?;
                // Every element takes at least one byte: never reserve beyond the file.
                let mut v = Vec::with_capacity(n.min(self.remaining()));
                for _ in 0..n {
                    v.push(self.value(et, key, depth + 1)?);
                }
                Value::Array(v)
            }
            10 => Value::U64(self.u64(key)?),
            11 => Value::I64(i64::from_le_bytes(self.array(key)?)),
            12 => Value::F64(f64::from_le_bytes(self.array(key)?)),
            other => return Err(self.fail(&format!("metadata {key} has value type {other}"))),
        })
    }
}

/// The bytes of a tensor of type `ty` with `dims`, `None` when the size overflows.
fn byte_len(ty: GgmlType, dims: &[u64]) -> Option<usize> {
    let n = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d))?;
    let n = usize::try_from(n).ok()?;
    (n % ty.block_len() == 0).then_some(())?;
    (n / ty.block_len()).checked_mul(ty.block_bytes())
}

/// Checks that every tensor of a supported type starts at a multiple of `align` and lies
/// inside the `data_len` bytes of the data section without overlapping another.
fn check_layout(
    tensors: &[TensorInfo],
    align: usize,
    data_len: usize,
    path: &Path,
) -> Result<(), GgufError> {
    let bad = |t: &TensorInfo, message: String| GgufError::Tensor {
        path: path.to_path_buf(),
        tensor: t.name.clone(),
        message,
    };
    let mut spans = Vec::with_capacity(tensors.len());
    for t in tensors {
        if t.offset % align as u64 != 0 {
            return Err(bad(
                t,
                format!("offset {} is not a multiple of {align}", t.offset),
            ));
        }
        let Some(ty) = GgmlType::from_id(t.type_id) else {
            continue; // refused by name when read
        };
        let len = byte_len(ty, &t.dims).ok_or_else(|| {
            bad(
                t,
                format!(
                    "dims {:?} are not whole {} blocks or overflow",
                    t.dims,
                    ty.name()
                ),
            )
        })?;
        let start = usize::try_from(t.offset).ok();
        let end = start
            .and_then(|s| s.checked_add(len))
            .filter(|&e| e <= data_len);
        match (start, end) {
            (Some(s), Some(e)) => spans.push((s, e, t)),
            _ => {
                return Err(bad(
                    t,
                    format!(
                        "{len} bytes at data offset {} run past the end of the file ({data_len} \
                         data bytes)",
                        t.offset
                    ),
                ))
            }
        }
    }
    spans.sort_by_key(|s| s.0);
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 && w[1].0 != w[1].1 && w[0].0 != w[0].1 {
            return Err(bad(w[1].2, format!("overlaps tensor {}", w[0].2.name)));
        }
    }
    Ok(())
}

impl GgufFile {
    /// Reads and parses `path` (tensors are dequantised on demand by [`GgufFile::tensor`]).
    pub fn open(path: &Path) -> Result<Self, GgufError> {
        let bytes = std::fs::read(path).map_err(|source| GgufError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        GgufFile::parse(bytes, path)
    }

    /// Parses the bytes of a GGUF file; `path` names it in errors.
    pub fn parse(bytes: Vec<u8>, path: &Path) -> Result<Self, GgufError> {
        let mut c = Cursor {
            b: &bytes,
            pos: 0,
            path,
        };
        if c.take(4, "magic")? != b"GGUF" {
            c.pos = 0;
            return Err(c.fail("the magic is not \"GGUF\""));
        }
        let version = c.u32("version")?;
        if version != 3 {
            return Err(c.fail(&format!("version {version}, expected 3")));
        }
        let n_tensors = c.len("tensor_count")?;
        let n_kv = c.len("kv_count")?;
        let mut metadata = BTreeMap::new();
        for _ in 0..n_kv {
            let key = c.string("metadata key")?;
            let ty = c.u32(&key)?;
            let v = c.value(ty, &key, 0)?;
            metadata.insert(key, v);
        }
        let mut tensors = Vec::with_capacity(n_tensors.min(c.remaining() / MIN_INFO_BYTES));
        for _ in 0..n_tensors {
            let name = c.string("tensor name")?;
            let nd = c.u32(&name)?;
            if nd > 4 {
                return Err(c.fail(&format!("tensor {name} has {nd} dimensions (at most 4)")));
            }
            let dims = (0..nd)
                .map(|_| c.u64(&name))
                .collect::<Result<Vec<_>, _>>()?;
            let type_id = c.u32(&name)?;
            let offset = c.u64(&name)?;
            tensors.push(TensorInfo {
                name,
                dims,
                type_id,
                offset,
            });
        }
        let align = match metadata.get("general.alignment") {
            Some(Value::U64(a)) if *a > 0 && a.is_power_of_two() => *a as usize,
            None => 32,
            Some(other) => {
                return Err(c.fail(&format!(
                    "general.alignment {other:?} is not a power of two"
                )))
            }
        };
        let data_start = c.pos.div_ceil(align) * align;
        check_layout(
            &tensors,
            align,
            bytes.len().saturating_sub(data_start),
            path,
        )?;
        Ok(GgufFile {
            path: path.to_path_buf(),
            metadata,
            tensors,
            bytes,
            data_start,
        })
    }

    fn meta_err(&self, key: &str, message: String) -> GgufError {
        GgufError::Metadata {
            path: self.path.clone(),
            key: key.to_string(),
            message,
        }
    }

    /// The value of `key`, or an error naming it.
    pub fn get(&self, key: &str) -> Result<&Value, GgufError> {
        self.metadata
            .get(key)
            .ok_or_else(|| self.meta_err(key, "missing".into()))
    }

    /// An unsigned integer `key`.
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        match self.get(key)? {
            Value::U64(v) => Ok(*v),
            Value::I64(v) if *v >= 0 => Ok(*v as u64),
            other => Err(self.meta_err(key, format!("expected an integer, found {other:?}"))),
        }
    }

    /// A float `key`.
    pub fn get_f64(&self, key: &str) -> Result<f64, GgufError> {
        match self.get(key)? {
            Value::F64(v) => Ok(*v),
            other => Err(self.meta_err(key, format!("expected a float, found {other:?}"))),
        }
    }

    /// A string `key`.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        match self.get(key)? {
            Value::Str(s) => Ok(s),
            other => Err(self.meta_err(key, format!("expected a string, found {other:?}"))),
        }
    }

    /// A string-array `key`.
    pub fn get_strings(&self, key: &str) -> Result<Vec<&str>, GgufError> {
        let bad = |v: &Value| self.meta_err(key, format!("expected strings, found {v:?}"));
        match self.get(key)? {
            Value::Array(a) => a
                .iter()
                .map(|v| match v {
                    Value::Str(s) => Ok(s.as_str()),
                    other => Err(bad(other)),
                })
                .collect(),
            other => Err(bad(other)),
        }
    }

    /// An integer-array `key`.
    pub fn get_ints(&self, key: &str) -> Result<Vec<i64>, GgufError> {
        let bad = |v: &Value| self.meta_err(key, format!("expected integers, found {v:?}"));
        match self.get(key)? {
            Value::Array(a) => a
                .iter()
                .map(|v| match v {
                    Value::I64(i) => Ok(*i),
                    Value::U64(u) => i64::try_from(*u).map_err(|_| bad(v)),
                    other => Err(bad(other)),
                })
                .collect(),
            other => Err(bad(other)),
        }
    }

    /// The entry of tensor `name`, if present.
    pub fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Tensor `name` dequantised to f32, shaped as PyTorch sees it (dims outermost
    /// first: a ggml `[in, out]` matrix is `[out, in]`).
    pub fn tensor(&self, name: &str) -> Result<Tensor, GgufError> {
        let info = self.info(name).ok_or_else(|| GgufError::Tensor {
            path: self.path.clone(),
            tensor: name.to_string(),
            message: "missing".into(),
        })?;
        let ty = GgmlType::from_id(info.type_id).ok_or_else(|| GgufError::UnsupportedType {
            path: self.path.clone(),
            tensor: name.to_string(),
            type_name: gguf_quant::type_name(info.type_id),
        })?;
        let bad = || GgufError::Tensor {
            path: self.path.clone(),
            tensor: name.to_string(),
            message: format!(
                "dims {:?} at offset {} do not fit the file",
                info.dims, info.offset
            ),
        };
        // `parse` checked the layout; these lookups cannot fail for a parsed file.
        let len = byte_len(ty, &info.dims).ok_or_else(bad)?;
        let start = usize::try_from(info.offset)
            .ok()
            .and_then(|o| o.checked_add(self.data_start))
            .ok_or_else(bad)?;
        let raw = start
            .checked_add(len)
            .and_then(|e| self.bytes.get(start..e))
            .ok_or_else(bad)?;
        let values = gguf_quant::dequantize(ty, raw);
        let shape: Vec<i64> = info.dims.iter().rev().map(|&d| d as i64).collect();
        Ok(Tensor::from_slice(&values).view(shape.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u64).to_le_bytes());
        out.extend(s.as_bytes());
    }

    /// A GGUF v3 file with one u32 and one string-array key and the given tensors
    /// `(name, dims, type id, payload)`.
    pub(crate) fn build(tensors: &[(&str, Vec<u64>, u32, Vec<u8>)]) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend((tensors.len() as u64).to_le_bytes());
        b.extend(2u64.to_le_bytes());
        string(&mut b, "test.count");
        b.extend(4u32.to_le_bytes());
        b.extend(7u32.to_le_bytes());
        string(&mut b, "test.names");
        b.extend(9u32.to_le_bytes());
        b.extend(8u32.to_le_bytes());
        b.extend(2u64.to_le_bytes());
        string(&mut b, "a");
        string(&mut b, "b c");
        let mut offset = 0u64;
        for (name, dims, ty, payload) in tensors {
            string(&mut b, name);
            b.extend((dims.len() as u32).to_le_bytes());
            for d in dims {
                b.extend(d.to_le_bytes());
            }
            b.extend(ty.to_le_bytes());
            b.extend(offset.to_le_bytes());
            offset += (payload.len() as u64).div_ceil(32) * 32;
        }
        while b.len() % 32 != 0 {
            b.push(0);
        }
        for (_, _, _, payload) in tensors {
            let mut p = payload.clone();
            while p.len() % 32 != 0 {
                p.push(0);
            }
            b.extend(p);
        }
        b
    }

    #[test]
    fn reads_metadata_and_shapes_tensors_outermost_first() {
        let f32s: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let bytes = build(&[("w", vec![3, 2], 0, f32s)]);
        let g = GgufFile::parse(bytes, Path::new("t.gguf")).unwrap();
        assert_eq!(g.get_u64("test.count").unwrap(), 7);
        assert_eq!(g.get_strings("test.names").unwrap(), vec!["a", "b c"]);
        let t = g.tensor("w").unwrap();
        assert_eq!(t.size(), vec![2, 3]);
        assert_eq!(t.double_value(&[1, 0]), 3.0);
        let e = g.get_str("test.count").unwrap_err().to_string();
        assert!(e.contains("test.count") && e.contains("t.gguf"), "{e}");
        let e = g.tensor("nope").unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("missing"), "{e}");
    }

    #[test]
    fn unsupported_types_are_refused_by_name() {
        let bytes = build(&[("k", vec![256], 12, vec![0u8; 144])]);
        let g = GgufFile::parse(bytes, Path::new("t.gguf")).unwrap();
        match g.tensor("k").unwrap_err() {
            GgufError::UnsupportedType {
                tensor, type_name, ..
            } => assert_eq!((tensor.as_str(), type_name.as_str()), ("k", "Q4_K")),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn bad_headers_and_truncation_are_format_errors() {
        let e = GgufFile::parse(b"GGML\x03\0\0\0".to_vec(), Path::new("x"));
        assert!(matches!(e, Err(GgufError::Format { .. })));
        let mut v2 = build(&[]);
        v2[4] = 2;
        let e = GgufFile::parse(v2, Path::new("x")).unwrap_err().to_string();
        assert!(e.contains("version 2"), "{e}");
        let full = build(&[("w", vec![4], 0, vec![0u8; 16])]);
        let cut = full[..full.len() - 40].to_vec();
        let e = GgufFile::parse(cut, Path::new("x"));
        assert!(e.is_err() || e.unwrap().tensor("w").is_err());
    }

    /// A valid file with one tensor of every supported type.
    fn sample() -> Vec<u8> {
        build(&[
            ("f32", vec![4, 2], 0, vec![0x3f; 32]),
            ("f16", vec![3], 1, vec![0x3c; 6]),
            ("q4_0", vec![32], 2, vec![0x11; 18]),
            ("q4_1", vec![32, 2], 3, vec![0x22; 40]),
            ("q8_0", vec![32], 8, vec![0x05; 34]),
            ("bf16", vec![2], 30, vec![0x40; 4]),
        ])
    }

    /// Parses `bytes` and reads every tensor; a panic anywhere fails the caller.
    fn read_all(bytes: Vec<u8>) {
        if let Ok(g) = GgufFile::parse(bytes, Path::new("fuzz.gguf")) {
            for t in g.tensors.clone() {
                let _ = g.tensor(&t.name);
            }
        }
    }

    /// The byte offset of tensor-table entry `i`'s dims in [`sample`] (after its name).
    fn entry_offset(bytes: &[u8], i: usize) -> usize {
        let g = GgufFile::parse(bytes.to_vec(), Path::new("x")).unwrap();
        let name = &g.tensors[i].name;
        let pat: Vec<u8> = [
            (name.len() as u64).to_le_bytes().as_slice(),
            name.as_bytes(),
        ]
        .concat();
        bytes.windows(pat.len()).position(|w| w == pat).unwrap() + pat.len()
    }

    #[test]
    fn the_sample_reads_and_every_prefix_is_refused_without_panicking() {
        let full = sample();
        let g = GgufFile::parse(full.clone(), Path::new("s")).unwrap();
        assert_eq!(g.tensor("q4_1").unwrap().size(), vec![2, 32]);
        for cut in 0..full.len() {
            read_all(full[..cut].to_vec());
        }
    }

    #[test]
    fn hostile_headers_are_named_errors() {
        let fmt = |b: Vec<u8>| match GgufFile::parse(b, Path::new("h.gguf")) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted"),
        };
        // tensor_count near 2^64.
        let mut b = sample();
        b[8..16].copy_from_slice(&(u64::MAX - 1).to_le_bytes());
        assert!(fmt(b).contains("tensor_count"));
        // A string length near 2^64 (the first metadata key's).
        let mut b = sample();
        b[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(fmt(b).contains("metadata key"));
        // Dims whose product overflows.
        let mut b = sample();
        let at = entry_offset(&b, 0) + 4;
        b[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        b[at + 8..at + 16].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(fmt(b).contains("overflow"));
        // An offset past the end, a misaligned one, an overlapping one.
        for (value, want) in [
            (1u64 << 40, "past the end"),
            (33, "multiple of 32"),
            (0, "overlaps"),
        ] {
            let mut b = sample();
            let g = GgufFile::parse(b.clone(), Path::new("x")).unwrap();
            let nd = g.tensors[1].dims.len();
            let at = entry_offset(&b, 1) + 4 + 8 * nd + 4;
            b[at..at + 8].copy_from_slice(&value.to_le_bytes());
            let e = fmt(b);
            assert!(e.contains(want) && e.contains("f16"), "{want}: {e}");
        }
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn corrupted_files_never_panic(
            edits in proptest::collection::vec((0usize..400, proptest::prelude::any::<u8>()), 1..8),
            wide in proptest::option::of((0usize..400, proptest::prop_oneof![
                proptest::prelude::any::<u64>(),
                (0u64..16).prop_map(|k| u64::MAX - k),
                0u64..64,
            ])),
        ) {
            let mut b = sample();
            for (at, v) in edits {
                let n = b.len();
                b[at % n] = v;
            }
            if let Some((at, v)) = wide {
                let at = at % (b.len() - 8);
                b[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
            read_all(b);
        }
    }
}
