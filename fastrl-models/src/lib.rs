//! `fastrl-models`: the causal language models the Fast RL trainer fine-tunes, on tch
//! (libtorch).
//!
//! - [`causal_lm`]: the [`CausalLm`](causal_lm::CausalLm) interface (logits and a value
//!   head over a window, prefill and KV-cached decoding, parameter groups, the top blocks
//!   to train), implemented by
//! - [`hf_model`]'s `HfModel<N>`, one wrapper for every family `N`: [`gpt2`] and
//!   [`llama`] (Llama, Qwen2, SmolLM2; [`llama_config`]), built from [`layers`];
//! - loading: [`safetensors`] (one loader for both families), Hugging Face directories
//!   ([`hf_dir`]), GGUF files ([`gguf`], [`gguf_quant`], [`gguf_import`]), and
//!   [`pretrained`] names found in the project's `.venv` ([`venv`]);
//! - text: the byte-level BPE [`tokenizer`] and [`chat`] templates.
//!
//! Every fallible function returns [`ModelError`].

#![forbid(unsafe_code)]

pub mod causal_lm;
pub mod chat;
pub mod error;
pub mod gguf;
pub mod gguf_import;
pub mod gguf_quant;
pub mod gpt2;
pub mod hf_dir;
pub mod hf_model;
pub mod layers;
pub mod llama;
pub mod llama_config;
pub mod pretrained;
pub mod safetensors;
pub mod tokenizer;
pub mod venv;

pub use error::ModelError;
