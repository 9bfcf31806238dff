//! Writes the PTX of every kernel family for an architecture, for reading or for
//! `ptxas -v` (registers, shared memory, spills) without a GPU:
//!
//! ```text
//! cargo run -p composer-cuda --example ptx -- sm_90 target/ptx
//! ptxas -arch=sm_90 -v target/ptx/fused.ptx -o /dev/null
//! ```
//! Needs NVRTC on `LD_LIBRARY_PATH`.

use composer_cuda::source::{compile, FAMILIES};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let arch: &'static str = match args.next().as_deref() {
        None | Some("sm_90") => "sm_90",
        Some("sm_80") => "sm_80",
        Some("sm_86") => "sm_86",
        Some("sm_89") => "sm_89",
        Some(other) => return Err(format!("unsupported arch {other}").into()),
    };
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "target/ptx".into()));
    std::fs::create_dir_all(&dir)?;
    for family in FAMILIES {
        let path = dir.join(format!("{}.ptx", family.name));
        std::fs::write(&path, compile(&family, arch)?.to_src())?;
        println!("{}", path.display());
    }
    Ok(())
}
