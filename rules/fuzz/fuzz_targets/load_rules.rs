//! Arbitrary string → one rules file through the whole loader. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tiercel_rules::loader::Loader;

fuzz_target!(|s: &str| {
    let mut loader = Loader::new(Default::default());
    loader.add_str("fuzz.yaml", s);
    let _ = loader.finish();
});
