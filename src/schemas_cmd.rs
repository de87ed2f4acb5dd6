//! `playstream schemas list|check`: offline tools over the same validation core the service
//! runs, so what `check` says is exactly what `validate` would do with the record.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use playstream::validate::{
    self, Catalog, Context, LocalSchemas, Provenance, RegistryAccess, RegistrySchemas, SchemaSource, Verdict,
};

use crate::cli::{SchemaArgs, SchemasCommand};

/// Loads the catalog and schema source the flags describe.
pub(crate) fn load_source(args: &SchemaArgs) -> anyhow::Result<Arc<dyn SchemaSource>> {
    let catalog = if args.schemas == Path::new("schemas") && !args.schemas.exists() {
        Catalog::embedded()
    } else {
        Catalog::load_dir(&args.schemas)?
    };
    let catalog = Arc::new(catalog);
    Ok(match &args.schema_registry_url {
        Some(url) => {
            let access = RegistryAccess {
                basic_auth: args.schema_registry_auth.clone(),
                ca_file: args.schema_registry_ca.clone(),
            };
            Arc::new(RegistrySchemas::with_access(url, catalog, access)?)
        }
        None => Arc::new(LocalSchemas::new(catalog)?),
    })
}

pub(crate) fn run(cmd: SchemasCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        SchemasCommand::List(args) => {
            let source = load_source(&args)?;
            for (id, s) in source.catalog().all() {
                writeln!(
                    out,
                    "{id}\t{}\tv{}\t{}\t{} fields",
                    s.event_type,
                    s.version,
                    s.name,
                    s.fields.len()
                )?;
            }
        }
        SchemasCommand::Check { schemas, file } => {
            let source = load_source(&schemas)?;
            let input: Box<dyn BufRead> = match file.as_deref() {
                None => Box::new(std::io::stdin().lock()),
                Some(p) if p == Path::new("-") => Box::new(std::io::stdin().lock()),
                Some(p) => Box::new(std::io::BufReader::new(
                    std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
                )),
            };
            let mut ctx = Context::now();
            ctx.max_future_micros = i64::from(schemas.max_future_hours) * 3_600_000_000;
            let (mut good, mut bad) = (0u64, 0u64);
            for (n, line) in input.split(b'\n').enumerate() {
                let line = line?;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let offset = i64::try_from(n).unwrap_or(i64::MAX);
                let prov = Provenance { topic: "stdin", partition: 0, offset, received_at: None };
                match validate::validate(&line, &prov, &ctx, source.as_ref())? {
                    Verdict::Accepted(ndjson) => {
                        good += 1;
                        out.write_all(&ndjson)?;
                    }
                    Verdict::Rejected(r) => {
                        bad += 1;
                        let verdict = serde_json::json!({
                            "line": n + 1, "reject.reason": r.code.code(), "reject.field": r.field,
                            "reject.detail": r.detail, "reject.schema": r.schema,
                        });
                        writeln!(out, "{verdict}")?;
                    }
                }
            }
            tracing::info!(accepted = good, rejected = bad, "checked");
        }
    }
    Ok(())
}
