//! Shared helpers of the window-check tests: a small key set and a seeded generator.
#![allow(dead_code)]

/// Keys typed by the synthetic typists.
pub const KEYS: [&str; 8] = [
    "KeyA", "KeyS", "KeyD", "KeyF", "KeyJ", "KeyK", "KeyL", "Space",
];

/// A uniform draw in [0, 1) from a 64-bit LCG.
pub fn lcg(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}
