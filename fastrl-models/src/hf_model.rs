//! [`HfModel`]: a network of a Hugging Face family in its own variable store, written once
//! for every family. A family says what differs ([`Network`]: its config, its weights'
//! names, its forward passes); creating, loading, freezing and the [`CausalLm`] plumbing
//! are here. `Gpt2Model` and `LlamaModel` are `HfModel<Gpt2>` and `HfModel<Llama>`.

use crate::causal_lm::{CausalLm, Decoded, Dims, KvCache, ParamGroup, Window};
use crate::error::ModelError;
use crate::safetensors::{self, freeze_copy, load_hf, HfNames};
use std::path::Path;
use tch::{nn, Device, Tensor};

/// What one architecture family supplies to [`HfModel`].
pub trait Network: std::fmt::Debug + Sized + 'static {
    /// Its `config.json`, typed.
    type Config: Clone + std::fmt::Debug;
    /// What its Hugging Face weight files may hold beside our variables.
    const NAMES: HfNames;

    /// Checks a config before a model is built from it.
    fn validate(cfg: &Self::Config) -> Result<(), ModelError>;
    /// Reads and checks `config.json`.
    fn load_config(path: &Path) -> Result<Self::Config, ModelError>;
    /// The network's variables under `p`, randomly initialised.
    fn build(p: &nn::Path<'_>, cfg: &Self::Config) -> Self;
    /// The config it was built from.
    fn config(&self) -> &Self::Config;
    /// A stored tensor's name as our variable is named (GPT-2 files may omit the
    /// `transformer.` prefix); the identity by default.
    fn our_name(stored: String) -> String {
        stored
    }

    /// [`CausalLm::model_type`].
    fn model_type(&self) -> &'static str;
    /// [`CausalLm::dims`].
    fn dims(&self) -> Dims;
    /// [`CausalLm::max_positions`].
    fn max_positions(&self) -> i64;
    /// [`CausalLm::lower`].
    fn lower(&self, ids: &Tensor, mask: &Tensor, blocks: usize) -> Tensor;
    /// [`CausalLm::window_from`].
    fn window_from(
        &self,
        hidden: &Tensor,
        mask: &Tensor,
        blocks: usize,
        start: i64,
        len: i64,
    ) -> Window;
    /// [`CausalLm::prefill`].
    fn prefill(&self, ids: &Tensor, mask: &Tensor) -> Decoded;
    /// [`CausalLm::decode_step`].
    fn decode_step(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        key_mask: &Tensor,
        cache: &KvCache,
    ) -> Decoded;
    /// [`CausalLm::hf_config`].
    fn hf_config(&self) -> serde_json::Value;
    /// [`CausalLm::param_group`].
    fn param_group(name: &str) -> ParamGroup;
}

/// A model of family `N` in its own variable store on one device.
#[derive(Debug)]
pub struct HfModel<N> {
    /// The variables (the network and its value head).
    pub vs: nn::VarStore,
    /// The network.
    pub net: N,
}

impl<N: Network> HfModel<N> {
    /// A randomly initialised model.
    pub fn new(cfg: &N::Config, device: Device) -> Result<Self, ModelError> {
        N::validate(cfg)?;
        let vs = nn::VarStore::new(device);
        let net = N::build(&vs.root(), cfg);
        Ok(HfModel { vs, net })
    }

    /// Loads a Hugging Face directory (`config.json`, `model.safetensors`).
    pub fn load_dir(dir: &Path, device: Device) -> Result<Self, ModelError> {
        let cfg = N::load_config(&dir.join("config.json"))?;
        let m = HfModel::<N>::new(&cfg, device)?;
        load_hf_weights::<N>(&m.vs, &dir.join("model.safetensors"))?;
        Ok(m)
    }
}

/// Loads `model.safetensors` (Hugging Face names) into `vs` by [`load_hf`] with the
/// family's names.
pub fn load_hf_weights<N: Network>(vs: &nn::VarStore, path: &Path) -> Result<(), ModelError> {
    let tensors = safetensors::read(path)?
        .into_iter()
        .map(|(name, t)| (N::our_name(name), t))
        .collect();
    load_hf(vs, tensors, &path.display().to_string(), N::NAMES)
}

impl<N: Network> CausalLm for HfModel<N> {
    fn model_type(&self) -> &'static str {
        self.net.model_type()
    }

    fn vocab_size(&self) -> i64 {
        self.net.dims().vocab
    }

    fn dims(&self) -> Dims {
        self.net.dims()
    }

    fn max_positions(&self) -> i64 {
        self.net.max_positions()
    }

    fn vars(&self) -> &nn::VarStore {
        &self.vs
    }

    fn lower(&self, ids: &Tensor, mask: &Tensor, blocks: usize) -> Tensor {
        self.net.lower(ids, mask, blocks)
    }

    fn window_from(
        &self,
        hidden: &Tensor,
        mask: &Tensor,
        blocks: usize,
        start: i64,
        len: i64,
    ) -> Window {
        self.net.window_from(hidden, mask, blocks, start, len)
    }

    fn prefill(&self, ids: &Tensor, mask: &Tensor) -> Decoded {
        self.net.prefill(ids, mask)
    }

    fn decode_step(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        key_mask: &Tensor,
        cache: &KvCache,
    ) -> Decoded {
        self.net.decode_step(ids, positions, key_mask, cache)
    }

    fn hf_config(&self) -> serde_json::Value {
        self.net.hf_config()
    }

    fn frozen_copy(&self) -> Result<Box<dyn CausalLm>, ModelError> {
        let mut m = HfModel::<N>::new(self.net.config(), self.vs.device())?;
        freeze_copy(&mut m.vs, &self.vs)?;
        Ok(Box::new(m))
    }

    fn param_group(&self, name: &str) -> ParamGroup {
        N::param_group(name)
    }
}
