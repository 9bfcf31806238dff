//! The Chit Chat Challenge dataset (PyPI `chitchat-dataset` 0.9.0): `dataset.json` maps a
//! conversation id to `{"prompt", "start", "messages": [[{"text", "sender", ...}, ...], ...],
//! "ratings": {"witty", "upbeat", "interesting"}}` (ratings on some conversations only);
//! each inner list is one speaker's turn of consecutive messages.

use crate::{DataError, Dialogue};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Human ratings of a conversation (1-10 each in the data).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ratings {
    /// How witty.
    pub witty: f32,
    /// How upbeat.
    pub upbeat: f32,
    /// How interesting.
    pub interesting: f32,
}

/// A conversation with its prompt and ratings.
#[derive(Clone, Debug, PartialEq)]
pub struct Conversation {
    /// Id and utterances (each turn's messages joined by a space).
    pub dialogue: Dialogue,
    /// The conversation starter shown to the participants.
    pub prompt: String,
    /// Ratings, where the data has them.
    pub ratings: Option<Ratings>,
}

/// Where `dataset.json` is looked for: `$FASTRL_CHITCHAT`, then the `chitchat_dataset`
/// package in the project's `.venv` (any Python version).
pub fn find(project_root: &Path) -> Result<PathBuf, DataError> {
    let mut searched = Vec::new();
    if let Some(p) = std::env::var_os("FASTRL_CHITCHAT") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        searched.push(p);
    }
    let lib = project_root.join(".venv").join("lib");
    if let Ok(entries) = std::fs::read_dir(&lib) {
        let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        dirs.sort();
        for d in dirs {
            let p = d
                .join("site-packages")
                .join("chitchat_dataset")
                .join("dataset.json");
            if p.is_file() {
                return Ok(p);
            }
            searched.push(p);
        }
    } else {
        searched.push(lib);
    }
    Err(DataError::NotFound { searched })
}

fn format(path: &Path, what: String) -> DataError {
    DataError::Format {
        path: path.to_path_buf(),
        what,
    }
}

/// Loads every conversation, sorted by id (a fixed order).
pub fn load(path: &Path) -> Result<Vec<Conversation>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let doc: Value =
        serde_json::from_str(&text).map_err(|e| format(path, format!("not JSON: {e}")))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| format(path, "expected an object of conversations".into()))?;
    let mut out = Vec::with_capacity(obj.len());
    for (id, conv) in obj {
        let messages = conv["messages"]
            .as_array()
            .ok_or_else(|| format(path, format!("conversation {id}: no `messages` list")))?;
        let mut utterances = Vec::with_capacity(messages.len());
        for (k, turn) in messages.iter().enumerate() {
            let turn = turn
                .as_array()
                .ok_or_else(|| format(path, format!("conversation {id}, turn {k}: not a list")))?;
            let texts: Vec<&str> = turn
                .iter()
                .filter_map(|m| m["text"].as_str())
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect();
            utterances.push(texts.join(" "));
        }
        let ratings = conv.get("ratings").and_then(|r| {
            Some(Ratings {
                witty: r["witty"].as_f64()? as f32,
                upbeat: r["upbeat"].as_f64()? as f32,
                interesting: r["interesting"].as_f64()? as f32,
            })
        });
        out.push(Conversation {
            dialogue: Dialogue {
                id: id.clone(),
                utterances,
            },
            prompt: conv["prompt"].as_str().unwrap_or_default().to_string(),
            ratings,
        });
    }
    if !out.iter().any(|c| c.dialogue.utterances.len() >= 2) {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    out.sort_by(|a, b| a.dialogue.id.cmp(&b.dialogue.id));
    Ok(out)
}
