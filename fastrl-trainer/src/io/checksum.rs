//! File checksums recorded in a checkpoint's `state.json`: length and SHA-256.

use crate::error::TrainerError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// A file's length and SHA-256 (lowercase hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSum {
    /// Bytes.
    pub bytes: u64,
    /// SHA-256 of the contents.
    pub sha256: String,
}

impl FileSum {
    /// Reads `path` and sums it.
    pub fn of(path: &Path) -> Result<Self, TrainerError> {
        let mut f = std::fs::File::open(path).map_err(|e| TrainerError::io(path, e))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut bytes = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(|e| TrainerError::io(path, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            bytes += n as u64;
        }
        let sha256 = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(FileSum { bytes, sha256 })
    }

    /// `None` when `path` has this sum, else what differs.
    pub fn mismatch(&self, path: &Path) -> Option<String> {
        match FileSum::of(path) {
            Err(e) => Some(e.to_string()),
            Ok(s) if s.bytes != self.bytes => Some(format!(
                "{} has {} bytes, {} recorded",
                path.display(),
                s.bytes,
                self.bytes
            )),
            Ok(s) if s.sha256 != self.sha256 => {
                Some(format!("{} fails its SHA-256", path.display()))
            }
            Ok(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sum_is_sha256() {
        let p = std::env::temp_dir().join(format!("fastrl-sum-{}", std::process::id()));
        std::fs::write(&p, "abc").unwrap();
        let s = FileSum::of(&p).unwrap();
        // FIPS 180-2, appendix B.1.
        assert_eq!(
            s.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(s.bytes, 3);
        assert!(s.mismatch(&p).is_none());
        std::fs::write(&p, "ab").unwrap();
        assert!(s.mismatch(&p).unwrap().contains("2 bytes, 3 recorded"));
        std::fs::remove_file(&p).ok();
    }
}
