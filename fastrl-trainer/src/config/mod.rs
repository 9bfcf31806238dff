//! The run configuration: TOML with presets, a file that overrides the preset, and
//! `--set section.key=value` overrides on top.
//!
//! - [`schema`]: the sections and a serde enum per choice;
//! - [`resolve`]: presets, files and `--set`;
//! - [`validate`]: domains and list lengths;
//! - [`core`]: the sections as composer-core values;
//! - [`device`]: `run.device` as a libtorch device.

pub mod core;
pub mod device;
pub mod resolve;
pub mod schema;
pub mod validate;

pub use resolve::PRESETS;
pub use schema::{
    AdvantageChoice, ComposerChoice, ComposerConfig, Config, CorpusChoice, DataConfig,
    DeviceChoice, LrSchedule, ModelConfig, Placement, PpoConfig, RunConfig, SftConfig,
    TokenizerConfig,
};
