//! Adam with its state in named tensors (so a checkpoint holds it and a resumed run
//! continues exactly), and global-norm gradient clipping.

use crate::error::TrainerError;
use std::collections::BTreeMap;
use tch::{nn, Kind, Tensor};

/// Adam (Kingma & Ba) over the trainable variables of a store, in name order.
#[derive(Debug)]
pub struct Adam {
    params: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    /// Steps taken.
    pub step: i64,
    /// Steps each variable took (a variable left out of [`Adam::step_only`] keeps its
    /// own count, so its bias correction is that of its own first step when it starts).
    steps: Vec<i64>,
    /// Learning rate.
    pub lr: f64,
    /// Per variable: its learning rate over `lr` (1 unless [`Adam::set_lr_of`] set it).
    lr_scale: Vec<f64>,
    beta1: f64,
    beta2: f64,
    eps: f64,
}

impl Adam {
    /// Adam over `vs`'s trainable variables with betas (0.9, 0.999) and eps 1e-8.
    pub fn new(vs: &nn::VarStore, lr: f64) -> Self {
        let vars: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
        let params: Vec<(String, Tensor)> = vars
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        let m = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let v = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let n = params.len();
        Adam {
            params,
            m,
            v,
            step: 0,
            steps: vec![0; n],
            lr,
            lr_scale: vec![1.0; n],
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// Zeroes every gradient.
    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    /// Scales the gradients so their global L2 norm is at most `max_norm`; returns the
    /// norm before clipping.
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        let _g = tch::no_grad_guard();
        // One host read for the whole norm (a sync per parameter on a GPU otherwise).
        let sq: Vec<Tensor> = self
            .params
            .iter()
            .map(|(_, p)| p.grad())
            .filter(|g| g.defined())
            .map(|g| g.square().sum(Kind::Double))
            .collect();
        if sq.is_empty() {
            return 0.0;
        }
        let norm = Tensor::stack(&sq, 0)
            .sum(Kind::Double)
            .sqrt()
            .double_value(&[]);
        if max_norm > 0.0 && norm > max_norm {
            let s = max_norm / (norm + 1e-6);
            for (_, p) in &self.params {
                let mut g = p.grad();
                if g.defined() {
                    let _ = g.g_mul_scalar_(s);
                }
            }
        }
        norm
    }

    /// Gives the variables whose names start with `prefix` the learning rate `lr`
    /// (while [`Adam::lr`] is the base rate: a later change of `lr` scales theirs too).
    /// Returns how many variables it set.
    pub fn set_lr_of(&mut self, prefix: &str, lr: f64) -> usize {
        let mut n = 0;
        for (i, (name, _)) in self.params.iter().enumerate() {
            if name.starts_with(prefix) {
                self.lr_scale[i] = lr / self.lr;
                n += 1;
            }
        }
        n
    }

    /// One Adam step from the current gradients.
    pub fn step(&mut self) {
        self.step_only(|_| true);
    }

    /// One Adam step of the variables whose names `keep` accepts; the others stay as
    /// they are, moments included.
    pub fn step_only(&mut self, keep: impl Fn(&str) -> bool) {
        let _g = tch::no_grad_guard();
        self.step += 1;
        for (i, (name, p)) in self.params.iter_mut().enumerate() {
            let g = p.grad();
            if !g.defined() || !keep(name) {
                continue;
            }
            self.steps[i] += 1;
            let bc1 = 1.0 - self.beta1.powi(self.steps[i] as i32);
            let bc2 = 1.0 - self.beta2.powi(self.steps[i] as i32);
            let lr = self.lr * self.lr_scale[i];
            // torch.optim.Adam's arithmetic, in place where it can be (two temporaries
            // per variable): m += (1-b1)(g-m); v += (1-b2)(g^2-v);
            // p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps), the last as one addcdiv with
            // the step folded into the denominator.
            let _ = self.m[i].lerp_(&g, 1.0 - self.beta1);
            let _ = self.v[i].lerp_(&g.square(), 1.0 - self.beta2);
            let mut denom = self.v[i].sqrt();
            let _ = denom.g_div_scalar_(bc2.sqrt());
            let _ = denom.g_add_scalar_(self.eps);
            let _ = denom.g_mul_scalar_(-bc1 / lr);
            let _ = p.addcdiv_(&self.m[i], &denom);
        }
    }

    /// The state as named tensors (`m.<var>`, `v.<var>`, `step`, and `steps`: each
    /// variable's own count in name order).
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.params.len() + 2);
        for (i, (name, _)) in self.params.iter().enumerate() {
            out.push((format!("m.{name}"), self.m[i].shallow_clone()));
            out.push((format!("v.{name}"), self.v[i].shallow_clone()));
        }
        out.push(("step".into(), Tensor::from_slice(&[self.step])));
        out.push(("steps".into(), Tensor::from_slice(&self.steps)));
        out
    }

    /// Restores a state written by [`Adam::state`] for the same variables.
    pub fn load_state(&mut self, tensors: Vec<(String, Tensor)>) -> Result<(), TrainerError> {
        let mut by: BTreeMap<String, Tensor> = tensors.into_iter().collect();
        let _g = tch::no_grad_guard();
        for (i, (name, p)) in self.params.iter().enumerate() {
            for (slot, prefix) in [(&mut self.m[i], "m"), (&mut self.v[i], "v")] {
                let key = format!("{prefix}.{name}");
                let t = by.remove(&key).ok_or_else(|| {
                    TrainerError::Checkpoint(format!("optimizer state lacks {key}"))
                })?;
                if t.size() != p.size() {
                    return Err(TrainerError::Checkpoint(format!(
                        "optimizer state {key} has shape {:?}, the model {:?}",
                        t.size(),
                        p.size()
                    )));
                }
                slot.copy_(&t);
            }
        }
        let step = by
            .remove("step")
            .ok_or_else(|| TrainerError::Checkpoint("optimizer state lacks step".into()))?;
        self.step = step.int64_value(&[0]);
        // A state written before per-variable counts: every variable took every step.
        self.steps = match by.remove("steps") {
            Some(t) => {
                let v: Vec<i64> = Vec::try_from(&t)?;
                if v.len() != self.params.len() {
                    return Err(TrainerError::Checkpoint(format!(
                        "optimizer state has {} step counts for {} variables",
                        v.len(),
                        self.params.len()
                    )));
                }
                v
            }
            None => vec![self.step; self.params.len()],
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_minimises_a_quadratic_and_its_state_round_trips() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let x = vs.root().var("x", &[2], nn::Init::Const(3.0));
        let mut opt = Adam::new(&vs, 0.1);
        for _ in 0..300 {
            opt.zero_grad();
            let loss = (&x - Tensor::from_slice(&[1.0f32, -2.0]))
                .square()
                .sum(Kind::Float);
            loss.backward();
            opt.step();
        }
        let got: Vec<f32> = Vec::try_from(&x.detach()).unwrap();
        assert!(
            (got[0] - 1.0).abs() < 1e-2 && (got[1] + 2.0).abs() < 1e-2,
            "{got:?}"
        );
        let st = opt.state();
        let mut other = Adam::new(&vs, 0.1);
        other.load_state(st).unwrap();
        assert_eq!(other.step, 300);
        assert!(other.m[0].allclose(&opt.m[0], 0.0, 0.0, false));
        assert!(other.load_state(vec![]).is_err());
    }

    #[test]
    fn a_variable_left_out_keeps_its_moments_and_starts_with_its_own_bias_correction() {
        // x trains alone for 5 steps, then y's first step must equal a fresh Adam's
        // first step (3 - lr * g / (|g| + eps)) at y's own rate, 0.05.
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let x = vs.root().var("x", &[1], nn::Init::Const(3.0));
        let y = vs.root().var("y", &[1], nn::Init::Const(3.0));
        let mut opt = Adam::new(&vs, 0.1);
        assert_eq!(opt.set_lr_of("y", 0.05), 1);
        for _ in 0..5 {
            opt.zero_grad();
            ((&x - 1.0).square() + (&y - 1.0).square())
                .sum(Kind::Float)
                .backward();
            opt.step_only(|n| n == "x");
        }
        assert_eq!(y.double_value(&[0]), 3.0);
        opt.zero_grad();
        (&y - 1.0).square().sum(Kind::Float).backward();
        opt.step();
        assert!((y.double_value(&[0]) - 2.95).abs() < 1e-6, "{y}");
        // The counts survive a round trip.
        let mut other = Adam::new(&vs, 0.1);
        other.load_state(opt.state()).unwrap();
        assert_eq!(other.steps, opt.steps);
    }

    #[test]
    fn adam_matches_the_hand_derived_first_two_steps() {
        // loss (x-1)^2 from x = 3, lr 0.1: g = 4 then 3.8; Kingma & Ba with bias
        // correction gives x1 = 3 - 0.1 * 4/(4 + eps) and x2 below (derived in f64).
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let x = vs.root().var("x", &[1], nn::Init::Const(3.0));
        let mut opt = Adam::new(&vs, 0.1);
        let mut got = Vec::new();
        for _ in 0..2 {
            opt.zero_grad();
            (&x - 1.0).square().sum(Kind::Float).backward();
            opt.step();
            got.push(x.double_value(&[0]));
        }
        assert!((got[0] - 2.90000000025).abs() < 1e-6, "{got:?}");
        assert!((got[1] - 2.800166486115701).abs() < 1e-6, "{got:?}");
    }
}
