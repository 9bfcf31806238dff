//! Files installed from PyPI into the project's `.venv` (any Python version): the MiniLM
//! encoder, the SmolLM2 GGUF.

use std::path::{Path, PathBuf};

/// `<root>/.venv/lib/python*/site-packages/<rel>`, the first that exists.
pub fn site_file(root: &Path, rel: &str) -> Option<PathBuf> {
    let lib = root.join(".venv/lib");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(lib)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|d| d.join("site-packages").join(rel))
        .find(|p| p.exists())
}
