//! The markdown tables the benchmark prints, one per workload.

use crate::timing::Timing;

/// One line of a workload's table: the same case measured in both libraries.
pub struct Row {
    pub case: String,
    pub wgraph: Result<Timing, String>,
    pub burn: Result<Timing, String>,
    /// How the two results compare (outputs or losses), so a reader sees
    /// that both libraries computed the same thing.
    pub agreement: String,
}

/// Prints `rows` under `title` as a markdown table. `burn / wgraph` above 1
/// means wgraph is faster. "first result" is model construction plus the
/// first call ([`Timing::first_ms`]).
pub fn print_table(title: &str, adapter: &str, rows: &[Row]) {
    println!();
    println!("### {title}");
    println!();
    println!(
        "| case | wgraph median ms | burn median ms | burn / wgraph | wgraph first result ms | burn first result ms | results | adapter |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|---|");
    for row in rows {
        let ratio = match (&row.wgraph, &row.burn) {
            (Ok(ours), Ok(theirs)) => format!("{:.2}x", theirs.median_ms / ours.median_ms),
            _ => "-".to_string(),
        };
        println!(
            "| {} | {} | {} | {ratio} | {} | {} | {} | {adapter} |",
            row.case,
            median_cell(&row.wgraph),
            median_cell(&row.burn),
            first_cell(&row.wgraph),
            first_cell(&row.burn),
            row.agreement
        );
    }
}

/// The median (and the number of timed calls), or why there is none.
fn median_cell(t: &Result<Timing, String>) -> String {
    match t {
        Ok(t) => format!("{:.2} (n={}, min {:.2})", t.median_ms, t.runs, t.min_ms),
        Err(reason) => format!("failed: {reason}"),
    }
}

fn first_cell(t: &Result<Timing, String>) -> String {
    t.as_ref().map_or_else(|_| "-".to_string(), |t| format!("{:.0}", t.first_ms))
}
