//! libFuzzer target: cron parsing and evaluation: Cron, next_after, fire_times.
#![no_main]

// Each binary uses one of the shared targets.
#[allow(dead_code)]
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    targets::cron(data);
});
