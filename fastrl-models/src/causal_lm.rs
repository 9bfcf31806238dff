//! The one interface to a causal language model with a value head: what SFT, generation,
//! PPO, checkpoints and the Hugging Face export use. [`crate::gpt2`] is its first
//! implementation; nothing else in the trainer names an architecture.

use crate::error::ModelError;
use tch::{nn, Device, Kind, Tensor};

/// Per-layer cached keys and values, `[B, heads, T, head_dim]`.
pub type KvCache = Vec<(Tensor, Tensor)>;

/// Logits and values of a window of positions.
#[derive(Debug)]
pub struct Window {
    /// `[B, len, vocab]` logits.
    pub logits: Tensor,
    /// `[B, len]` values.
    pub values: Tensor,
}

/// One decoding step's next-token logits and the extended cache.
#[derive(Debug)]
pub struct Decoded {
    /// `[B, vocab]` logits of the next token.
    pub logits: Tensor,
    /// The cache including this call's tokens.
    pub cache: KvCache,
}

/// The sizes a memory estimate needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    /// Vocabulary.
    pub vocab: i64,
    /// Hidden size.
    pub hidden: i64,
    /// Attention heads.
    pub heads: i64,
    /// Blocks.
    pub layers: i64,
}

/// What part of the model a variable belongs to (for training only the top blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamGroup {
    /// Token (and position) embeddings; with tied embeddings also the LM head.
    Embedding,
    /// Block `i` (0 = the lowest).
    Block(usize),
    /// Above the blocks: the final norm, an untied LM head, the value head.
    Head,
}

/// The group of a variable named `name` whose blocks are `<block_prefix><i>.`: the
/// names in `embeddings` are [`ParamGroup::Embedding`], everything else
/// [`ParamGroup::Head`].
pub fn group_by_name(name: &str, block_prefix: &str, embeddings: &[&str]) -> ParamGroup {
    if let Some(rest) = name.strip_prefix(block_prefix) {
        if let Some(i) = rest.split('.').next().and_then(|i| i.parse().ok()) {
            return ParamGroup::Block(i);
        }
    }
    if embeddings.contains(&name) {
        ParamGroup::Embedding
    } else {
        ParamGroup::Head
    }
}

/// Trains only the top `top` blocks and what lies above them (final norm, untied LM
/// head, value head); the embeddings and the lower blocks are frozen, so backward stops
/// at the first trainable block. `top = 0` trains everything. Returns the number of
/// parameters that will train. Call it before building the optimiser (which steps only
/// variables that require gradients).
pub fn train_top_blocks(model: &dyn CausalLm, top: usize) -> Result<usize, ModelError> {
    let layers = model.dims().layers as usize;
    if top > layers {
        return Err(ModelError::Config(format!(
            "model.train_top_blocks = {top} but the model has {layers} blocks"
        )));
    }
    let mut trained = 0;
    for (name, t) in model.vars().variables() {
        let train = top == 0
            || match model.param_group(&name) {
                ParamGroup::Embedding => false,
                ParamGroup::Block(i) => i >= layers - top,
                ParamGroup::Head => true,
            };
        let _ = t.set_requires_grad(train);
        if train {
            trained += t.numel();
        }
    }
    Ok(trained)
}

/// A causal LM with a scalar value head, in its own variable store.
///
/// Positions ignore left padding: a token's position is the number of valid tokens
/// before it ([`positions_from_mask`]), as Hugging Face's `generate` computes them.
pub trait CausalLm: std::fmt::Debug {
    /// The architecture's name in `config.json` (`model_type`).
    fn model_type(&self) -> &'static str;
    /// Vocabulary size (rows of the token embedding).
    fn vocab_size(&self) -> i64;
    /// Its sizes.
    fn dims(&self) -> Dims;
    /// The longest sequence the model can read.
    fn max_positions(&self) -> i64;
    /// The variables (trunk + value head); an optimiser steps them.
    fn vars(&self) -> &nn::VarStore;
    /// The hidden states `[B, T, hidden]` of `ids` `[B, T]` under `mask` `[B, T]` after
    /// the embeddings and the lowest `blocks` blocks: the input of block `blocks`.
    /// With those blocks frozen and shared (the policy's and the reference's, when only
    /// the top blocks train), PPO computes this once per step.
    fn lower(&self, ids: &Tensor, mask: &Tensor, blocks: usize) -> Tensor;
    /// [`CausalLm::window`] from `hidden`, the output of [`CausalLm::lower`] for the same
    /// `mask` and `blocks`: runs the remaining blocks, then the heads on the window.
    fn window_from(
        &self,
        hidden: &Tensor,
        mask: &Tensor,
        blocks: usize,
        start: i64,
        len: i64,
    ) -> Window;
    /// Reads a left-padded prompt `ids` `[B, T]` and returns the next-token logits at its
    /// last position with the cache.
    fn prefill(&self, ids: &Tensor, mask: &Tensor) -> Decoded;
    /// One token per row `ids` `[B, 1]` at `positions` `[B, 1]`; `key_mask` `[B, P + 1]`
    /// covers the cached and the new token.
    fn decode_step(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        key_mask: &Tensor,
        cache: &KvCache,
    ) -> Decoded;
    /// The Hugging Face `config.json` of this model.
    fn hf_config(&self) -> serde_json::Value;
    /// A frozen copy on the same device (the reference policy).
    fn frozen_copy(&self) -> Result<Box<dyn CausalLm>, ModelError>;
    /// The part of the model the variable `name` belongs to.
    fn param_group(&self, name: &str) -> ParamGroup;

    /// Logits and values at positions `start..start + len` of `ids` `[B, T]` under `mask`
    /// `[B, T]` (1 = token, left padding allowed), equal to that window of a full
    /// forward; the heads run on the window only (the vocabulary projection dominates
    /// a small model's forward).
    fn window(&self, ids: &Tensor, mask: &Tensor, start: i64, len: i64) -> Window {
        self.window_from(&self.lower(ids, mask, 0), mask, 0, start, len)
    }

    /// The device of the variables.
    fn device(&self) -> Device {
        self.vars().device()
    }

    /// Every variable by its path name, sorted by name (what checkpoints store).
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let vars: std::collections::BTreeMap<String, Tensor> =
            self.vars().variables().into_iter().collect();
        vars.into_iter().collect()
    }

    /// Every parameter of the store, frozen or not ([`train_top_blocks`] returns how
    /// many train).
    fn parameter_count(&self) -> usize {
        self.vars()
            .trainable_variables()
            .iter()
            .map(|t| t.numel())
            .sum()
    }
}

/// The additive attention bias `[B, 1, t, past + t]` of `t` new tokens: 0 where a query
/// may attend (causal, and `key_mask` `[B, past + t]` is 1), the lowest float elsewhere.
/// Every architecture's blocks read it.
pub fn attention_bias(key_mask: &Tensor, past: i64, t: i64, kind: Kind) -> Tensor {
    let b = key_mask.size()[0];
    let dev = key_mask.device();
    let total = past + t;
    // [t, total] causal: new token i (absolute past + i) sees keys j <= past + i.
    let q_pos = Tensor::arange_start(past, total, (Kind::Int64, dev)).unsqueeze(1);
    let k_pos = Tensor::arange(total, (Kind::Int64, dev)).unsqueeze(0);
    let allowed = k_pos
        .le_tensor(&q_pos)
        .unsqueeze(0)
        .unsqueeze(0)
        .logical_and(&key_mask.to_kind(Kind::Bool).view([b, 1, 1, total]));
    let neg = Tensor::full([1], f64::from(f32::MIN), (kind, dev));
    Tensor::zeros([1], (kind, dev)).where_self(&allowed, &neg)
}

/// The value head `hidden -> 1` of a model, initialised to zero (weights and bias): its
/// first predictions are exactly 0, so at the start of PPO the advantages are the
/// returns themselves instead of returns minus a random function of the state, and
/// the value loss sends no gradient into the policy's trunk until the head has moved
/// (OpenRLHF starts its head small for the same reason; a random head's error was as
/// large as the reward signal here).
pub fn value_head(p: nn::Path<'_>, hidden: i64) -> nn::Linear {
    nn::linear(
        p,
        hidden,
        1,
        nn::LinearConfig {
            ws_init: nn::Init::Const(0.0),
            bs_init: Some(nn::Init::Const(0.0)),
            bias: true,
        },
    )
}

/// `cumsum(mask) - 1`, clamped at 0: the position of each token ignoring left padding.
pub fn positions_from_mask(mask: &Tensor) -> Tensor {
    (mask.to_kind(Kind::Int64).cumsum(1, Kind::Int64) - 1).clamp_min(0)
}
