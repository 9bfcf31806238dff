//! The committed header equals what cbindgen generates from the source, so the C side
//! can never drift from the Rust side. `FASTRL_BLESS=1 cargo test -p fastrl-capi --test
//! header` rewrites it.

#[test]
fn header_is_current() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let config =
        cbindgen::Config::from_file(format!("{dir}/cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = format!("{dir}/include/fastrl.h");
    if std::env::var_os("FASTRL_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write header");
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/fastrl.h is stale: run `FASTRL_BLESS=1 cargo test -p fastrl-capi --test header`"
    );
}
