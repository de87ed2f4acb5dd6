//! `playstream report`: reads the landed events, the FX table and the rejects, writes the page
//! and, with `--json`, prints the same figures as one object.

use playstream::report::{self, RejectsSource, fx::FxTable, load::Source};

use crate::cli::ReportArgs;

pub(crate) async fn run(args: ReportArgs) -> anyhow::Result<()> {
    let source: Source = args.from.parse().map_err(anyhow::Error::msg)?;
    let fx = match &args.fx {
        Some(path) => report::read_fx(path)?,
        None => FxTable::default(),
    };
    let rejects = match &args.rejects {
        Some(spec) => {
            let spec: RejectsSource = spec.parse().map_err(anyhow::Error::msg)?;
            let options = args.kafka_options.clone();
            Some(tokio::task::spawn_blocking(move || report::read_rejects(&spec, &options)).await??)
        }
        None => None,
    };
    let loaded = report::load(&source).await?;
    let fx_label = args.fx.as_ref().map(|p| p.display().to_string());
    let built = report::build(&loaded, &source.to_string(), &fx, fx_label, rejects);
    report::write_html(&built, &args.out)?;
    if !built.fx.missing.is_empty() {
        tracing::warn!(
            rows = built.fx.missing.len(),
            "revenue rows without an FX rate: their USD value and every total holding them is unknown (null), not 0"
        );
    }
    if built.input.malformed_lines > 0 {
        tracing::warn!(lines = built.input.malformed_lines, "malformed lines were counted and left out");
    }
    if args.json {
        println!("{}", serde_json::to_string(&built)?);
    } else {
        println!(
            "report: {} ({} games, {} distinct events from {} lines, {} duplicates, {} malformed)",
            args.out.display(),
            built.games.len(),
            built.input.events,
            built.input.lines,
            built.input.duplicates,
            built.input.malformed_lines
        );
    }
    Ok(())
}
