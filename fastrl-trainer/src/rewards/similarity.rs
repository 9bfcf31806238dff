//! Rewards on all-MiniLM-L6-v2 embeddings ([`crate::rewards::encoder`]): BERTScore-style
//! F1 of token embeddings and the cosine of sentence embeddings (against the reference, or
//! against the utterance the response answers).

use crate::error::TrainerError;
use crate::rewards::encoder::{l2_normalize, Shared};
use crate::rewards::reward::{Reward, Target};
use tch::{Kind, Tensor};

/// BERTScore-style F1 between response and reference (greedy cosine matching of the
/// last layer's token embeddings, `[CLS]` and `[SEP]` excluded, no idf weighting, no
/// baseline rescaling), [`f1`] of the precision and recall. In `[0, 1]` (about
/// `[0.2, 1]` in practice); 0 for an empty response.
pub struct BertScore(pub std::sync::Arc<Shared>);

impl Reward for BertScore {
    fn name(&self) -> &str {
        "bertscore"
    }
    fn score(&self, response: &str, reference: &str) -> Result<f64, TrainerError> {
        if response.trim().is_empty() || reference.trim().is_empty() {
            return Ok(0.0);
        }
        let (h, mask) = self.0.token_embeddings(&[response, reference])?;
        let lens: Vec<i64> = Vec::try_from(&mask.sum_dim_intlist(1, false, Kind::Int64))?;
        // Tokens 1 .. len-1 (drop `[CLS]` and `[SEP]`).
        let take = |row: i64, len: i64| -> Tensor {
            l2_normalize(&h.get(row).narrow(0, 1, (len - 2).max(1)))
        };
        let (c, r) = (take(0, lens[0]), take(1, lens[1]));
        let sim = c.matmul(&r.tr());
        let p = sim
            .amax(&[1i64][..], false)
            .mean(Kind::Float)
            .double_value(&[]);
        let rc = sim
            .amax(&[0i64][..], false)
            .mean(Kind::Float)
            .double_value(&[]);
        Ok(f1(p, rc))
    }

    /// One encoder forward over all responses and references; the same F1 as
    /// [`BertScore::score`] pair by pair, with the greedy matching batched under masks.
    fn score_batch(
        &self,
        responses: &[String],
        references: &[String],
    ) -> Result<Vec<f64>, TrainerError> {
        let n = responses.len();
        let empty: Vec<bool> = responses
            .iter()
            .zip(references)
            .map(|(a, b)| a.trim().is_empty() || b.trim().is_empty())
            .collect();
        if n == 0 || empty.iter().all(|&e| e) {
            return Ok(vec![0.0; n]);
        }
        let texts: Vec<&str> = responses
            .iter()
            .chain(references)
            .map(String::as_str)
            .collect();
        let (h, mask) = self.0.token_embeddings(&texts)?;
        let _g = tch::no_grad_guard();
        let h = l2_normalize(&h);
        // Tokens 1 .. len-1 of each row (no `[CLS]`, no `[SEP]`).
        let len = mask.sum_dim_intlist(1, true, Kind::Int64);
        let pos = Tensor::arange(mask.size()[1], (Kind::Int64, mask.device())).unsqueeze(0);
        let valid = pos.ge(1).logical_and(&pos.lt_tensor(&(len - 1)));
        let ni = n as i64;
        let (c, r) = (h.narrow(0, 0, ni), h.narrow(0, ni, ni));
        let (vc, vr) = (valid.narrow(0, 0, ni), valid.narrow(0, ni, ni));
        let pair = vc.unsqueeze(2).logical_and(&vr.unsqueeze(1));
        let sim = c
            .matmul(&r.transpose(1, 2))
            .masked_fill(&pair.logical_not(), -2.0);
        let mean_max = |dim: i64, v: &Tensor| -> Tensor {
            let best = sim.amax(&[dim][..], false);
            let vf = v.to_kind(Kind::Float);
            (best * &vf).sum_dim_intlist(1, false, Kind::Double)
                / vf.sum_dim_intlist(1, false, Kind::Double).clamp_min(1.0)
        };
        let p: Vec<f64> = Vec::try_from(&mean_max(2, &vc))?;
        let rc: Vec<f64> = Vec::try_from(&mean_max(1, &vr))?;
        Ok((0..n)
            .map(|i| if empty[i] { 0.0 } else { f1(p[i], rc[i]) })
            .collect())
    }
}

/// The harmonic mean of greedy-matching precision `p` and recall `r` (means of best-match
/// cosines), each taken as 0 when negative: a side whose tokens match nothing on the
/// other better than an orthogonal vector has matched nothing. In `[0, 1]`.
///
/// Without the clamp, `2pr / (p + r)` with `p > 0 > r` and `p + r` near 0 is a large
/// negative number: in the tiny fair test one response in about 74,000 scored about -40
/// and moved a batch mean of BERTScore to -1.3.
pub fn f1(p: f64, r: f64) -> f64 {
    let (p, r) = (p.max(0.0), r.max(0.0));
    if p + r <= 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// Cosine similarity of the sentence embeddings of response and reference, in `[-1, 1]`.
pub struct Semantic(pub std::sync::Arc<Shared>);

impl Reward for Semantic {
    fn name(&self) -> &str {
        "semantic"
    }
    fn score(&self, response: &str, reference: &str) -> Result<f64, TrainerError> {
        Ok(self.score_batch(&[response.to_string()], &[reference.to_string()])?[0])
    }
    /// One batched forward over all responses and references.
    fn score_batch(
        &self,
        responses: &[String],
        references: &[String],
    ) -> Result<Vec<f64>, TrainerError> {
        let texts: Vec<&str> = responses
            .iter()
            .chain(references)
            .map(String::as_str)
            .collect();
        let n = responses.len() as i64;
        let e = self.0.sentence_embeddings(&texts)?;
        let cos = (e.narrow(0, 0, n) * e.narrow(0, n, n)).sum_dim_intlist(-1, false, Kind::Double);
        Ok(Vec::try_from(&cos)?)
    }
}

/// Relevance: [`Semantic`]'s cosine between the response and the utterance it answers
/// (the context's last turn), in `[-1, 1]`. Reference-free: the policy moves it by
/// staying on the topic it was given.
pub struct Relevance(pub Semantic);

impl Reward for Relevance {
    fn name(&self) -> &str {
        "relevance"
    }
    fn target(&self) -> Target {
        Target::LastTurn
    }
    fn score(&self, response: &str, last_turn: &str) -> Result<f64, TrainerError> {
        self.0.score(response, last_turn)
    }
    fn score_batch(
        &self,
        responses: &[String],
        last_turns: &[String],
    ) -> Result<Vec<f64>, TrainerError> {
        self.0.score_batch(responses, last_turns)
    }
}

#[cfg(test)]
mod tests {
    use super::f1;

    #[test]
    fn f1_is_a_harmonic_mean_inside_0_1_whatever_the_signs() {
        assert!((f1(0.5, 0.25) - 2.0 * 0.125 / 0.75).abs() < 1e-15);
        assert_eq!(f1(1.0, 1.0), 1.0);
        // The old formula: 2 (0.5)(-0.45) / 0.05 = -9.
        assert_eq!(f1(0.5, -0.45), 0.0);
        assert_eq!(f1(-0.3, -0.2), 0.0);
        for p in [-1.0, -0.1, 0.0, 0.3, 1.0] {
            for r in [-1.0, -0.49, 0.0, 0.5, 1.0] {
                let f = f1(p, r);
                assert!((0.0..=1.0).contains(&f), "f1({p}, {r}) = {f}");
            }
        }
    }
}
