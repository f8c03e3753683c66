//! Decodes arbitrary bytes as a msgpack DynamicValue of a type chosen by the first byte. The
//! decoder must never panic; whatever it accepts must re-encode and decode to the same value.

#![no_main]

use gitlabrunner_fuzz::fuzz_types;
use gitlabrunner_fuzz::msgpack::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let types = fuzz_types();
    let ty = &types[usize::from(selector) % types.len()];
    if let Ok(value) = decode(bytes, ty) {
        let again = encode(&value, ty).expect("a decoded value re-encodes");
        let back = decode(&again, ty).expect("a re-encoded value decodes");
        assert!(
            back.semantically_equal(&value),
            "{value:?} re-decoded as {back:?}"
        );
    }
});
