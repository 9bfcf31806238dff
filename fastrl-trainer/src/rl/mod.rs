//! Reinforcement learning on any [`fastrl_models::causal_lm::CausalLm`]: [`rollout`]
//! (padding, sampling, generation, log-probabilities), [`channels`] (the rewards of a
//! step, their batch means and mix), [`advantages`] (Algorithm 1,
//! lines 8-11, CPU and CUDA backends), [`loss`] (lines 12-13), [`sft`] (line 1),
//! [`ppo`] ([`ppo::Ppo::step`], lines 5-13) and its resumable [`state`].

pub mod advantages;
pub mod channels;
pub mod loss;
pub mod ppo;
pub mod rollout;
pub mod sft;
pub mod state;
