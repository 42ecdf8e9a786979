# Pecan's entry points. Thin: everything is done by `cargo xtask` (tools/xtask).

set positional-arguments

# List the recipes.
default:
    @just --list

# Boot the demo on x86_64 under U-Boot in QEMU (LOADER=limine LIMINE_DIR=... for Limine).
run-x86 *args:
    cargo xtask run --arch x86_64 --cmdline "init=demo" "$@"

# Boot the demo on AArch64 under U-Boot in QEMU.
run-arm *args:
    cargo xtask run --arch aarch64 --cmdline "init=demo" "$@"

# Host tests, then the QEMU test matrix on both architectures.
test *args:
    cargo xtask test "$@"

# Host tests and the x86_64 QEMU tests.
test-x86 *args:
    cargo xtask test --only x86_64 "$@"

# The AArch64 QEMU tests.
test-arm *args:
    cargo xtask test --only aarch64 "$@"

# Only the host tests.
test-host *args:
    cargo xtask test --only host "$@"

# Formatting and lints for every crate on each of its targets.
lint:
    cargo xtask test --only host --filter clippy
    cargo fmt --all --check

# Benchmarks under QEMU -icount shift=0 on both architectures; writes bench/results/<arch>.json.
bench *args:
    cargo xtask bench "$@"

# Plots of bench/results/*.json (SVG).
bench-plot:
    cargo xtask bench-plot
