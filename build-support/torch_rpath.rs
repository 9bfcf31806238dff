//! The build script of every crate that links libtorch (fastrl-models, fastrl-trainer,
//! fastrl-experiments: `build = "../build-support/torch_rpath.rs"`): lets their binaries and
//! test executables find libtorch at run time without LD_LIBRARY_PATH, by an rpath to the
//! directory torch-sys linked against, and links libtorch_cuda with --no-as-needed when
//! present (otherwise the linker drops it and CUDA is never seen). The crate must depend
//! on torch-sys directly: its `links` metadata (DEP_TCH_LIBTORCH_LIB) reaches only direct
//! dependents.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        let cuda = std::path::Path::new(&lib).join("libtorch_cuda.so");
        if cuda.exists() {
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
            println!("cargo:rustc-link-arg=-ltorch_cuda");
            println!("cargo:rustc-link-arg=-Wl,--as-needed");
        }
    }
}
