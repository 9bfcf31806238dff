//! What a run reads and writes: typed records ([`records`], [`jsonl`]), checkpoints
//! ([`checkpoint`], [`checksum`]) and the progress line ([`progress`]).

pub mod checkpoint;
pub mod checksum;
pub mod jsonl;
pub mod progress;
pub mod records;
