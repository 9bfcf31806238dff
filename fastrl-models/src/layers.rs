//! Layers more than one architecture uses (the GPT-2 policy, the BERT reward encoder).

use tch::nn;

/// A layer norm over the last dimension with epsilon `eps`.
pub fn layer_norm(p: nn::Path<'_>, dim: i64, eps: f64) -> nn::LayerNorm {
    nn::layer_norm(
        p,
        vec![dim],
        nn::LayerNormConfig {
            eps,
            ..Default::default()
        },
    )
}
