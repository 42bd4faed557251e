//! libFuzzer target: the dispatcher's JSON input: Input::parse, from text and from JSON.
#![no_main]

// Each binary uses one of the shared targets.
#[allow(dead_code)]
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    targets::input(data);
});
