//! The policy model: the [`CausalLm`](causal_lm::CausalLm) interface, GPT-2 as its
//! implementation, the safetensors loader, Hugging Face directories and the tokenizer.

pub mod causal_lm;
pub mod gpt2;
pub mod hf_dir;
pub mod layers;
pub mod safetensors;
pub mod tokenizer;
