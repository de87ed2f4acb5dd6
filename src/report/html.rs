//! The report as one self-contained HTML page: inline CSS, inline SVG charts, no script, no
//! font, image or style sheet fetched from anywhere. The invariant: the page shows the figures
//! of the [`Report`] and nothing else — an unknown figure reads "unknown" with its reason, never
//! 0 — and every text taken from the data is HTML-escaped.

use std::fmt::Write;

use rust_decimal::Decimal;

use super::charts::{self, Series};
use super::cohorts::RETENTION_DAYS;
use super::events::parse_day;
use super::json::{GameReport, Report};
use super::rejects::RejectsSummary;
use super::text::{count_axis, esc, f, money_axis, opt, pct, usd};

/// A chart in its figure, with the number of values it draws (the page test checks > 0); a
/// chart with nothing to draw is replaced by a note saying so.
fn figure(
    out: &mut String,
    id: &str,
    points: usize,
    chart: impl FnOnce() -> Result<String, charts::ChartError>,
) {
    if points == 0 {
        let _ = write!(
            out,
            "<p class=\"nodata\" data-nodata=\"{}\">{}: no data in this window.</p>",
            esc(id),
            esc(id)
        );
        return;
    }
    match chart() {
        Ok(svg) => {
            // Inline SVG in HTML needs no namespace; leaving it out keeps the page free of URLs.
            let svg = svg.replace(" xmlns=\"http://www.w3.org/2000/svg\"", "");
            let _ = write!(
                out,
                "<figure class=\"chart\" data-chart=\"{}\" data-points=\"{points}\">{svg}</figure>",
                esc(id)
            );
        }
        Err(e) => {
            let _ = write!(
                out,
                "<figure class=\"chart error\" data-chart=\"{}\" data-points=\"0\"><p>{}</p></figure>",
                esc(id),
                esc(&e.to_string())
            );
        }
    }
}

fn day(date: &str) -> i32 {
    parse_day(date).unwrap_or_default()
}

fn tile(out: &mut String, label: &str, value: &str) {
    let _ = write!(
        out,
        "<div class=\"tile\"><div class=\"label\">{label}</div><div class=\"value\">{value}</div></div>"
    );
}

fn game(out: &mut String, g: &GameReport) {
    let t = &g.totals;
    let _ = write!(
        out,
        "<section class=\"game\" data-game=\"{0}\"><h2>{0}</h2><p class=\"muted\">{1} – {2}</p><div class=\"tiles\">",
        esc(&g.game_id),
        t.first_date,
        t.last_date
    );
    let unpriced = if t.unpriced_count > 0 {
        format!("<div class=\"note\">{} revenue rows lack an FX rate</div>", t.unpriced_count)
    } else {
        String::new()
    };
    tile(out, "Players", &t.players.to_string());
    tile(out, "New installs", &t.new_users.to_string());
    tile(out, "Avg DAU", &opt(t.avg_dau));
    tile(out, "Revenue", &format!("{}{unpriced}", usd(t.revenue.revenue_usd, 2)));
    tile(out, "Ad revenue", &usd(t.revenue.ad_revenue_usd, 2));
    tile(out, "ARPU", &usd(t.arpu_usd, 4));
    tile(out, "ARPDAU", &usd(t.arpdau_usd, 4));
    tile(out, "Payers", &format!("{} ({})", t.payers, pct(t.payer_pct)));
    for (k, p) in RETENTION_DAYS.iter().zip([t.d1_pct, t.d7_pct, t.d30_pct]) {
        tile(out, &format!("D{k} retention"), &pct(p));
    }
    out.push_str("</div><div class=\"charts\">");

    let dau = Series {
        name: "DAU".into(),
        points: g.days.iter().map(|d| (day(&d.date), Some(d.dau as f64))).collect(),
    };
    figure(out, "dau", dau.points.len(), || {
        charts::line_chart("Daily active users", &[dau], &count_axis, 5.0)
    });

    let revenue: Vec<Series> = [
        ("total", g.revenue.iter().map(|r| (day(&r.date), f(r.usd.revenue_usd))).collect::<Vec<_>>()),
        ("purchases", g.revenue.iter().map(|r| (day(&r.date), f(r.usd.purchase_revenue_usd))).collect()),
        ("ads", g.revenue.iter().map(|r| (day(&r.date), f(r.usd.ad_revenue_usd))).collect()),
    ]
    .into_iter()
    .map(|(name, points)| Series { name: name.into(), points })
    .collect();
    let known = revenue.iter().flat_map(|s| &s.points).filter(|(_, v)| v.is_some()).count();
    figure(out, "revenue", known, || {
        charts::line_chart("Revenue per day (USD; gaps: no FX rate)", &revenue, &money_axis, 0.0)
    });

    let arpdau = Series {
        name: "ARPDAU".into(),
        points: g.days.iter().map(|d| (day(&d.date), f(d.arpdau_usd))).collect(),
    };
    let known = arpdau.points.iter().filter(|(_, v)| v.is_some()).count();
    figure(out, "arpdau", known, || {
        charts::line_chart("ARPDAU (USD)", &[arpdau], &|v| format!("${v:.3}"), 0.0)
    });

    let installs = vec![
        Series {
            name: "new users".into(),
            points: g.installs.iter().map(|i| (day(&i.date), Some(i.new_users as f64))).collect(),
        },
        Series {
            name: "re-installs".into(),
            points: g.installs.iter().map(|i| (day(&i.date), Some(i.reinstalls as f64))).collect(),
        },
    ];
    figure(out, "installs", g.installs.len(), || {
        charts::line_chart("Installs per day", &installs, &count_axis, 5.0)
    });

    let ads = vec![Series {
        name: "ad revenue".into(),
        points: g.ads.iter().map(|a| (day(&a.date), f(a.ad_revenue_usd))).collect(),
    }];
    let known = ads.iter().flat_map(|s| &s.points).filter(|(_, v)| v.is_some()).count();
    figure(out, "ads", known, || charts::line_chart("Ad revenue per day (USD)", &ads, &money_axis, 0.0));

    let cells: Vec<charts::HeatRow> = g
        .retention
        .iter()
        .map(|r| {
            let cell = |p: Option<Decimal>| p.and_then(|p| f(Some(p)).map(|v| (v, p.to_string())));
            (
                format!("{} ({})", r.install_date, r.cohort_users),
                vec![cell(r.d1_pct), cell(r.d7_pct), cell(r.d30_pct)],
            )
        })
        .collect();
    let known = cells.iter().flat_map(|(_, c)| c).filter(|c| c.is_some()).count();
    let top = cells.iter().flat_map(|(_, c)| c.iter().flatten().map(|(v, _)| *v)).fold(0.0, f64::max);
    figure(out, "retention", known, || {
        charts::heat_map("Retention by install cohort (%)", &["D1", "D7", "D30"], &cells, top)
    });

    let labels: Vec<String> = g.level_funnel.iter().map(|l| l.level.to_string()).collect();
    let values: Vec<f64> = g.level_funnel.iter().map(|l| l.players_started as f64).collect();
    figure(out, "funnel", values.len(), || {
        charts::bars("Level funnel: players who started each level", &labels, &values, &count_axis, 5.0)
    });
    out.push_str("</div>");
    tables(out, g);
    out.push_str("</section>");
}

fn tables(out: &mut String, g: &GameReport) {
    out.push_str("<details><summary>Monthly ARPU, payer conversion, funnel, installs by source</summary>");
    table(
        out,
        &["month", "MAU", "payers", "revenue", "ARPU", "ARPPU"],
        g.monthly_arpu.iter().map(|m| {
            vec![
                m.month.to_string(),
                m.mau.to_string(),
                m.payers.to_string(),
                usd(m.usd.revenue_usd, 2),
                usd(m.arpu_usd, 4),
                opt(m.arppu_usd),
            ]
        }),
    );
    table(
        out,
        &["install cohort", "players", "payers", "conversion"],
        g.payer_conversion.iter().map(|c| {
            vec![
                c.install_date.to_string(),
                c.cohort_users.to_string(),
                c.payers.to_string(),
                pct(c.payer_pct),
            ]
        }),
    );
    table(
        out,
        &["level", "started", "won", "completion", "reached", "attempts", "failures"],
        g.level_funnel.iter().map(|l| {
            vec![
                l.level.to_string(),
                l.players_started.to_string(),
                l.players_completed.to_string(),
                pct(l.completion_pct),
                pct(l.reached_pct),
                l.attempts.to_string(),
                l.failures.to_string(),
            ]
        }),
    );
    let none = || "(none)".to_string();
    table(
        out,
        &["day", "source", "country", "installs"],
        g.installs_by_source_country.iter().map(|i| {
            vec![
                i.date.to_string(),
                esc(&i.source.clone().unwrap_or_else(none)),
                esc(&i.country.clone().unwrap_or_else(none)),
                i.installs.to_string(),
            ]
        }),
    );
    out.push_str("</details>");
}

/// One table: a header row, then a row per item of cells that are already HTML.
fn table(out: &mut String, headers: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    out.push_str("<table><tr>");
    for h in headers {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr>");
    for cells in rows {
        out.push_str("<tr>");
        for c in cells {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
}

fn rejects(out: &mut String, r: &RejectsSummary) {
    let _ = write!(
        out,
        "<section class=\"rejects\"><h2>Rejects</h2><p class=\"muted\">{} distinct rejects from {}",
        r.total,
        esc(&r.source)
    );
    if r.malformed > 0 {
        let _ = write!(out, "; {} rows that are not rejects", r.malformed);
    }
    out.push_str("</p><div class=\"charts\">");
    let series: Vec<Series> = r
        .by_reason
        .iter()
        .take(8)
        .map(|(reason, _)| Series {
            name: reason.clone(),
            points: r
                .by_day
                .iter()
                .filter(|d| &d.reason == reason)
                .map(|d| (day(&d.date), Some(d.count as f64)))
                .collect(),
        })
        .collect();
    let points = series.iter().map(|s| s.points.len()).sum();
    let labels: Vec<String> = r.by_reason.iter().map(|(reason, _)| reason.clone()).collect();
    let values: Vec<f64> = r.by_reason.iter().map(|(_, n)| *n as f64).collect();
    figure(out, "rejects_by_reason", values.len(), || {
        charts::bars("Rejects by reason", &labels, &values, &count_axis, 5.0)
    });
    figure(out, "rejects", points, || {
        charts::line_chart("Rejects per day by reason", &series, &count_axis, 5.0)
    });
    out.push_str("</div><table><tr><th>reason</th><th>rejects</th></tr>");
    for (reason, n) in &r.by_reason {
        let _ = write!(out, "<tr><td>{}</td><td>{n}</td></tr>", esc(reason));
    }
    out.push_str("</table></section>");
}

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#18181b;background:#fafafa}\
h1{margin:0 0 4px}h2{margin:24px 0 4px}.muted{color:#71717a;margin:0 0 12px}\
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:12px 0}\
.tile{background:#fff;border:1px solid #e4e4e7;border-radius:8px;padding:10px}\
.tile .label{font-size:12px;color:#71717a}.tile .value{font-size:22px;font-weight:600;margin-top:4px}\
.note{font-size:11px;color:#b45309}.unknown{color:#b45309;font-style:italic}\
.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{margin:0;background:#fff;border:1px solid #e4e4e7;border-radius:8px;padding:6px}\
.warn{background:#fffbeb;border:1px solid #f59e0b;border-radius:8px;padding:8px 12px;margin:8px 0}\
table{border-collapse:collapse;margin:10px 0;font-size:13px;background:#fff}td,th{border:1px solid #e4e4e7;padding:3px 8px;text-align:right}\
th{background:#f4f4f5}details{margin:10px 0}section.game{border-top:2px solid #e4e4e7;margin-top:16px}";

/// The whole page.
pub fn page(report: &Report) -> String {
    let i = &report.input;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>playstream report</title><style>{STYLE}</style></head><body>\
         <h1>playstream report</h1><p class=\"muted\">{}: {} objects, {} lines, {} distinct events, {} duplicates removed, {} malformed lines. \
         FX: {} ({} rates). Days are UTC days; figures follow the sql/ views.</p>",
        esc(&i.source),
        i.objects,
        i.lines,
        i.events,
        i.duplicates,
        i.malformed_lines,
        esc(report.fx.table.as_deref().unwrap_or("none given")),
        report.fx.rates
    );
    if i.malformed_lines > 0 {
        let _ = write!(
            out,
            "<div class=\"warn\" data-warning=\"malformed\">{} lines are not events and were left out, e.g.:<ul>",
            i.malformed_lines
        );
        for e in &i.malformed_examples {
            let _ = write!(out, "<li><code>{}</code></li>", esc(e));
        }
        out.push_str("</ul></div>");
    }
    if !report.fx.missing.is_empty() {
        let _ = write!(
            out,
            "<div class=\"warn\" data-warning=\"fx_missing\">{} revenue rows have no FX rate on or before their day: their USD value, and every total holding them, is unknown (not 0). Add rates with <code>--fx</code>.<ul>",
            report.fx.missing.len()
        );
        for m in report.fx.missing.iter().take(20) {
            let _ = write!(
                out,
                "<li>{} {} {} {} on {} ({})</li>",
                esc(&m.game_id),
                esc(m.currency.as_deref().unwrap_or("no currency")),
                m.amount_local,
                esc(&m.event_id),
                m.date,
                esc(&m.user_id)
            );
        }
        out.push_str("</ul></div>");
    }
    for g in &report.games {
        game(&mut out, g);
    }
    if let Some(r) = &report.rejects {
        rejects(&mut out, r);
    }
    out.push_str("<p class=\"muted\">Made by playstream report.</p></body></html>\n");
    out
}
