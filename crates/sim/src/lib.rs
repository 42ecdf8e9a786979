//! Simulated HAL (placeholder)
