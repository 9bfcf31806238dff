//! The paper's comparison as a grid of cells: composer x reward set x seed, every cell
//! with the same budget from the same SFT model.

use composer_core::ComposerKind;
use fastrl_trainer::rewards::kind::RewardKind;

/// One run of the grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// The composer.
    pub composer: ComposerKind,
    /// The rewards.
    pub rewards: Vec<RewardKind>,
    /// Seed.
    pub seed: u64,
}

impl Cell {
    /// Directory name: `<composer>-<n>r-s<seed>`.
    pub fn name(&self) -> String {
        format!(
            "{}-{}r-s{}",
            self.composer.name(),
            self.rewards.len(),
            self.seed
        )
    }
}

/// The composers of the grid, in the order of their colours in the figures.
pub const COMPOSERS: [ComposerKind; 3] = [
    ComposerKind::FastRl,
    ComposerKind::Fixed,
    ComposerKind::Lagrangian,
];

/// The grid's reward sets, each a prefix of the next: METEOR + semantic; + BLEU; +
/// BERTScore. (Reward shaping needs a cost; none of these rewards is one.)
pub fn reward_sets() -> Vec<Vec<RewardKind>> {
    use RewardKind::*;
    vec![
        vec![Meteor, Semantic],
        vec![Meteor, Semantic, Bleu],
        vec![Meteor, Semantic, Bleu, Bertscore],
    ]
}

/// The grid over `sets`: every composer of [`COMPOSERS`] x set x `seeds` seeds.
pub fn cells_over(sets: &[Vec<RewardKind>], seeds: u64) -> Vec<Cell> {
    let mut out = Vec::new();
    for set in sets {
        for composer in COMPOSERS {
            for seed in 0..seeds {
                out.push(Cell {
                    composer,
                    rewards: set.clone(),
                    seed,
                });
            }
        }
    }
    out
}

/// The grid: [`reward_sets`] x [`COMPOSERS`] x `seeds` seeds.
pub fn cells(seeds: u64) -> Vec<Cell> {
    cells_over(&reward_sets(), seeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_composers_by_sets_by_seeds() {
        let g = cells(3);
        assert_eq!(g.len(), 27);
        assert_eq!(g[0].name(), "fastrl-2r-s0");
        assert_eq!(g[26].name(), "lagrangian-4r-s2");
    }
}
