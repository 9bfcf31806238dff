//! GPT-2 in tch, a [`Network`] behind [`CausalLm`](crate::causal_lm::CausalLm): the
//! trunk with its (tied) LM head and a scalar value head, a KV cache for sampling, and
//! Hugging Face GPT-2 weights (`config.json` + `model.safetensors`).
//!
//! Parameter names follow `GPT2LMHeadModel` (`transformer.h.0.attn.c_attn.weight`, ...),
//! so our own checkpoints are Hugging Face checkpoints and the reverse. Linear layers are
//! GPT-2's `Conv1D`: weight `[in, out]`, `y = x W + b`.

use crate::causal_lm::{
    attention_bias, group_by_name, positions_from_mask, value_head, Decoded, Dims, KvCache,
    ParamGroup, Window,
};
use crate::error::ModelError;
use crate::hf_model::{HfModel, Network};
use crate::layers::layer_norm as ln_layer;
use crate::safetensors::HfNames;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::nn::{self, Init};
use tch::Tensor;

/// The subset of a GPT-2 `config.json` the architecture needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gpt2Config {
    /// Vocabulary size.
    pub vocab_size: i64,
    /// Maximum positions.
    pub n_positions: i64,
    /// Hidden size.
    pub n_embd: i64,
    /// Blocks.
    pub n_layer: i64,
    /// Attention heads.
    pub n_head: i64,
    /// MLP inner size (`null` in Hugging Face configs means `4 * n_embd`).
    #[serde(default)]
    pub n_inner: Option<i64>,
    /// Layer-norm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_epsilon: f64,
    /// Only `gelu_new` (the tanh approximation, GPT-2's default) is supported.
    #[serde(default = "default_act")]
    pub activation_function: String,
}

fn default_eps() -> f64 {
    1e-5
}
fn default_act() -> String {
    "gelu_new".into()
}

impl Gpt2Config {
    /// A new model's configuration: GPT-2's defaults (MLP `4 * n_embd`, epsilon `1e-5`,
    /// `gelu_new`) at this shape.
    pub fn with_shape(
        vocab_size: i64,
        n_positions: i64,
        n_embd: i64,
        n_layer: i64,
        n_head: i64,
    ) -> Self {
        Gpt2Config {
            vocab_size,
            n_positions,
            n_embd,
            n_layer,
            n_head,
            n_inner: None,
            layer_norm_epsilon: default_eps(),
            activation_function: default_act(),
        }
    }

    /// Checks the shape parameters.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |what: String| Err(ModelError::Config(what));
        if self.vocab_size < 2 || self.n_positions < 2 || self.n_layer < 1 || self.n_head < 1 {
            return bad(format!("GPT-2 config has a non-positive size: {self:?}"));
        }
        if self.n_embd % self.n_head != 0 {
            return bad(format!(
                "n_embd {} is not a multiple of n_head {}",
                self.n_embd, self.n_head
            ));
        }
        if self.activation_function != "gelu_new" && self.activation_function != "gelu_pytorch_tanh"
        {
            return bad(format!(
                "activation_function {:?} is not supported (use gelu_new)",
                self.activation_function
            ));
        }
        Ok(())
    }

    /// Reads `config.json`.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let cfg: Gpt2Config = serde_json::from_str(&text).map_err(|e| {
            ModelError::Config(format!("{}: not a GPT-2 config.json: {e}", path.display()))
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The `config.json` a Hugging Face loader accepts.
    pub fn to_hf_json(&self) -> serde_json::Value {
        serde_json::json!({
            "architectures": ["GPT2LMHeadModel"],
            "model_type": "gpt2",
            "vocab_size": self.vocab_size,
            "n_positions": self.n_positions,
            "n_ctx": self.n_positions,
            "n_embd": self.n_embd,
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_inner": self.n_inner,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "activation_function": self.activation_function,
            "resid_pdrop": 0.0,
            "embd_pdrop": 0.0,
            "attn_pdrop": 0.0,
            "tie_word_embeddings": true,
        })
    }
}

/// A `Conv1D`: weight `[in, out]`.
#[derive(Debug)]
struct Conv1D {
    w: Tensor,
    b: Tensor,
}

impl Conv1D {
    fn new(p: nn::Path<'_>, d_in: i64, d_out: i64) -> Self {
        Conv1D {
            w: p.var(
                "weight",
                &[d_in, d_out],
                Init::Randn {
                    mean: 0.0,
                    stdev: 0.02,
                },
            ),
            b: p.var("bias", &[d_out], Init::Const(0.0)),
        }
    }
    fn forward(&self, x: &Tensor) -> Tensor {
        x.matmul(&self.w) + &self.b
    }
}

#[derive(Debug)]
struct Block {
    ln_1: nn::LayerNorm,
    c_attn: Conv1D,
    attn_proj: Conv1D,
    ln_2: nn::LayerNorm,
    c_fc: Conv1D,
    mlp_proj: Conv1D,
}

/// Output of one forward pass.
#[derive(Debug)]
pub struct Forward {
    /// `[B, T, vocab]` logits.
    pub logits: Tensor,
    /// `[B, T]` values.
    pub values: Tensor,
    /// The cache extended by this call's keys and values.
    pub cache: KvCache,
}

/// GPT-2 with a value head.
#[derive(Debug)]
pub struct Gpt2 {
    /// Architecture.
    pub cfg: Gpt2Config,
    wte: Tensor,
    wpe: Tensor,
    blocks: Vec<Block>,
    ln_f: nn::LayerNorm,
    v_head: nn::Linear,
}

impl Gpt2 {
    /// Creates the variables under `vs` (GPT-2's initialisation: normal(0, 0.02) weights,
    /// zero biases, unit layer norms).
    pub fn new(vs: &nn::Path<'_>, cfg: &Gpt2Config) -> Self {
        let t = vs / "transformer";
        let e = cfg.n_embd;
        let eps = cfg.layer_norm_epsilon;
        let inner = cfg.n_inner.unwrap_or(4 * e);
        let init = Init::Randn {
            mean: 0.0,
            stdev: 0.02,
        };
        let blocks = (0..cfg.n_layer)
            .map(|i| {
                let h = &t / "h" / i;
                Block {
                    ln_1: ln_layer(&h / "ln_1", e, eps),
                    c_attn: Conv1D::new(&h / "attn" / "c_attn", e, 3 * e),
                    attn_proj: Conv1D::new(&h / "attn" / "c_proj", e, e),
                    ln_2: ln_layer(&h / "ln_2", e, eps),
                    c_fc: Conv1D::new(&h / "mlp" / "c_fc", e, inner),
                    mlp_proj: Conv1D::new(&h / "mlp" / "c_proj", inner, e),
                }
            })
            .collect();
        Gpt2 {
            cfg: cfg.clone(),
            wte: (&t / "wte").var("weight", &[cfg.vocab_size, e], init),
            wpe: (&t / "wpe").var("weight", &[cfg.n_positions, e], init),
            blocks,
            ln_f: ln_layer(&t / "ln_f", e, eps),
            v_head: value_head(vs / "v_head", e),
        }
    }

    /// Forward over `ids` `[B, T]` at `positions` `[B, T]`. `key_mask` `[B, P + T]` (1 =
    /// attend) covers the cached and new tokens; attention is also causal. Returns logits,
    /// values and the extended cache.
    pub fn forward(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        key_mask: &Tensor,
        cache: Option<&KvCache>,
    ) -> Forward {
        let (hidden, cache) = self.trunk(ids, positions, key_mask, cache);
        let (logits, values) = self.heads(&hidden);
        Forward {
            logits,
            values,
            cache,
        }
    }

    /// The language-model logits `[.., vocab]` (tied to the token embedding) and the
    /// values `[..]` of final hidden states `[.., n_embd]`. Applying them to only the
    /// positions a caller reads is what makes scoring a response cheap: the vocabulary
    /// projection dominates a small model's forward.
    pub fn heads(&self, hidden: &Tensor) -> (Tensor, Tensor) {
        (
            hidden.matmul(&self.wte.tr()),
            hidden.apply(&self.v_head).squeeze_dim(-1),
        )
    }

    /// Token plus position embeddings of `ids` at `positions`.
    fn embed(&self, ids: &Tensor, positions: &Tensor) -> Tensor {
        Tensor::embedding(&self.wte, ids, -1, false, false)
            + Tensor::embedding(&self.wpe, positions, -1, false, false)
    }

    /// Block `i` on `x` `[B, T, n_embd]`, with the block's cached keys and values
    /// prepended when given; returns its output and its keys and values.
    fn block(
        &self,
        i: usize,
        x: &Tensor,
        bias: &Tensor,
        cached: Option<&(Tensor, Tensor)>,
    ) -> (Tensor, (Tensor, Tensor)) {
        let blk = &self.blocks[i];
        let (b, t, _) = x.size3().expect("hidden states must be [B, T, n_embd]");
        let h = self.cfg.n_head;
        let d = self.cfg.n_embd / h;
        let a = blk.c_attn.forward(&x.apply(&blk.ln_1));
        let qkv = a.split(self.cfg.n_embd, -1);
        let heads = |z: &Tensor| z.view([b, t, h, d]).transpose(1, 2);
        let (q, mut k, mut v) = (heads(&qkv[0]), heads(&qkv[1]), heads(&qkv[2]));
        if let Some((ck, cv)) = cached {
            k = Tensor::cat(&[ck, &k], 2);
            v = Tensor::cat(&[cv, &v], 2);
        }
        let att = (q.matmul(&k.transpose(-2, -1)) / (d as f64).sqrt() + bias).softmax(-1, x.kind());
        let y = att
            .matmul(&v)
            .transpose(1, 2)
            .contiguous()
            .view([b, t, self.cfg.n_embd]);
        // Not `+=`: that would add in place into a tensor autograd saved for ln_1.
        let x = x + blk.attn_proj.forward(&y);
        let m = blk.c_fc.forward(&x.apply(&blk.ln_2)).gelu("tanh");
        (&x + blk.mlp_proj.forward(&m), (k, v))
    }

    /// The transformer without its heads: final hidden states `[B, T, n_embd]` (after
    /// `ln_f`) and the extended cache. Same arguments as [`Gpt2::forward`].
    pub fn trunk(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        key_mask: &Tensor,
        cache: Option<&KvCache>,
    ) -> (Tensor, KvCache) {
        let t = ids.size()[1];
        let past = cache.map(|c| c[0].0.size()[2]).unwrap_or(0);
        let mut x = self.embed(ids, positions);
        let bias = attention_bias(key_mask, past, t, x.kind());
        let mut new_cache = Vec::with_capacity(self.blocks.len());
        for i in 0..self.blocks.len() {
            let (y, kv) = self.block(i, &x, &bias, cache.map(|c| &c[i]));
            x = y;
            new_cache.push(kv);
        }
        (x.apply(&self.ln_f), new_cache)
    }

    /// Blocks `from..to` on `x` `[B, T, n_embd]` without a cache, under `mask`.
    fn blocks_between(&self, x: Tensor, mask: &Tensor, from: usize, to: usize) -> Tensor {
        let bias = attention_bias(mask, 0, x.size()[1], x.kind());
        (from..to).fold(x, |x, i| self.block(i, &x, &bias, None).0)
    }

    /// The hidden states after the embeddings and the lowest `blocks` blocks (positions
    /// from the mask).
    pub fn lower(&self, ids: &Tensor, mask: &Tensor, blocks: usize) -> Tensor {
        let x = self.embed(ids, &positions_from_mask(mask));
        self.blocks_between(x, mask, 0, blocks)
    }

    /// The remaining blocks from [`Gpt2::lower`]'s `hidden`, then the heads on positions
    /// `start..start + len`: logits `[B, len, vocab]`, values `[B, len]`.
    pub fn upper_window(
        &self,
        hidden: &Tensor,
        mask: &Tensor,
        blocks: usize,
        start: i64,
        len: i64,
    ) -> (Tensor, Tensor) {
        let x = self.blocks_between(hidden.shallow_clone(), mask, blocks, self.blocks.len());
        self.heads(&x.narrow(1, start, len).apply(&self.ln_f))
    }

    /// Forward over whole sequences without a cache: positions from the mask (left
    /// padding allowed), as Hugging Face's `generate` computes them.
    pub fn forward_full(&self, ids: &Tensor, mask: &Tensor) -> Forward {
        let positions = positions_from_mask(mask);
        self.forward(ids, &positions, mask, None)
    }

    /// [`Gpt2::forward_full`] with the heads applied to positions `start..start + len`
    /// only: logits `[B, len, vocab]`, values `[B, len]` (equal to that window of the
    /// full forward; the cache is dropped).
    pub fn forward_window(&self, ids: &Tensor, mask: &Tensor, start: i64, len: i64) -> Forward {
        let (logits, values) = self.upper_window(&self.lower(ids, mask, 0), mask, 0, start, len);
        Forward {
            logits,
            values,
            cache: Vec::new(),
        }
    }
}

/// A GPT-2 with its value head in its own variable store.
pub type Gpt2Model = HfModel<Gpt2>;

impl Network for Gpt2 {
    type Config = Gpt2Config;
    /// Buffers of old exports (`attn.bias`, `attn.masked_bias`) and the tied `lm_head`
    /// are ignored.
    const NAMES: HfNames = HfNames {
        family: "GPT-2",
        ignored: |n| {
            n.ends_with(".attn.bias") || n.ends_with(".attn.masked_bias") || n == "lm_head.weight"
        },
    };

    fn validate(cfg: &Gpt2Config) -> Result<(), ModelError> {
        cfg.validate()
    }

    fn load_config(path: &Path) -> Result<Gpt2Config, ModelError> {
        Gpt2Config::load(path)
    }

    fn build(p: &nn::Path<'_>, cfg: &Gpt2Config) -> Self {
        Gpt2::new(p, cfg)
    }

    fn config(&self) -> &Gpt2Config {
        &self.cfg
    }

    /// Files with or without the `transformer.` prefix.
    fn our_name(stored: String) -> String {
        let ours = stored.starts_with("transformer.")
            || stored.starts_with("v_head.")
            || stored == "lm_head.weight";
        if ours {
            stored
        } else {
            format!("transformer.{stored}")
        }
    }

    fn model_type(&self) -> &'static str {
        "gpt2"
    }

    fn dims(&self) -> Dims {
        let c = &self.cfg;
        Dims {
            vocab: c.vocab_size,
            hidden: c.n_embd,
            heads: c.n_head,
            layers: c.n_layer,
        }
    }

    fn max_positions(&self) -> i64 {
        self.cfg.n_positions
    }

    fn lower(&self, ids: &Tensor, mask: &Tensor, blocks: usize) -> Tensor {
        Gpt2::lower(self, ids, mask, blocks)
    }

    fn window_from(
        &self,
        hidden: &Tensor,
        mask: &Tensor,
        blocks: usize,
        start: i64,
        len: i64,
    ) -> Window {
        let (logits, values) = self.upper_window(hidden, mask, blocks, start, len);
        Window { logits, values }
    }

    fn prefill(&self, ids: &Tensor, mask: &Tensor) -> Decoded {
        let lc = ids.size()[1];
        let pos = positions_from_mask(mask);
        let (hidden, cache) = self.trunk(ids, &pos, mask, None);
        let (logits, _) = self.heads(&hidden.select(1, lc - 1));
        Decoded { logits, cache }
    }

    fn decode_step(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        key_mask: &Tensor,
        cache: &KvCache,
    ) -> Decoded {
        let f = self.forward(ids, positions, key_mask, Some(cache));
        Decoded {
            logits: f.logits.select(1, 0),
            cache: f.cache,
        }
    }

    fn hf_config(&self) -> serde_json::Value {
        self.cfg.to_hf_json()
    }

    fn param_group(name: &str) -> ParamGroup {
        group_by_name(
            name,
            "transformer.h.",
            &["transformer.wte.weight", "transformer.wpe.weight"],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::causal_lm::CausalLm;
    use tch::Device;
    use tch::Kind;

    fn tiny() -> Gpt2Config {
        Gpt2Config {
            vocab_size: 50,
            n_positions: 32,
            n_embd: 16,
            n_layer: 2,
            n_head: 2,
            n_inner: None,
            layer_norm_epsilon: 1e-5,
            activation_function: "gelu_new".into(),
        }
    }

    /// A tiny model initialised from `seed`, and two rows `[2, 5]` with their mask, the
    /// second left-padded by two.
    fn model_and_two_rows(seed: i64) -> (Gpt2Model, Tensor, Tensor) {
        tch::manual_seed(seed);
        let m = Gpt2Model::new(&tiny(), Device::Cpu).unwrap();
        let ids = Tensor::from_slice(&[5i64, 6, 7, 8, 9, 0, 0, 3, 4, 10]).view([2, 5]);
        let mask = Tensor::from_slice(&[1i64, 1, 1, 1, 1, 0, 0, 1, 1, 1]).view([2, 5]);
        (m, ids, mask)
    }

    #[test]
    fn cached_decoding_equals_the_full_forward() {
        let (m, ids, mask) = model_and_two_rows(0);
        let full = m.net.forward_full(&ids, &mask);
        let pos = positions_from_mask(&mask);
        let first = m.net.forward(
            &ids.narrow(1, 0, 3),
            &pos.narrow(1, 0, 3),
            &mask.narrow(1, 0, 3),
            None,
        );
        let mut cache = first.cache;
        let mut last = first.logits.narrow(1, 2, 1);
        for t in 3..5 {
            let f = m.net.forward(
                &ids.narrow(1, t, 1),
                &pos.narrow(1, t, 1),
                &mask.narrow(1, 0, t + 1),
                Some(&cache),
            );
            cache = f.cache;
            last = f.logits;
            let want = full.logits.narrow(1, t, 1);
            let diff = (&last - &want).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "t={t}: {diff}");
        }
        assert_eq!(last.size(), vec![2, 1, 50]);
    }

    #[test]
    fn the_windowed_forward_is_that_window_of_the_full_forward() {
        let (m, ids, mask) = model_and_two_rows(2);
        let full = m.net.forward_full(&ids, &mask);
        let w = m.net.forward_window(&ids, &mask, 2, 3);
        assert_eq!(w.logits.size(), vec![2, 3, 50]);
        assert_eq!(w.values.size(), vec![2, 3]);
        let dl = (&w.logits - full.logits.narrow(1, 2, 3)).abs().max();
        let dv = (&w.values - full.values.narrow(1, 2, 3)).abs().max();
        assert!(dl.double_value(&[]) < 1e-6 && dv.double_value(&[]) < 1e-6);
    }

    #[test]
    fn a_forward_split_at_any_block_equals_the_whole_forward() {
        let (m, ids, mask) = model_and_two_rows(5);
        // The oracle: the cached-decoding forward over every block at once.
        let full = m.net.forward_full(&ids, &mask);
        for k in 0..=2 {
            let lower = m.lower(&ids, &mask, k);
            assert_eq!(lower.size(), vec![2, 5, 16]);
            let w = m.window_from(&lower, &mask, k, 1, 4);
            let dl = (&w.logits - full.logits.narrow(1, 1, 4)).abs().max();
            let dv = (&w.values - full.values.narrow(1, 1, 4)).abs().max();
            assert!(
                dl.double_value(&[]) < 1e-5 && dv.double_value(&[]) < 1e-5,
                "k={k}"
            );
        }
    }

    #[test]
    fn left_padding_does_not_change_a_row() {
        tch::manual_seed(1);
        let m = Gpt2Model::new(&tiny(), Device::Cpu).unwrap();
        let a = m.net.forward_full(
            &Tensor::from_slice(&[3i64, 4, 10]).view([1, 3]),
            &Tensor::ones([1, 3], (Kind::Int64, Device::Cpu)),
        );
        let b = m.net.forward_full(
            &Tensor::from_slice(&[0i64, 0, 3, 4, 10]).view([1, 5]),
            &Tensor::from_slice(&[0i64, 0, 1, 1, 1]).view([1, 5]),
        );
        let diff = (a.logits - b.logits.narrow(1, 2, 3))
            .abs()
            .max()
            .double_value(&[]);
        assert!(diff < 1e-5, "{diff}");
    }

    #[test]
    fn bad_configs_are_refused() {
        let mut c = tiny();
        c.n_head = 3;
        assert!(c.validate().unwrap_err().to_string().contains("multiple"));
        let mut c = tiny();
        c.activation_function = "relu".into();
        assert!(c.validate().unwrap_err().to_string().contains("relu"));
    }
}
