//! What a run reads and writes: typed records ([`records`], [`jsonl`]), checkpoints
//! ([`checkpoint`], [`checksum`]), the progress line ([`progress`]), messages that a
//! closed terminal does not stop ([`console`]).

pub mod checkpoint;
pub mod checksum;
pub mod console;
pub mod jsonl;
pub mod progress;
pub mod records;
