//! AArch64 support (placeholder)
#![no_std]
