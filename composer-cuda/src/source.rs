//! The kernel sources (`composer-cuda/kernels/`) and their NVRTC compilation.

use crate::error::CudaError;
use cudarc::nvrtc::{compile_ptx_with_opts, CompileError, CompileOptions, Ptx};

const COMMON: &str = include_str!("../kernels/common.cuh");

/// A kernel family: one `.cu` file and the `extern "C"` kernels it defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Family {
    /// Family name (the file stem).
    pub name: &'static str,
    /// The source, without `common.cuh`.
    pub source: &'static str,
    /// Kernel names, `{op}_{dtype}`.
    pub kernels: &'static [&'static str],
}

/// Fused composition + KL + GAE + returns.
pub const FUSED: Family = Family {
    name: "fused",
    source: include_str!("../kernels/fused.cu"),
    kernels: &[
        "fused_f32",
        "fused_bf16",
        "fused_staged_f32",
        "fused_staged_bf16",
    ],
};
/// Per-reward masked sums and the Fast RL weight update.
pub const UPDATE: Family = Family {
    name: "update",
    source: include_str!("../kernels/update.cu"),
    kernels: &["reward_sums_f32", "reward_sums_bf16", "fastrl_update"],
};
/// Masked whitening.
pub const WHITEN: Family = Family {
    name: "whiten",
    source: include_str!("../kernels/whiten.cu"),
    kernels: &["whiten_sum_f32", "whiten_sq_f32", "whiten_apply_f32"],
};
/// Group-relative advantages (GRPO, RLOO, REINFORCE++, GDPO), in launch order.
pub const GROUP: Family = Family {
    name: "group",
    source: include_str!("../kernels/group.cu"),
    kernels: &[
        "group_init",
        "group_scores_f32",
        "group_scores_bf16",
        "group_batch_std",
        "group_affine",
        "group_apply",
        "group_whiten",
    ],
};
/// The per-time-step GAE launch the frameworks' loop amounts to (benchmark baseline).
pub const BASELINE: Family = Family {
    name: "baseline",
    source: include_str!("../kernels/baseline.cu"),
    kernels: &["gae_step_f32"],
};
/// Every family.
pub const FAMILIES: [Family; 5] = [FUSED, UPDATE, WHITEN, GROUP, BASELINE];

/// The full translation unit: `common.cuh` inlined in place of its `#include` (NVRTC then
/// needs no include path).
pub fn translation_unit(family: &Family) -> String {
    let body = family.source.replace("#include \"common.cuh\"", "");
    format!("{COMMON}\n// ---- {}.cu ----\n{body}", family.name)
}

/// Whether NVRTC can be loaded (`libnvrtc` on the library path).
pub fn nvrtc_available() -> bool {
    // SAFETY: `is_culib_present` only tries to dlopen the library; it has no
    // preconditions.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Whether the CUDA driver can be loaded (`libcuda`).
pub fn driver_available() -> bool {
    // SAFETY: as `nvrtc_available`.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// Compiles a family to PTX for `arch` (e.g. `"sm_90"`), without fast math, with
/// flush-to-zero off, and without FMA contraction (closest to the CPU oracle's
/// arithmetic). Needs NVRTC but no GPU.
pub fn compile(family: &Family, arch: &'static str) -> Result<Ptx, CudaError> {
    if !nvrtc_available() {
        return Err(CudaError::NoCuda {
            library: "libnvrtc",
            hint: "put NVRTC on LD_LIBRARY_PATH (pip install torch==2.11.0 brings nvidia/cu13/lib/libnvrtc.so.13)",
        });
    }
    let opts = CompileOptions {
        ftz: Some(false),
        prec_sqrt: Some(true),
        prec_div: Some(true),
        fmad: Some(false),
        use_fast_math: Some(false),
        arch: Some(arch),
        name: Some(format!("{}.cu", family.name)),
        options: vec!["--std=c++17".into()],
        ..Default::default()
    };
    compile_ptx_with_opts(translation_unit(family), opts).map_err(|e| CudaError::Compile {
        family: family.name,
        arch: arch.to_string(),
        log: match e {
            CompileError::CompileError { log, .. } => log.to_string_lossy().into_owned(),
            other => format!("{other:?}"),
        },
    })
}
