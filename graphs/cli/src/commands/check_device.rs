//! `wgraph check-device`: every case of the op table on this device against
//! the CPU interpreter (the browser demo's "Check this device", natively).

use crate::progress::step;
use crate::Result;
use wgraph::debug::check_device;
use wgraph::Device;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Seeds to draw each case's inputs with (each seed: other awkward shapes).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=16))]
    seeds: u64,
}

/// Prints the report and every difference; returns whether a case differed.
pub(crate) fn exec(args: &Args) -> Result<bool> {
    let device = Device::new()?;
    let seeds: Vec<u64> = (0..args.seeds).collect();
    let bar = step("checking the op table");
    let report = check_device(&device, &seeds, |case, done, total| {
        bar.set_message(format!("op case {} of {total}: {case}", done + 1));
    });
    bar.finish_and_clear();
    say!("{report}");
    for failure in report.failures.iter().skip(1) {
        say!("  also: {failure}");
    }
    Ok(!report.failures.is_empty())
}
