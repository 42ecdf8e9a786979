//! Passes the linker script to the kernel link (bare-metal builds only), and copies the boot
//! archive named by `PECAN_BOOTFS` (built by `cargo xtask`) into `OUT_DIR/bootfs.bin` for
//! `include_bytes!` (an empty file when it is unset: such a kernel runs only self-tests).

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=linker.ld");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=-T{dir}/linker.ld");
    }

    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("bootfs.bin");
    println!("cargo:rerun-if-env-changed=PECAN_BOOTFS");
    let bytes = match std::env::var_os("PECAN_BOOTFS") {
        Some(path) if !path.is_empty() => {
            let path = std::path::PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            std::fs::read(&path).unwrap_or_else(|e| panic!("PECAN_BOOTFS={}: {e}", path.display()))
        }
        _ => Vec::new(),
    };
    // Rewrite only on change, so the kernel is not relinked for nothing.
    if std::fs::read(&out).ok().as_deref() != Some(bytes.as_slice()) {
        std::fs::write(&out, &bytes).expect("writing bootfs.bin");
    }
}
