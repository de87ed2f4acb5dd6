//! Fuzzes decode + validate + encode over arbitrary record values: no input may panic, and an
//! accepted record's line must be one JSON object that validates again to the same values.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use playstream::validate::{Catalog, Context, LocalSchemas, Provenance, Verdict, check, time, validate};

fn source() -> &'static LocalSchemas {
    static SOURCE: OnceLock<LocalSchemas> = OnceLock::new();
    SOURCE.get_or_init(|| LocalSchemas::new(Arc::new(Catalog::embedded())).expect("schemas"))
}

fuzz_target!(|data: &[u8]| {
    let ctx = Context::at(time::parse_rfc3339("2026-11-22T12:00:00Z").expect("time"));
    let prov = Provenance { topic: "fuzz", partition: 0, offset: 0, received_at: None };
    let verdict = validate(data, &prov, &ctx, source()).expect("local lookups never fail");
    if let Verdict::Accepted(line) = verdict {
        let body = line.strip_suffix(b"\n").expect("newline-terminated");
        let parsed: serde_json::Value = serde_json::from_slice(body).expect("line is JSON");
        assert!(parsed.is_object());
        let first = check(data, &ctx, source()).expect("lookup").expect("accepted before");
        let again = check(body, &ctx, source()).expect("lookup").expect("line validates again");
        assert_eq!(first.values, again.values);
    }
});
