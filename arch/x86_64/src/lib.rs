//! x86_64 support (placeholder)
#![no_std]
