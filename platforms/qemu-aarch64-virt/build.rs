//! Links the kernel with `link.ld` (the Image header first, linked in the top 2 GiB), and
//! puts the boot archive (`PECAN_BOOTFS`, built by `cargo xtask`) into `OUT_DIR` for
//! `main.rs` to include; without it the archive is empty and the kernel says so at boot.

use std::path::PathBuf;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-arg-bins=-T{dir}/link.ld");
    println!("cargo:rerun-if-changed=link.ld");
    println!("cargo:rerun-if-changed=build.rs");

    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("bootfs.bin");
    println!("cargo:rerun-if-env-changed=PECAN_BOOTFS");
    match std::env::var_os("PECAN_BOOTFS").filter(|p| !p.is_empty()) {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", PathBuf::from(&path).display());
            if let Err(e) = std::fs::copy(&path, &out) {
                panic!("copying the boot archive {}: {e}", PathBuf::from(&path).display());
            }
        }
        None => std::fs::write(&out, []).expect("writing an empty boot archive"),
    }
}
