//! Reading and writing records: whole-file JSON and JSON lines. A file that cannot be
//! parsed, or a record that lacks a field, is an error naming the file, the line and
//! the field; nothing is read as a default.

use crate::error::TrainerError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// Reads one JSON record.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, TrainerError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainerError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| TrainerError::record(path, 0, e))
}

/// Writes one JSON record (pretty), atomically (temporary file + rename).
pub fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<(), TrainerError> {
    let text = serde_json::to_string_pretty(v).map_err(|e| TrainerError::record(path, 0, e))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| TrainerError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| TrainerError::io(path, e))
}

/// Reads every line of a JSON-lines file as a record.
pub fn read_lines<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, TrainerError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainerError::io(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| TrainerError::record(path, i + 1, e)))
        .collect()
}

/// Appends one record as a line.
pub fn append_line<T: Serialize>(path: &Path, v: &T) -> Result<(), TrainerError> {
    let line = serde_json::to_string(v).map_err(|e| TrainerError::record(path, 0, e))?;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| TrainerError::io(path, e))?;
    writeln!(f, "{line}").map_err(|e| TrainerError::io(path, e))
}

#[derive(serde::Deserialize)]
struct Step {
    step: usize,
}

/// Drops the lines of a JSON-lines log after `step` (written after the checkpoint a run
/// resumes from, so the resumed log equals an uninterrupted one). Every line must carry
/// a `step`; a line that does not, or a file that cannot be read, is an error and the
/// file is left as it was.
pub fn truncate_after(path: &Path, step: usize) -> Result<(), TrainerError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainerError::io(path, e))?;
    let mut kept = String::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let s: Step = serde_json::from_str(l).map_err(|e| TrainerError::record(path, i + 1, e))?;
        if s.step <= step {
            kept.push_str(l);
            kept.push('\n');
        }
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, kept).map_err(|e| TrainerError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| TrainerError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::records::StepMetrics;

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("fastrl-jsonl-{name}-{}", std::process::id()))
    }

    #[test]
    fn an_unreadable_log_is_an_error_and_stays_on_disk() {
        // A log whose second line is cut off (a crash mid-write, a full disk): the
        // resume truncation must refuse it, not read it as empty and write it back.
        let p = tmp("cut");
        let text = "{\"step\": 1, \"x\": 1}\n{\"step\": 2, \"x\"";
        std::fs::write(&p, text).unwrap();
        let e = truncate_after(&p, 1).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
        // A missing log is an error too (it was read as empty and written back).
        std::fs::remove_file(&p).unwrap();
        assert!(truncate_after(&p, 1).is_err());
        assert!(!p.exists());
    }

    #[test]
    fn truncation_keeps_the_steps_up_to_the_checkpoint() {
        let p = tmp("keep");
        std::fs::write(&p, "{\"step\": 1}\n{\"step\": 2}\n{\"step\": 3}\n").unwrap();
        truncate_after(&p, 2).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"step\": 1}\n{\"step\": 2}\n"
        );
        std::fs::remove_file(&p).ok();
    }

    #[test]
    fn a_record_missing_a_field_names_file_line_and_field() {
        let p = tmp("missing");
        std::fs::write(&p, "{\"step\": 1}\n").unwrap();
        let e = read_lines::<StepMetrics>(&p).unwrap_err().to_string();
        assert!(
            e.contains(&p.display().to_string()) && e.contains("line 1"),
            "{e}"
        );
        assert!(e.contains("missing field `beta`"), "{e}");
        std::fs::remove_file(&p).ok();
    }
}
