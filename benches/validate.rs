//! decode + validate + encode throughput on a realistic mix: ≈ 70 % session/level, 20 %
//! install, 10 % purchase, 5 % invalid, 20 % of valid records as Confluent-framed Avro.
//! Criterion reports elements/s = events/s on one core (the loop is single-threaded).
//!
//! Baseline, same run: `baseline_sonic_dom_roundtrip` parses each record of the JSON-only
//! corpus into a sonic-rs DOM (a SIMD JSON parser) and serializes it back — the least any
//! JSON-to-JSON stage does. Our validate+encode does strictly more (schema checks, money,
//! timestamps, field order); compare `json_only` with it.

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use playstream::validate::corpus::{Mix, corpus};
use playstream::validate::{Catalog, Context, LocalSchemas, Provenance, time, validate_into};

fn bench(c: &mut Criterion) {
    let source = LocalSchemas::new(Arc::new(Catalog::embedded())).expect("schemas");
    let ts = "2026-11-22T10:00:00.125Z";
    let ctx = Context::at(time::parse_rfc3339(ts).expect("time"));
    let mut group = c.benchmark_group("validate");
    for (name, mix) in [
        ("mixed_json_avro", Mix::default()),
        ("json_only", Mix { avro_pct: 0, ..Mix::default() }),
        ("avro_only", Mix { avro_pct: 100, invalid_pct: 0, ..Mix::default() }),
    ] {
        let records = corpus(10_000, 42, mix, ts, &source);
        let bytes: usize = records.iter().map(|r| r.value.len()).sum();
        println!("{name}: {} records, mean {} bytes", records.len(), bytes / records.len());
        group.throughput(Throughput::Elements(records.len() as u64));
        let mut out = Vec::with_capacity(1 << 20);
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut accepted = 0usize;
                for (i, r) in records.iter().enumerate() {
                    out.clear();
                    let prov = Provenance {
                        topic: "game-events.raw",
                        partition: 0,
                        offset: i as i64,
                        received_at: None,
                    };
                    if let Ok(Ok(())) = validate_into(&r.value, &prov, &ctx, &source, &mut out) {
                        accepted += 1;
                    }
                }
                accepted
            })
        });
    }
    let records = corpus(10_000, 42, Mix { avro_pct: 0, ..Mix::default() }, ts, &source);
    group.throughput(Throughput::Elements(records.len() as u64));
    let mut out = Vec::with_capacity(1 << 20);
    group.bench_function("baseline_sonic_dom_roundtrip", |b| {
        b.iter(|| {
            let mut ok = 0usize;
            for r in &records {
                out.clear();
                if let Ok(v) = sonic_rs::from_slice::<sonic_rs::Value>(&r.value)
                    && sonic_rs::to_writer(&mut out, &v).is_ok()
                {
                    ok += 1;
                }
            }
            ok
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(8));
    targets = bench
}
criterion_main!(benches);
