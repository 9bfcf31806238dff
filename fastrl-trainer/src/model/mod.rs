//! The policy model: the [`CausalLm`](causal_lm::CausalLm) interface, GPT-2 and the
//! Llama family (Llama, Qwen2) as its implementations, the safetensors loader, Hugging
//! Face directories, GGUF import and the tokenizer.

pub mod causal_lm;
pub mod chat;
pub mod gguf;
pub mod gguf_import;
pub mod gguf_quant;
pub mod gpt2;
pub mod hf_dir;
pub mod layers;
pub mod llama;
pub mod llama_config;
pub mod pretrained;
pub mod safetensors;
pub mod tokenizer;
