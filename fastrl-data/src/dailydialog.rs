//! DailyDialog's release format: `dialogues_text.txt` (one dialogue per line, every
//! utterance followed by `__eou__`) and `dialogues_act.txt` (one dialogue act per
//! utterance, space-separated: 1 inform, 2 question, 3 directive, 4 commissive).

use crate::{DataError, Dialogue};
use std::path::Path;

/// A DailyDialog dialogue with one act per utterance.
#[derive(Clone, Debug, PartialEq)]
pub struct ActDialogue {
    /// Id (`"dd-<line>"`, 1-based) and utterances.
    pub dialogue: Dialogue,
    /// Dialogue acts, one per utterance.
    pub acts: Vec<u8>,
}

fn read(path: &Path) -> Result<String, DataError> {
    std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads `dialogues_text.txt` and, when given, `dialogues_act.txt` (which must have one
/// act in 1..=4 per utterance, line for line).
pub fn load(text: &Path, acts: Option<&Path>) -> Result<Vec<ActDialogue>, DataError> {
    let body = read(text)?;
    let act_body = acts.map(read).transpose()?;
    let act_lines: Option<Vec<&str>> = act_body.as_deref().map(|b| b.lines().collect());
    let mut out = Vec::new();
    for (i, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let utterances: Vec<String> = line
            .split("__eou__")
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .collect();
        let mut dialogue_acts = Vec::new();
        if let (Some(lines), Some(path)) = (&act_lines, acts) {
            let l = lines.get(i).ok_or_else(|| DataError::Format {
                path: path.to_path_buf(),
                what: format!("no line {} (the text file has one)", i + 1),
            })?;
            for tok in l.split_whitespace() {
                match tok.parse::<u8>() {
                    Ok(a @ 1..=4) => dialogue_acts.push(a),
                    _ => {
                        return Err(DataError::Format {
                            path: path.to_path_buf(),
                            what: format!("line {}: act {tok:?} is not 1-4", i + 1),
                        })
                    }
                }
            }
            if dialogue_acts.len() != utterances.len() {
                return Err(DataError::Format {
                    path: path.to_path_buf(),
                    what: format!(
                        "line {}: {} acts for {} utterances",
                        i + 1,
                        dialogue_acts.len(),
                        utterances.len()
                    ),
                });
            }
        }
        out.push(ActDialogue {
            dialogue: Dialogue {
                id: format!("dd-{}", i + 1),
                utterances,
            },
            acts: dialogue_acts,
        });
    }
    if !out.iter().any(|d| d.dialogue.utterances.len() >= 2) {
        return Err(DataError::Empty {
            path: text.to_path_buf(),
        });
    }
    Ok(out)
}
