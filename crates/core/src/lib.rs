//! Pecan core (placeholder)
#![no_std]
