//! The `fastrl._fastrl` extension module: thin wrappers over `composer-core` taking flat,
//! contiguous `float32` arrays plus their shape. The Python layer (`python/fastrl`)
//! checks and converts user arrays (dtype, rank, shapes) before calling in, so every
//! function here sees clean inputs; errors from the core arrive as `ValueError` with
//! the core's message. The math runs with the GIL released.

use composer_core::{
    compose, fused_pass, gae, group_advantages, group_scratch_len, kl_penalty, reference_stats,
    AutoEta, Channel, Composer, ComposerKind, Constraint, Diagnostics, Error, FastRl, FastRlConfig,
    Fixed, FusedInputs, FusedOutputs, FusedParams, GaeParams, GroupParams, KlEstimator, Lagrangian,
    LagrangianConfig, MaskMode, Shape, Smoothing, Squash, RECORD_LEN,
};
mod defaults;

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

fn err(e: Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Parses a name with the core's one mapping for its enum; the error names the argument
/// and the accepted names.
fn parse<T: std::str::FromStr<Err = Error>>(arg: &str, value: &str) -> PyResult<T> {
    value
        .parse()
        .map_err(|e: Error| PyValueError::new_err(format!("`{arg}` = {value:?}: {e}")))
}

fn slice<'a>(arg: &str, a: &'a PyReadonlyArray1<'_, f32>) -> PyResult<&'a [f32]> {
    a.as_slice()
        .map_err(|_| PyValueError::new_err(format!("`{arg}` must be C-contiguous")))
}

fn mask_slice<'a>(a: &'a PyReadonlyArray1<'_, u8>) -> PyResult<&'a [u8]> {
    a.as_slice()
        .map_err(|_| PyValueError::new_err("`mask` must be C-contiguous"))
}

/// Two arrays returned together.
type Pair<'py> = (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f32>>);

/// GAE and returns on flat `[batch * len]` arrays; advantages whitened when `whiten`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn gae_flat<'py>(
    py: Python<'py>,
    rewards: PyReadonlyArray1<'py, f32>,
    values: PyReadonlyArray1<'py, f32>,
    mask: PyReadonlyArray1<'py, u8>,
    batch: usize,
    len: usize,
    gamma: f32,
    lam: f32,
    mode_name: &str,
    whiten: bool,
) -> PyResult<Pair<'py>> {
    let (r, v, m) = (
        slice("rewards", &rewards)?,
        slice("values", &values)?,
        mask_slice(&mask)?,
    );
    let md = parse::<MaskMode>("mode", mode_name)?;
    let shape = Shape::new(batch, len);
    let tokens = shape.tokens().map_err(err)?;
    let (mut a, mut ret) = (vec![0.0f32; tokens], vec![0.0f32; tokens]);
    let params = GaeParams { gamma, lambda: lam };
    py.detach(|| {
        gae(r, v, m, shape, md, params, &mut a, &mut ret)?;
        if whiten {
            composer_core::whiten(&mut a, m)?;
        }
        Ok(())
    })
    .map_err(err)?;
    Ok((PyArray1::from_vec(py, a), PyArray1::from_vec(py, ret)))
}

/// `rewards - beta * kl(logp, ref_logp)` at valid tokens; returns `(out, kl_sum)`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn kl_penalty_flat<'py>(
    py: Python<'py>,
    rewards: PyReadonlyArray1<'py, f32>,
    logp: PyReadonlyArray1<'py, f32>,
    ref_logp: PyReadonlyArray1<'py, f32>,
    mask: PyReadonlyArray1<'py, u8>,
    batch: usize,
    len: usize,
    beta: f32,
    estimator_name: &str,
    mode_name: &str,
) -> PyResult<(Bound<'py, PyArray1<f32>>, f64)> {
    let (r, lp, rl) = (
        slice("rewards", &rewards)?,
        slice("logp", &logp)?,
        slice("ref_logp", &ref_logp)?,
    );
    let m = mask_slice(&mask)?;
    let (est, md) = (
        parse::<KlEstimator>("estimator", estimator_name)?,
        parse::<MaskMode>("mode", mode_name)?,
    );
    let mut out = vec![0.0f32; Shape::new(batch, len).tokens().map_err(err)?];
    let st = py
        .detach(|| {
            kl_penalty(
                r,
                lp,
                rl,
                m,
                Shape::new(batch, len),
                md,
                beta,
                est,
                &mut out,
            )
        })
        .map_err(err)?;
    Ok((PyArray1::from_vec(py, out), st.kl_sum))
}

fn channels<'a>(
    data: &'a [PyReadonlyArray1<'_, f32>],
    dense: &[bool],
) -> PyResult<Vec<Channel<'a, f32>>> {
    data.iter()
        .zip(dense)
        .map(|(a, &d)| {
            let s = slice("rewards", a)?;
            Ok(if d {
                Channel::Dense(s)
            } else {
                Channel::Sequence(s)
            })
        })
        .collect()
}

/// Eq. (6) over channels (each flat; `dense[i]` says per-token or per-row).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn compose_flat<'py>(
    py: Python<'py>,
    rewards: Vec<PyReadonlyArray1<'py, f32>>,
    dense: Vec<bool>,
    weights: PyReadonlyArray1<'py, f32>,
    mask: PyReadonlyArray1<'py, u8>,
    batch: usize,
    len: usize,
    mode_name: &str,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    let chs = channels(&rewards, &dense)?;
    let (w, m, md) = (
        slice("weights", &weights)?,
        mask_slice(&mask)?,
        parse::<MaskMode>("mode", mode_name)?,
    );
    let mut out = vec![0.0f32; Shape::new(batch, len).tokens().map_err(err)?];
    py.detach(|| compose(&chs, w, m, Shape::new(batch, len), md, &mut out))
        .map_err(err)?;
    Ok(PyArray1::from_vec(py, out))
}

type FusedResult<'py> = (
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray1<f32>>,
    usize,
    f64,
    f64,
);

/// The fused pass; returns `(rewards, advantages, returns, valid_tokens, kl_sum, reward_sum)`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn fused_flat<'py>(
    py: Python<'py>,
    rewards: Vec<PyReadonlyArray1<'py, f32>>,
    dense: Vec<bool>,
    weights: PyReadonlyArray1<'py, f32>,
    logp: PyReadonlyArray1<'py, f32>,
    ref_logp: PyReadonlyArray1<'py, f32>,
    values: PyReadonlyArray1<'py, f32>,
    mask: PyReadonlyArray1<'py, u8>,
    batch: usize,
    len: usize,
    gamma: f32,
    lam: f32,
    beta: f32,
    estimator_name: &str,
    mode_name: &str,
) -> PyResult<FusedResult<'py>> {
    let chs = channels(&rewards, &dense)?;
    let inputs = FusedInputs {
        channels: &chs,
        weights: slice("weights", &weights)?,
        logp: slice("logp", &logp)?,
        ref_logp: slice("ref_logp", &ref_logp)?,
        values: slice("values", &values)?,
        mask: mask_slice(&mask)?,
    };
    let params = FusedParams {
        gae: GaeParams { gamma, lambda: lam },
        beta,
        estimator: parse::<KlEstimator>("estimator", estimator_name)?,
        mode: parse::<MaskMode>("mode", mode_name)?,
    };
    let tokens = Shape::new(batch, len).tokens().map_err(err)?;
    let (mut r, mut a, mut ret) = (
        vec![0.0f32; tokens],
        vec![0.0f32; tokens],
        vec![0.0f32; tokens],
    );
    let st = py
        .detach(|| {
            let mut out = FusedOutputs {
                rewards: &mut r,
                advantages: &mut a,
                returns: &mut ret,
            };
            fused_pass(&inputs, Shape::new(batch, len), &params, &mut out)
        })
        .map_err(err)?;
    Ok((
        PyArray1::from_vec(py, r),
        PyArray1::from_vec(py, a),
        PyArray1::from_vec(py, ret),
        st.valid_tokens,
        st.kl_sum,
        st.reward_sum,
    ))
}

/// Masked whitening in place semantics, returned as a new array.
#[pyfunction]
fn whiten_flat<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, f32>,
    mask: PyReadonlyArray1<'py, u8>,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    let mut v = slice("advantages", &x)?.to_vec();
    let m = mask_slice(&mask)?;
    py.detach(|| composer_core::whiten(&mut v, m))
        .map_err(err)?;
    Ok(PyArray1::from_vec(py, v))
}

/// Group-relative advantages (`composer_core::group`); returns `(advantages [batch],
/// groups, singletons, zero_variance)`. `groups` are dense ids in `0..num_groups`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn group_advantages_flat<'py>(
    py: Python<'py>,
    rewards: Vec<PyReadonlyArray1<'py, f32>>,
    dense: Vec<bool>,
    weights: PyReadonlyArray1<'py, f32>,
    groups: PyReadonlyArray1<'py, u32>,
    num_groups: usize,
    mask: PyReadonlyArray1<'py, u8>,
    batch: usize,
    len: usize,
    estimator: &str,
    scale: &str,
    convention: &str,
    whiten: Option<bool>,
    group_size: Option<usize>,
) -> PyResult<(Bound<'py, PyArray1<f32>>, usize, usize, usize)> {
    let chs = channels(&rewards, &dense)?;
    let (w, m) = (slice("weights", &weights)?, mask_slice(&mask)?);
    let groups = groups
        .as_slice()
        .map_err(|_| PyValueError::new_err("`groups` must be C-contiguous"))?;
    let mut params = GroupParams::new(
        parse("estimator", estimator)?,
        parse("convention", convention)?,
    );
    params.scale = parse("scale", scale)?;
    if let Some(wh) = whiten {
        params.whiten = wh;
    }
    params.group_size = group_size;
    let mut scratch = vec![0.0f64; group_scratch_len(batch, num_groups)];
    let mut out = vec![0.0f32; batch];
    let st = py
        .detach(|| {
            group_advantages(
                &chs,
                w,
                groups,
                num_groups,
                m,
                Shape::new(batch, len),
                &params,
                &mut scratch,
                &mut out,
            )
        })
        .map_err(err)?;
    Ok((
        PyArray1::from_vec(py, out),
        st.groups,
        st.singletons,
        st.zero_variance,
    ))
}

/// Per reward, mean and unbiased std of calibration scores (`scores[i]` one reward's).
#[pyfunction]
fn reference_stats_flat(scores: Vec<Vec<f32>>) -> PyResult<(Vec<f32>, Vec<f32>)> {
    let views: Vec<&[f32]> = scores.iter().map(Vec::as_slice).collect();
    let mut mean = vec![0.0f32; views.len()];
    let mut std = vec![0.0f32; views.len()];
    reference_stats(&views, &mut mean, &mut std).map_err(err)?;
    Ok((mean, std))
}

/// A composer behind the core's `Composer` trait.
#[pyclass(module = "fastrl._fastrl")]
struct RawComposer(Box<dyn Composer + Send + Sync>);

impl RawComposer {
    fn other(c: impl Composer + Send + Sync + 'static) -> Self {
        RawComposer(Box::new(c))
    }

    fn get(&self) -> &dyn Composer {
        self.0.as_ref()
    }

    fn get_mut(&mut self) -> &mut dyn Composer {
        self.0.as_mut()
    }

    /// The composer, when it is Fast RL (the methods only Fast RL has in Python).
    fn fast(&mut self) -> PyResult<&mut dyn Composer> {
        if self.0.kind() == ComposerKind::FastRl {
            Ok(self.0.as_mut())
        } else {
            Err(PyValueError::new_err(
                "only a Fast RL composer has reference statistics and a composition",
            ))
        }
    }
}

#[pymethods]
impl RawComposer {
    /// Fast RL (Eq. (4)-(5)) with every option of `FastRlConfig`; `horizon > 0` selects
    /// eta "auto" (Hedge's rate for `horizon` updates of signals in a range of width
    /// `signal_range`).
    #[staticmethod]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (n, eta, temperature, bias, smoothing, a, b, normalization, floor,
        compose_on, rule, radius, averaging, horizon, signal_range))]
    fn fastrl(
        n: usize,
        eta: f32,
        temperature: f32,
        bias: Option<Vec<f32>>,
        smoothing: &str,
        a: f32,
        b: f32,
        normalization: &str,
        floor: f32,
        compose_on: &str,
        rule: &str,
        radius: f32,
        averaging: bool,
        horizon: u64,
        signal_range: f32,
    ) -> PyResult<Self> {
        let cfg = FastRlConfig {
            eta,
            eta_auto: (horizon > 0).then_some(AutoEta {
                horizon,
                range: signal_range,
            }),
            temperature,
            smoothing: Smoothing::from_parts(parse("smoothing", smoothing)?, a, b),
            normalization: parse("normalization", normalization)?,
            compose_on: parse("compose_on", compose_on)?,
            rule: parse("rule", rule)?,
            radius,
            averaging,
            floor,
        };
        let mut c = FastRl::new(n, cfg).map_err(err)?;
        if let Some(bias) = bias {
            c = c.with_bias(&bias).map_err(err)?;
        }
        Ok(RawComposer::other(c))
    }

    /// Fast RL only: sets the reference statistics (mean, per-response std per reward).
    fn set_reference(&mut self, mean: Vec<f32>, std: Vec<f32>) -> PyResult<()> {
        self.fast()?.set_reference(&mean, &std).map_err(err)
    }

    /// Fast RL only: the reference statistics `(mean, std)`, or None before calibration.
    fn reference(&mut self) -> PyResult<Option<(Vec<f64>, Vec<f64>)>> {
        Ok(self
            .fast()?
            .reference()
            .map(|(m, s)| (m.to_vec(), s.to_vec())))
    }

    /// Fast RL only: Eq. (6)'s weights on the raw rewards and the batch-constant offset.
    fn composition<'py>(&mut self, py: Python<'py>) -> PyResult<(Bound<'py, PyArray1<f32>>, f32)> {
        let c = self.fast()?;
        let mut w = vec![0.0f32; c.num_rewards()];
        let offset = c.composition(&mut w).map_err(err)?;
        Ok((PyArray1::from_vec(py, w), offset))
    }

    /// Fast RL only: the step size in effect.
    fn eta(&mut self) -> PyResult<f32> {
        self.fast()?
            .step_size()
            .ok_or_else(|| PyValueError::new_err("this composer has no step size"))
    }

    /// Fixed linear weights.
    #[staticmethod]
    fn fixed(weights: Vec<f32>) -> PyResult<Self> {
        Ok(RawComposer::other(Fixed::new(&weights).map_err(err)?))
    }

    /// Reward shaping `R - alpha * C`.
    #[staticmethod]
    fn shaping(alpha: f32) -> PyResult<Self> {
        Ok(RawComposer::other(
            Fixed::reward_shaping(alpha).map_err(err)?,
        ))
    }

    /// Lagrangian; `kinds[i]` is "free", "at_least" or "at_most" with `thresholds[i]`.
    #[staticmethod]
    #[allow(clippy::too_many_arguments)]
    fn lagrangian(
        base: Vec<f32>,
        kinds: Vec<String>,
        thresholds: Vec<f32>,
        lr: f32,
        squash: &str,
        init: f32,
        max_multiplier: f32,
        normalize: bool,
    ) -> PyResult<Self> {
        if kinds.len() != thresholds.len() {
            return Err(PyValueError::new_err(format!(
                "`thresholds` has length {}, expected {}",
                thresholds.len(),
                kinds.len()
            )));
        }
        let cons = kinds
            .iter()
            .zip(&thresholds)
            .map(|(k, &t)| Ok(Constraint::new(parse("kinds", k)?, t)))
            .collect::<PyResult<Vec<_>>>()?;
        let squash: Squash = parse("squash", squash)?;
        let cfg = LagrangianConfig {
            lr,
            squash,
            init,
            max_multiplier,
            normalize,
        };
        Ok(RawComposer::other(
            Lagrangian::new(&base, &cons, cfg).map_err(err)?,
        ))
    }

    /// safe-rlhf's reward/cost Lagrangian.
    #[staticmethod]
    fn safe_rlhf(threshold: f32, lr: f32, init: f32, max_multiplier: f32) -> PyResult<Self> {
        Ok(RawComposer::other(
            Lagrangian::safe_rlhf(threshold, lr, init, max_multiplier).map_err(err)?,
        ))
    }

    /// Consumes this batch's reward means; returns the weights to compose it with.
    fn update<'py>(
        &mut self,
        py: Python<'py>,
        reward_means: Vec<f32>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let w = self.get_mut().update(&reward_means).map_err(err)?;
        Ok(PyArray1::from_slice(py, w))
    }

    /// The current weights.
    fn weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        PyArray1::from_slice(py, self.get().weights())
    }

    /// Number of rewards.
    fn num_rewards(&self) -> usize {
        self.get().num_rewards()
    }

    /// Updates done.
    fn steps(&self) -> u64 {
        self.get().steps()
    }

    /// The state record as bytes.
    fn state_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let mut buf = [0u8; RECORD_LEN];
        self.get().save_bytes(None, &mut buf).map_err(err)?;
        Ok(PyBytes::new(py, &buf))
    }

    /// Restores from a state record; nothing changes on error.
    fn load_state_bytes(&mut self, record: &[u8]) -> PyResult<()> {
        self.get_mut().restore_bytes(None, record).map_err(err)
    }

    /// Diagnostics of the current weights against `reward_means`.
    fn diagnostics<'py>(
        &self,
        py: Python<'py>,
        reward_means: Vec<f32>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let d: Diagnostics = self.get().diagnostics(&reward_means).map_err(err)?;
        let out = PyDict::new(py);
        out.set_item("weights", d.weights[..d.n].to_vec())?;
        out.set_item("mean", d.mean)?;
        out.set_item("min", d.min)?;
        out.set_item("argmin", d.argmin)?;
        out.set_item("disparity", d.disparity)?;
        out.set_item("composite", d.composite)?;
        out.set_item("c", d.c)?;
        out.set_item("c_bound", d.c_bound)?;
        Ok(out)
    }
}

/// `sacrebleu.sentence_bleu(hypothesis, references).score` (13a, exp smoothing).
#[pyfunction]
fn sentence_bleu(hypothesis: &str, references: Vec<String>) -> f64 {
    let refs: Vec<&str> = references.iter().map(String::as_str).collect();
    fastrl_metrics::sentence_bleu(hypothesis, &refs).score
}

/// ROUGE-L `(precision, recall, fmeasure)` as rouge-score (default tokenizer, no stemmer).
#[pyfunction]
fn rouge_l(target: &str, prediction: &str) -> (f64, f64, f64) {
    let r = fastrl_metrics::rouge_l(target, prediction);
    (r.precision, r.recall, r.fmeasure)
}

/// ROUGE-N `(precision, recall, fmeasure)` as rouge-score.
#[pyfunction]
fn rouge_n(target: &str, prediction: &str, n: usize) -> (f64, f64, f64) {
    let r = fastrl_metrics::rouge_n(target, prediction, n);
    (r.precision, r.recall, r.fmeasure)
}

/// WordNet 3.0 loaded once from a directory (e.g. Debian's `/usr/share/wordnet`).
#[pyclass(module = "fastrl._fastrl", frozen)]
struct WordNet(fastrl_metrics::WordNet);

#[pymethods]
impl WordNet {
    #[new]
    fn new(path: &str) -> PyResult<Self> {
        fastrl_metrics::WordNet::load(std::path::Path::new(path))
            .map(WordNet)
            .map_err(|e| PyValueError::new_err(format!("cannot load WordNet from {path}: {e}")))
    }

    /// Lemma names of every synset of `word` (as nltk's `wordnet.synsets`).
    fn synonyms(&self, word: &str) -> Vec<String> {
        let mut v: Vec<String> = self.0.synonyms(word).into_iter().collect();
        v.sort();
        v
    }
}

/// `nltk.translate.meteor_score.meteor_score(references, hypothesis)` over token lists,
/// with WordNet synonyms when `wordnet` is given.
#[pyfunction]
#[pyo3(signature = (references, hypothesis, wordnet=None))]
fn meteor(references: Vec<Vec<String>>, hypothesis: Vec<String>, wordnet: Option<&WordNet>) -> f64 {
    let refs: Vec<Vec<&str>> = references
        .iter()
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    let hyp: Vec<&str> = hypothesis.iter().map(String::as_str).collect();
    fastrl_metrics::meteor_with(&refs, &hyp, wordnet.map(|w| &w.0))
}

/// VADER's compound sentiment in `[-1, 1]`, as `vaderSentiment` 3.3.2's
/// `SentimentIntensityAnalyzer().polarity_scores(text)["compound"]`.
#[pyfunction]
fn vader_compound(text: &str) -> f64 {
    fastrl_metrics::vader_compound(text)
}

/// 1 when `text` has between `lo` and `hi` whitespace-separated words, else
/// `max(0, 1 - d / hi)` with `d` the distance to the band; `ValueError` unless
/// `0 <= lo <= hi` and `hi >= 1`.
#[pyfunction]
fn length_band(text: &str, lo: i64, hi: i64) -> PyResult<f64> {
    let count = |arg: &str, v: i64| {
        usize::try_from(v).map_err(|_| {
            PyValueError::new_err(format!("length_band: `{arg}` must be >= 0, got {v}"))
        })
    };
    fastrl_metrics::length_band(text, count("lo", lo)?, count("hi", hi)?)
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The extension module.
#[pymodule]
fn _fastrl(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gae_flat, m)?)?;
    m.add_function(wrap_pyfunction!(kl_penalty_flat, m)?)?;
    m.add_function(wrap_pyfunction!(compose_flat, m)?)?;
    m.add_function(wrap_pyfunction!(fused_flat, m)?)?;
    m.add_function(wrap_pyfunction!(whiten_flat, m)?)?;
    m.add_function(wrap_pyfunction!(group_advantages_flat, m)?)?;
    m.add_function(wrap_pyfunction!(reference_stats_flat, m)?)?;
    m.add_class::<RawComposer>()?;
    m.add_class::<defaults::Defaults>()?;
    m.add_function(wrap_pyfunction!(defaults::defaults, m)?)?;
    m.add_function(wrap_pyfunction!(sentence_bleu, m)?)?;
    m.add_function(wrap_pyfunction!(rouge_l, m)?)?;
    m.add_function(wrap_pyfunction!(rouge_n, m)?)?;
    m.add_function(wrap_pyfunction!(meteor, m)?)?;
    m.add_class::<WordNet>()?;
    m.add_function(wrap_pyfunction!(vader_compound, m)?)?;
    m.add_function(wrap_pyfunction!(length_band, m)?)?;
    m.add("RECORD_LEN", RECORD_LEN)?;
    m.add("MAX_REWARDS", composer_core::MAX_REWARDS)?;
    Ok(())
}
