//! The non-tensor state of a PPO run (what `state.json` of a checkpoint holds besides
//! the checksums), so a resumed run continues exactly.

use serde::{Deserialize, Serialize};

/// Steps done, the two host generators and composer-core's checksummed state record
/// (composer + KL controller).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PpoState {
    /// PPO steps done.
    pub step: usize,
    /// Host generator state (sampling tokens, shuffling minibatches).
    pub rng: [u64; 4],
    /// Prompt generator state (which prompts each step draws).
    pub prompt_rng: [u64; 4],
    /// composer-core `StateRecord` bytes (composer + KL controller).
    pub composer: Vec<u8>,
}
