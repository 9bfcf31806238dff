//! Presets (`smoke`, `default` (SmolLM2), `tiny`, `paper-dialog`, `grid-full`), a file that overrides the
//! preset, and `--set section.key=value` overrides on top. Unknown keys and wrong types
//! stop with a message naming the key.

use crate::config::schema::Config;
use crate::error::TrainerError;

/// Embedded presets, by name.
pub const PRESETS: [(&str, &str); 5] = [
    ("smoke", include_str!("../../presets/smoke.toml")),
    ("default", include_str!("../../presets/default.toml")),
    ("tiny", include_str!("../../presets/tiny.toml")),
    (
        "paper-dialog",
        include_str!("../../presets/paper-dialog.toml"),
    ),
    ("grid-full", include_str!("../../presets/grid-full.toml")),
];

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(bv) => merge(bv, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn parse(name: &str, text: &str) -> Result<toml::Value, TrainerError> {
    toml::from_str(text).map_err(|e| TrainerError::Config(format!("{name}: {e}")))
}

impl Config {
    /// The preset `name`, then `file`'s keys over it, then each `section.key=value` of
    /// `sets` (the value in TOML syntax; bare words are strings), then
    /// [`Config::validate`].
    pub fn resolve(
        preset: &str,
        file: Option<&std::path::Path>,
        sets: &[String],
    ) -> Result<Self, TrainerError> {
        let text = PRESETS
            .iter()
            .find(|(n, _)| *n == preset)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                TrainerError::Config(format!(
                    "unknown preset {preset:?}; choose one of {:?}",
                    PRESETS.map(|(n, _)| n)
                ))
            })?;
        let mut value = parse(&format!("preset {preset}"), text)?;
        if let Some(path) = file {
            let t = std::fs::read_to_string(path).map_err(|e| TrainerError::io(path, e))?;
            merge(&mut value, parse(&path.display().to_string(), &t)?);
        }
        for s in sets {
            let (key, raw) = s.split_once('=').ok_or_else(|| {
                TrainerError::Config(format!("--set {s:?}: expected section.key=value"))
            })?;
            let (section, field) = key.trim().split_once('.').ok_or_else(|| {
                TrainerError::Config(format!("--set {s:?}: the key must be section.key"))
            })?;
            let v: toml::Value = toml::from_str(&format!("v = {}", raw.trim()))
                .map(|t: toml::Table| t["v"].clone())
                .unwrap_or_else(|_| toml::Value::String(raw.trim().to_string()));
            let mut t = toml::Table::new();
            let mut inner = toml::Table::new();
            inner.insert(field.to_string(), v);
            t.insert(section.to_string(), toml::Value::Table(inner));
            merge(&mut value, toml::Value::Table(t));
        }
        let cfg: Config = value
            .try_into()
            .map_err(|e: toml::de::Error| TrainerError::Config(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The resolved configuration as TOML (written into the run directory).
    pub fn to_toml(&self) -> Result<String, TrainerError> {
        toml::to_string_pretty(self)
            .map_err(|e| TrainerError::Config(format!("the resolved config as TOML: {e}")))
    }

    /// What the rewards read besides their kinds.
    pub fn reward_settings(&self) -> crate::rewards::registry::RewardSettings {
        crate::rewards::registry::RewardSettings {
            rating_head: self.rating_head(),
            length_band: self.composer.length_band,
        }
    }

    /// Where the `rating` reward's head is read from.
    pub fn rating_head(&self) -> std::path::PathBuf {
        if self.composer.rating_model.as_os_str().is_empty() {
            self.run.out_dir.join("reward-model/head.json")
        } else {
            self.composer.rating_model.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::schema::{ComposerChoice, DeviceChoice, Placement};
    use crate::rewards::kind::RewardKind;
    use composer_core::{ComposerKind, KlEstimator, SmoothingKind, Squash};

    #[test]
    fn every_preset_resolves() {
        for (name, _) in PRESETS {
            Config::resolve(name, None, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn overrides_apply_and_round_trip() {
        let c = Config::resolve(
            "smoke",
            None,
            &["ppo.steps=7".into(), "composer.kind=fixed".into()],
        )
        .unwrap();
        assert_eq!(c.ppo.steps, 7);
        assert_eq!(c.composer.kind, ComposerChoice::Core(ComposerKind::Fixed));
        let back: Config = toml::from_str(&c.to_toml().unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_named() {
        let e = Config::resolve("smoke", None, &["ppo.stepz=3".into()]).unwrap_err();
        assert!(e.to_string().contains("stepz"), "{e}");
        let e = Config::resolve("smoke", None, &["ppo.steps=\"many\"".into()]).unwrap_err();
        assert!(e.to_string().contains("steps"), "{e}");
        let e = Config::resolve("nope", None, &[]).unwrap_err();
        assert!(e.to_string().contains("smoke"), "{e}");
        let e = Config::resolve("smoke", None, &["composer.rewards=[\"bertscore2\"]".into()])
            .unwrap_err();
        assert!(e.to_string().contains("bertscore2"), "{e}");
        for (set, want) in [
            ("ppo.kl_estimator=\"k9\"", "k9"),
            ("run.device=\"tpu\"", "tpu"),
            ("data.corpus=\"reddit\"", "reddit"),
            ("composer.kind=\"greedy\"", "greedy"),
            (
                "composer.placement=[\"word\", \"sequence\", \"sequence\"]",
                "word",
            ),
            ("composer.squash=\"relu\"", "relu"),
        ] {
            let e = Config::resolve("smoke", None, &[set.into()])
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{set}: {e}");
        }
    }

    #[test]
    fn the_critic_and_sampling_keys_are_checked_with_one_message_each() {
        for (sets, want) in [
            (vec!["ppo.value_lr=-1e-4"], "ppo.value_lr = -0.0001"),
            (
                vec!["ppo.value_warmup_steps=4"],
                "ppo.value_warmup_steps = 4",
            ),
            (
                vec![
                    "ppo.value_warmup_steps=1",
                    "ppo.advantage=\"grpo\"",
                    "ppo.group_size=4",
                ],
                "has none",
            ),
            (vec!["ppo.kl_loss_coef=-0.1"], "ppo.kl_loss_coef"),
            (
                vec!["ppo.top_k=20", "ppo.temperature=0.0"],
                "ppo.temperature = 0",
            ),
            (vec!["ppo.lr_schedule=\"cosine\""], "cosine"),
            (
                vec![
                    "composer.rewards=[\"length\"]",
                    "composer.length_band=[9, 3]",
                ],
                "composer.length_band = [9, 3]",
            ),
        ] {
            let sets: Vec<String> = sets.into_iter().map(String::from).collect();
            let e = Config::resolve("smoke", None, &sets)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{sets:?}: {e}");
        }
        // The smoke preset runs 4 steps: 3 warm-up steps leave one PPO step.
        let c = Config::resolve("smoke", None, &["ppo.value_warmup_steps=3".into()]).unwrap();
        assert_eq!(c.ppo.value_warmup_steps, 3);
    }

    #[test]
    fn every_choice_is_a_typed_value() {
        let c = Config::resolve(
            "smoke",
            None,
            &[
                "ppo.kl_estimator=\"k3\"".into(),
                "run.device=\"cpu\"".into(),
                "composer.kind=\"shaping\"".into(),
                "composer.rewards=[\"meteor\", \"bleu\"]".into(),
                "composer.placement=[\"sentence\", \"sequence\"]".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.ppo.kl_estimator, KlEstimator::K3);
        assert_eq!(c.run.device, DeviceChoice::Cpu);
        assert_eq!(c.composer.kind, ComposerChoice::Shaping);
        assert_eq!(
            c.composer.placement,
            [Placement::Sentence, Placement::Sequence]
        );
        // Written back with the core's names.
        let t = c.to_toml().unwrap();
        assert!(
            t.contains("kl_estimator = \"k3\"") && t.contains("kind = \"shaping\""),
            "{t}"
        );
    }

    #[test]
    fn the_rating_reward_is_accepted() {
        // The README advertises `rating` and the registry builds it; the old validation
        // refused it ("unknown reward \"rating\"").
        let c = Config::resolve(
            "smoke",
            None,
            &["composer.rewards=[\"meteor\",\"rating\"]".into()],
        )
        .unwrap();
        assert_eq!(c.composer.rewards, [RewardKind::Meteor, RewardKind::Rating]);
    }

    #[test]
    fn every_composer_core_option_is_a_set_away() {
        let c = Config::resolve(
            "smoke",
            None,
            &[
                "composer.normalization=\"standardize\"".into(),
                "composer.smoothing=\"ema\"".into(),
                "composer.smoothing_params=[0.9]".into(),
                "composer.bias=[0.1, 0.0, -0.1]".into(),
                "composer.floor=0.2".into(),
            ],
        )
        .unwrap();
        let f = c.composer.fastrl_config(c.ppo.steps);
        assert_eq!(f.smoothing, composer_core::Smoothing::Ema { decay: 0.9 });
        // The bounded, scale-free options of composer-core (issue 13).
        let b = Config::resolve(
            "smoke",
            None,
            &[
                "composer.normalization=\"reference\"".into(),
                "composer.compose_on=\"normalized\"".into(),
                "composer.rule=\"optimistic\"".into(),
                "composer.radius=0.1".into(),
                "composer.averaging=true".into(),
                "composer.eta_auto=true".into(),
                "composer.eta_range=2.0".into(),
                "composer.calibration=64".into(),
            ],
        )
        .unwrap();
        let g = b.composer.fastrl_config(b.ppo.steps);
        assert_eq!(g.normalization, composer_core::Normalization::Reference);
        assert_eq!(g.compose_on, composer_core::ComposeOn::Normalized);
        assert_eq!(g.rule, composer_core::UpdateRule::Optimistic);
        assert_eq!((g.radius, g.averaging), (0.1, true));
        assert_eq!(
            g.eta_auto,
            Some(composer_core::AutoEta {
                horizon: b.ppo.steps as u64,
                range: 2.0
            })
        );
        assert_eq!(b.composer.calibration, 64);
        // The paper's rule by default: unbounded, plain, no auto step.
        let d = Config::resolve("smoke", None, &[]).unwrap().composer;
        assert!(d.radius.is_infinite() && !d.eta_auto && !d.averaging);
        // Composing z-scores without the reference normalisation is refused by the core.
        let e = Config::resolve(
            "smoke",
            None,
            &["composer.compose_on=\"normalized\"".into()],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("compose_on"), "{e}");
        // The baselines on z-scores: fixed and Lagrangian take the reference
        // normalisation, not Fast RL's batch standardisation.
        for kind in ["fixed", "lagrangian"] {
            let set = |norm: &str| {
                Config::resolve(
                    "smoke",
                    None,
                    &[
                        format!("composer.kind=\"{kind}\""),
                        format!("composer.normalization=\"{norm}\""),
                        "composer.compose_on=\"normalized\"".into(),
                    ],
                )
            };
            assert!(set("reference").is_ok(), "{kind}");
            let e = set("standardize").unwrap_err().to_string();
            assert!(e.contains("standardize") && e.contains(kind), "{e}");
        }
        // Critic-free estimators: a name, and a group size that divides the batch.
        let g = Config::resolve(
            "smoke",
            None,
            &["ppo.advantage=\"gdpo\"".into(), "ppo.group_size=4".into()],
        )
        .unwrap();
        assert_eq!(
            g.ppo.advantage,
            crate::config::AdvantageChoice::Group(composer_core::GroupEstimator::Gdpo)
        );
        let e = Config::resolve("smoke", None, &["ppo.advantage=\"gdpo\"".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("group_size"), "{e}");
        let e = Config::resolve("smoke", None, &["ppo.advantage=\"ppo\"".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown advantage estimator"), "{e}");
        let e = Config::resolve("smoke", None, &["composer.radius=-1.0".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("radius"), "{e}");
        assert_eq!(f.normalization, composer_core::Normalization::Standardize);
        assert_eq!(f.floor, 0.2);
        c.composer.build(c.ppo.steps, None).unwrap();
        let c = Config::resolve(
            "smoke",
            None,
            &[
                "composer.kind=\"lagrangian\"".into(),
                "composer.thresholds=[0.1, 0.2, 0.3]".into(),
                "composer.constraints=[\"at_least\", \"at_most\", \"free\"]".into(),
                "composer.squash=\"sigmoid\"".into(),
                "composer.multiplier_lr=0.5".into(),
                "composer.multiplier_init=1.0".into(),
                "composer.max_multiplier=4.0".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.composer.lagrangian_config().squash, Squash::Sigmoid);
        assert_eq!(
            c.composer.constraint_list(),
            [
                composer_core::Constraint::AtLeast(0.1),
                composer_core::Constraint::AtMost(0.2),
                composer_core::Constraint::Free
            ]
        );
        c.composer.build(c.ppo.steps, None).unwrap();
        // Domains are the core's: a smoothing with the wrong parameters, a bad floor.
        let e = Config::resolve("smoke", None, &["composer.smoothing=\"clip\"".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("smoothing_params"), "{e}");
        let e = Config::resolve("smoke", None, &["composer.floor=2.0".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("floor"), "{e}");
        assert_eq!(SmoothingKind::NAMES.len(), 4);
    }
}
