//! Llama-family models in tch, a [`Network`] behind
//! [`CausalLm`](crate::causal_lm::CausalLm): RMSNorm, rotary position embeddings,
//! grouped-query attention, a SwiGLU MLP, a tied or untied LM head, a KV cache for
//! decoding and a scalar value head; Qwen2 is the same network with q/k/v biases.
//!
//! Parameter names follow `LlamaForCausalLM` (`model.layers.0.self_attn.q_proj.weight`,
//! ...), so our checkpoints are Hugging Face checkpoints and the reverse. Linear weights
//! are `[out, in]`: `y = x W^T + b`.

use crate::causal_lm::{
    attention_bias, group_by_name, positions_from_mask, value_head, Decoded, Dims, KvCache,
    ParamGroup, Window,
};
use crate::error::ModelError;
use crate::hf_model::{HfModel, Network};
use crate::llama_config::LlamaConfig;
use crate::safetensors::HfNames;
use std::path::Path;
use tch::nn::{self, Init, Module};
use tch::{Kind, Tensor};

const INIT: Init = Init::Randn {
    mean: 0.0,
    stdev: 0.02,
};

fn linear(p: nn::Path<'_>, d_in: i64, d_out: i64, bias: bool) -> nn::Linear {
    nn::linear(
        p,
        d_in,
        d_out,
        nn::LinearConfig {
            ws_init: INIT,
            bs_init: Some(Init::Const(0.0)),
            bias,
        },
    )
}

/// RMSNorm: `y = w * x / sqrt(mean(x^2) + eps)` over the last dimension, computed in f32
/// (as `LlamaRMSNorm`).
#[derive(Debug)]
struct RmsNorm {
    w: Tensor,
    eps: f64,
}

impl RmsNorm {
    fn new(p: nn::Path<'_>, dim: i64, eps: f64) -> Self {
        RmsNorm {
            w: p.var("weight", &[dim], Init::Const(1.0)),
            eps,
        }
    }
    fn forward(&self, x: &Tensor) -> Tensor {
        let kind = x.kind();
        let xf = x.to_kind(Kind::Float);
        let var = xf.pow_tensor_scalar(2).mean_dim(-1, true, Kind::Float);
        let normed = (xf * (var + self.eps).rsqrt()).to_kind(kind);
        &self.w * normed
    }
}

#[derive(Debug)]
struct Block {
    input_layernorm: RmsNorm,
    q_proj: nn::Linear,
    k_proj: nn::Linear,
    v_proj: nn::Linear,
    o_proj: nn::Linear,
    post_attention_layernorm: RmsNorm,
    gate_proj: nn::Linear,
    up_proj: nn::Linear,
    down_proj: nn::Linear,
}

/// `[.., d]` -> `[-x2, x1]` with `x1, x2` the two halves (`rotate_half`).
fn rotate_half(x: &Tensor) -> Tensor {
    let d = x.size()[x.dim() - 1];
    let halves = x.split(d / 2, -1);
    Tensor::cat(&[-&halves[1], halves[0].shallow_clone()], -1)
}

/// What every block of one forward shares ([`Llama::attention_inputs`]).
struct Attention {
    cos: Tensor,
    sin: Tensor,
    bias: Tensor,
}

/// A Llama-family trunk with its LM head and a value head.
#[derive(Debug)]
pub struct Llama {
    /// Architecture.
    pub cfg: LlamaConfig,
    embed_tokens: Tensor,
    blocks: Vec<Block>,
    norm: RmsNorm,
    /// `None` when tied to the token embedding.
    lm_head: Option<Tensor>,
    v_head: nn::Linear,
    /// `[head_dim / 2]` RoPE frequencies `theta^(-2i / head_dim)` (f32).
    inv_freq: Tensor,
}

impl Llama {
    /// Creates the variables under `vs` (normal(0, 0.02) weights, zero biases, unit norms).
    pub fn new(vs: &nn::Path<'_>, cfg: &LlamaConfig) -> Self {
        let m = vs / "model";
        let (e, hd) = (cfg.hidden_size, cfg.head_dim);
        let (qd, kvd) = (cfg.num_attention_heads * hd, cfg.num_key_value_heads * hd);
        let blocks = (0..cfg.num_hidden_layers)
            .map(|i| {
                let l = &m / "layers" / i;
                let a = &l / "self_attn";
                let f = &l / "mlp";
                Block {
                    input_layernorm: RmsNorm::new(&l / "input_layernorm", e, cfg.rms_norm_eps),
                    q_proj: linear(&a / "q_proj", e, qd, cfg.qkv_bias),
                    k_proj: linear(&a / "k_proj", e, kvd, cfg.qkv_bias),
                    v_proj: linear(&a / "v_proj", e, kvd, cfg.qkv_bias),
                    o_proj: linear(&a / "o_proj", qd, e, cfg.o_bias),
                    post_attention_layernorm: RmsNorm::new(
                        &l / "post_attention_layernorm",
                        e,
                        cfg.rms_norm_eps,
                    ),
                    gate_proj: linear(&f / "gate_proj", e, cfg.intermediate_size, cfg.mlp_bias),
                    up_proj: linear(&f / "up_proj", e, cfg.intermediate_size, cfg.mlp_bias),
                    down_proj: linear(&f / "down_proj", cfg.intermediate_size, e, cfg.mlp_bias),
                }
            })
            .collect();
        let lm_head = (!cfg.tie_word_embeddings)
            .then(|| (vs / "lm_head").var("weight", &[cfg.vocab_size, e], INIT));
        // As transformers: theta ** (arange(0, d, 2) / d) in f32.
        let inv: Vec<f32> = (0..hd / 2)
            .map(|i| 1.0 / (cfg.rope_theta as f32).powf((2 * i) as f32 / hd as f32))
            .collect();
        Llama {
            cfg: cfg.clone(),
            embed_tokens: (&m / "embed_tokens").var("weight", &[cfg.vocab_size, e], INIT),
            blocks,
            norm: RmsNorm::new(&m / "norm", e, cfg.rms_norm_eps),
            lm_head,
            v_head: value_head(vs / "v_head", e),
            inv_freq: Tensor::from_slice(&inv).to_device(vs.device()),
        }
    }

    /// The LM logits `[.., vocab]` and the values `[..]` of final hidden states.
    pub fn heads(&self, hidden: &Tensor) -> (Tensor, Tensor) {
        let w = self.lm_head.as_ref().unwrap_or(&self.embed_tokens);
        (
            hidden.matmul(&w.tr()),
            hidden.apply(&self.v_head).squeeze_dim(-1),
        )
    }

    /// `cos`, `sin` `[B, 1, T, head_dim]` of `positions` `[B, T]`.
    fn rope(&self, positions: &Tensor, kind: Kind) -> (Tensor, Tensor) {
        let freqs = positions.to_kind(Kind::Float).unsqueeze(-1) * &self.inv_freq;
        let emb = Tensor::cat(&[&freqs, &freqs], -1).unsqueeze(1);
        (emb.cos().to_kind(kind), emb.sin().to_kind(kind))
    }

    /// What every block of one forward shares: RoPE `cos`/`sin` `[B, 1, T, head_dim]`
    /// of `positions` `[B, T]` and the additive attention bias `[B, 1, T, past + T]`
    /// (causal, and 0 only where `key_mask` `[B, past + T]` is 1).
    fn attention_inputs(
        &self,
        positions: &Tensor,
        key_mask: &Tensor,
        past: i64,
        kind: Kind,
    ) -> Attention {
        let t = positions.size()[1];
        let (cos, sin) = self.rope(positions, kind);
        let bias = attention_bias(key_mask, past, t, kind);
        Attention { cos, sin, bias }
    }

    /// Block `i` on `x` `[B, T, hidden]`, with the block's cached keys and values
    /// prepended when given; returns its output and its keys and values.
    fn block(
        &self,
        i: usize,
        x: &Tensor,
        att_in: &Attention,
        cached: Option<&(Tensor, Tensor)>,
    ) -> (Tensor, (Tensor, Tensor)) {
        let blk = &self.blocks[i];
        let (b, t, _) = x.size3().expect("hidden states must be [B, T, hidden]");
        let (h, kvh, d) = (
            self.cfg.num_attention_heads,
            self.cfg.num_key_value_heads,
            self.cfg.head_dim,
        );
        let rep = h / kvh;
        let hn = blk.input_layernorm.forward(x);
        let split = |z: Tensor, n: i64| z.view([b, t, n, d]).transpose(1, 2);
        let q = split(hn.apply(&blk.q_proj), h);
        let k = split(hn.apply(&blk.k_proj), kvh);
        let v = split(hn.apply(&blk.v_proj), kvh);
        let q = &q * &att_in.cos + rotate_half(&q) * &att_in.sin;
        let mut k = &k * &att_in.cos + rotate_half(&k) * &att_in.sin;
        let mut v = v;
        if let Some((ck, cv)) = cached {
            k = Tensor::cat(&[ck, &k], 2);
            v = Tensor::cat(&[cv, &v], 2);
        }
        let total = k.size()[2];
        // Grouped-query attention: query head j reads key/value head j / rep.
        let expand = |z: &Tensor| {
            if rep == 1 {
                z.shallow_clone()
            } else {
                z.unsqueeze(2)
                    .expand([b, kvh, rep, total, d], false)
                    .reshape([b, h, total, d])
            }
        };
        let scale = 1.0 / (d as f64).sqrt();
        let att =
            (q.matmul(&expand(&k).transpose(-2, -1)) * scale + &att_in.bias).softmax(-1, x.kind());
        let y = att
            .matmul(&expand(&v))
            .transpose(1, 2)
            .contiguous()
            .view([b, t, h * d]);
        let x = x + y.apply(&blk.o_proj);
        let hn = blk.post_attention_layernorm.forward(&x);
        let m = hn.apply(&blk.gate_proj).silu() * hn.apply(&blk.up_proj);
        (&x + blk.down_proj.forward(&m), (k, v))
    }

    /// The transformer without its heads: final hidden states `[B, T, hidden]` (after
    /// the last norm) and the extended cache. `positions` `[B, T]` are the RoPE
    /// positions of `ids` `[B, T]`; `key_mask` `[B, P + T]` (1 = attend) covers the
    /// cached and the new tokens; attention is also causal.
    pub fn trunk(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        key_mask: &Tensor,
        cache: Option<&KvCache>,
    ) -> (Tensor, KvCache) {
        let past = cache.map(|c| c[0].0.size()[2]).unwrap_or(0);
        let mut x = Tensor::embedding(&self.embed_tokens, ids, -1, false, false);
        let att_in = self.attention_inputs(positions, key_mask, past, x.kind());
        let mut new_cache = Vec::with_capacity(self.blocks.len());
        for i in 0..self.blocks.len() {
            let (y, kv) = self.block(i, &x, &att_in, cache.map(|c| &c[i]));
            x = y;
            new_cache.push(kv);
        }
        (self.norm.forward(&x), new_cache)
    }

    /// Blocks `from..to` on `x` without a cache (positions from `mask`).
    fn blocks_between(&self, x: Tensor, mask: &Tensor, from: usize, to: usize) -> Tensor {
        let att_in = self.attention_inputs(&positions_from_mask(mask), mask, 0, x.kind());
        (from..to).fold(x, |x, i| self.block(i, &x, &att_in, None).0)
    }

    /// Logits `[B, T, vocab]` of whole sequences without a cache, positions from the
    /// mask (left padding allowed).
    pub fn logits_full(&self, ids: &Tensor, mask: &Tensor) -> Tensor {
        let (hidden, _) = self.trunk(ids, &positions_from_mask(mask), mask, None);
        self.heads(&hidden).0
    }
}

/// A Llama-family model (Llama, Qwen2, SmolLM2) with its value head in its own variable
/// store.
pub type LlamaModel = HfModel<Llama>;

impl Network for Llama {
    type Config = LlamaConfig;
    /// A tied model ignores a stored `lm_head.weight`, and old exports'
    /// `rotary_emb.inv_freq` buffers are ignored.
    const NAMES: HfNames = HfNames {
        family: "Llama/Qwen2",
        ignored: |n| n == "lm_head.weight" || n.ends_with(".rotary_emb.inv_freq"),
    };

    fn validate(cfg: &LlamaConfig) -> Result<(), ModelError> {
        cfg.validate()
    }

    fn load_config(path: &Path) -> Result<LlamaConfig, ModelError> {
        LlamaConfig::load(path)
    }

    fn build(p: &nn::Path<'_>, cfg: &LlamaConfig) -> Self {
        Llama::new(p, cfg)
    }

    fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    fn model_type(&self) -> &'static str {
        self.cfg.flavor.model_type()
    }

    fn dims(&self) -> Dims {
        let c = &self.cfg;
        Dims {
            vocab: c.vocab_size,
            hidden: c.hidden_size,
            heads: c.num_attention_heads,
            layers: c.num_hidden_layers,
        }
    }

    fn max_positions(&self) -> i64 {
        self.cfg.max_position_embeddings
    }

    fn lower(&self, ids: &Tensor, mask: &Tensor, blocks: usize) -> Tensor {
        let x = Tensor::embedding(&self.embed_tokens, ids, -1, false, false);
        self.blocks_between(x, mask, 0, blocks)
    }

    fn window_from(
        &self,
        hidden: &Tensor,
        mask: &Tensor,
        blocks: usize,
        start: i64,
        len: i64,
    ) -> Window {
        let n = self.blocks.len();
        let x = self.blocks_between(hidden.shallow_clone(), mask, blocks, n);
        let (logits, values) = self.heads(&self.norm.forward(&x.narrow(1, start, len)));
        Window { logits, values }
    }

    fn prefill(&self, ids: &Tensor, mask: &Tensor) -> Decoded {
        let lc = ids.size()[1];
        let (hidden, cache) = self.trunk(ids, &positions_from_mask(mask), mask, None);
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
        let (hidden, cache) = self.trunk(ids, positions, key_mask, Some(cache));
        let (logits, _) = self.heads(&hidden.select(1, 0));
        Decoded { logits, cache }
    }

    fn hf_config(&self) -> serde_json::Value {
        self.cfg.to_hf_json()
    }

    fn param_group(name: &str) -> ParamGroup {
        group_by_name(name, "model.layers.", &["model.embed_tokens.weight"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::causal_lm::CausalLm;
    use crate::llama_config::LlamaFlavor;
    use tch::Device;

    fn tiny(flavor: LlamaFlavor, tied: bool) -> LlamaConfig {
        LlamaConfig {
            flavor,
            vocab_size: 50,
            hidden_size: 32,
            intermediate_size: 40,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            num_key_value_heads: 2,
            head_dim: 8,
            rms_norm_eps: 1e-5,
            rope_theta: 10000.0,
            max_position_embeddings: 64,
            tie_word_embeddings: tied,
            qkv_bias: flavor == LlamaFlavor::Qwen2,
            o_bias: false,
            mlp_bias: false,
            bos_token_id: None,
            eos_token_id: None,
        }
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    #[test]
    fn prefill_then_decode_equals_the_window_of_the_full_forward() {
        for (flavor, tied) in [(LlamaFlavor::Llama, true), (LlamaFlavor::Qwen2, false)] {
            tch::manual_seed(3);
            let m = LlamaModel::new(&tiny(flavor, tied), Device::Cpu).unwrap();
            let ids = Tensor::from_slice(&[5i64, 6, 7, 8, 9, 0, 0, 3, 4, 10]).view([2, 5]);
            let mask = Tensor::from_slice(&[1i64, 1, 1, 1, 1, 0, 0, 1, 1, 1]).view([2, 5]);
            let full = m.window(&ids, &mask, 0, 5);
            let pos = positions_from_mask(&mask);
            let first = m.prefill(&ids.narrow(1, 0, 3), &mask.narrow(1, 0, 3));
            assert!(max_diff(&first.logits, &full.logits.select(1, 2)) < 1e-5);
            let mut cache = first.cache;
            for t in 3..5 {
                let d = m.decode_step(
                    &ids.narrow(1, t, 1),
                    &pos.narrow(1, t, 1),
                    &mask.narrow(1, 0, t + 1),
                    &cache,
                );
                cache = d.cache;
                let diff = max_diff(&d.logits, &full.logits.select(1, t));
                assert!(diff < 1e-5, "{flavor:?} t={t}: {diff}");
            }
            let w = m.window(&ids, &mask, 2, 3);
            assert!(max_diff(&w.values, &full.values.narrow(1, 2, 3)) < 1e-6);
            // The cache holds the key/value heads only.
            assert_eq!(cache[0].0.size(), vec![2, 2, 5, 8]);
        }
    }

    #[test]
    fn a_forward_split_at_any_block_equals_the_whole_forward() {
        for (flavor, tied) in [(LlamaFlavor::Llama, true), (LlamaFlavor::Qwen2, false)] {
            tch::manual_seed(4);
            let m = LlamaModel::new(&tiny(flavor, tied), Device::Cpu).unwrap();
            let ids = Tensor::from_slice(&[5i64, 6, 7, 8, 9, 0, 0, 3, 4, 10]).view([2, 5]);
            let mask = Tensor::from_slice(&[1i64, 1, 1, 1, 1, 0, 0, 1, 1, 1]).view([2, 5]);
            // The oracle: the cached-decoding trunk (one pass over every block) + heads.
            let (hidden, _) = m.net.trunk(&ids, &positions_from_mask(&mask), &mask, None);
            let (logits, values) = m.net.heads(&hidden.narrow(1, 1, 4));
            for k in 0..=2 {
                let lower = m.lower(&ids, &mask, k);
                assert_eq!(lower.size(), vec![2, 5, 32]);
                let w = m.window_from(&lower, &mask, k, 1, 4);
                let (dl, dv) = (max_diff(&w.logits, &logits), max_diff(&w.values, &values));
                assert!(dl < 1e-5 && dv < 1e-5, "{flavor:?} k={k}: {dl} {dv}");
            }
        }
    }

    #[test]
    fn left_padding_does_not_change_a_row() {
        tch::manual_seed(1);
        let m = LlamaModel::new(&tiny(LlamaFlavor::Llama, true), Device::Cpu).unwrap();
        let a = m.net.logits_full(
            &Tensor::from_slice(&[3i64, 4, 10]).view([1, 3]),
            &Tensor::ones([1, 3], (Kind::Int64, Device::Cpu)),
        );
        let b = m.net.logits_full(
            &Tensor::from_slice(&[0i64, 0, 3, 4, 10]).view([1, 5]),
            &Tensor::from_slice(&[0i64, 0, 1, 1, 1]).view([1, 5]),
        );
        assert!(max_diff(&a, &b.narrow(1, 2, 3)) < 1e-5);
    }

    #[test]
    fn tied_models_have_no_lm_head_and_frozen_copies_agree() {
        let m = LlamaModel::new(&tiny(LlamaFlavor::Llama, true), Device::Cpu).unwrap();
        let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert!(!names.iter().any(|n| n.starts_with("lm_head")));
        assert!(names.contains(&"model.layers.1.mlp.gate_proj.weight".to_string()));
        let q = LlamaModel::new(&tiny(LlamaFlavor::Qwen2, false), Device::Cpu).unwrap();
        let names: Vec<String> = q.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"lm_head.weight".to_string()));
        assert!(names.contains(&"model.layers.0.self_attn.q_proj.bias".to_string()));
        assert!(!names.contains(&"model.layers.0.self_attn.o_proj.bias".to_string()));
        let f = q.frozen_copy().unwrap();
        let ids = Tensor::from_slice(&[1i64, 2, 3]).view([1, 3]);
        let mask = Tensor::ones([1, 3], (Kind::Int64, Device::Cpu));
        assert_eq!(
            max_diff(
                &q.window(&ids, &mask, 0, 3).logits,
                &f.window(&ids, &mask, 0, 3).logits
            ),
            0.0
        );
    }

    #[test]
    fn training_the_top_block_leaves_the_rest_untouched_by_a_step() {
        use crate::causal_lm::train_top_blocks;
        use tch::nn::OptimizerConfig;
        tch::manual_seed(5);
        let m = LlamaModel::new(&tiny(LlamaFlavor::Qwen2, false), Device::Cpu).unwrap();
        assert!(
            train_top_blocks(&m, 3).is_err(),
            "the tiny model has 2 blocks"
        );
        let trained = train_top_blocks(&m, 1).unwrap();
        let before = m.named_parameters();
        let expected: i64 = before
            .iter()
            .filter(|(n, _)| !n.starts_with("model.layers.0.") && n != "model.embed_tokens.weight")
            .map(|(_, t)| t.numel() as i64)
            .sum();
        assert_eq!(trained as i64, expected);
        let before: Vec<(String, Tensor)> = before
            .into_iter()
            .map(|(n, t)| (n, t.detach().copy()))
            .collect();
        let mut opt = tch::nn::Adam::default().build(m.vars(), 0.1).unwrap();
        let ids = Tensor::from_slice(&[1i64, 2, 3, 4]).view([1, 4]);
        let mask = Tensor::ones([1, 4], (Kind::Int64, Device::Cpu));
        let w = m.window(&ids, &mask, 0, 4);
        // Values against 1: the value head starts at 0, where a loss of V^2 has no
        // gradient.
        (w.logits.square().mean(Kind::Float) + (w.values - 1.0).square().mean(Kind::Float))
            .backward();
        opt.step();
        for ((name, old), (_, new)) in before.iter().zip(m.named_parameters()) {
            let moved = max_diff(old, &new) > 0.0;
            let frozen = name.starts_with("model.layers.0.") || name == "model.embed_tokens.weight";
            assert_eq!(moved, !frozen, "{name}");
        }
        // 0 trains everything again.
        assert_eq!(train_top_blocks(&m, 0).unwrap(), m.parameter_count());
    }
}
