//! Argument parsing and dispatch for the `liverkit` program.

mod info;
mod margin;
mod output;
mod remnant;
mod simulate;
mod volumes;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use liverkit::io::ReadOptions;
use liverkit::Error;

/// Liver volumetry and ablation-zone computation on segmented CT/MR scans.
///
/// Volumes are exact voxel counts times |det| of the scan's affine, in mL.
/// Exit status: 0 success, 1 a clinical check failed, 2 error.
#[derive(Debug, Parser)]
#[command(name = "liverkit", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// Worker threads (default: one per core).
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,

    /// Refuse files announcing more voxel data than this, in GiB.
    #[arg(long, global = true, value_name = "GIB", default_value_t = 16.0)]
    max_memory_gib: f64,

    /// The DICOM series to read when a directory holds several (its
    /// SeriesInstanceUID, as `liverkit info DIR` lists them).
    #[arg(long, global = true, value_name = "UID")]
    series: Option<String>,

    /// Read DICOM SEGs onto the grid of this DICOM series (a directory or
    /// file), after checking that they reference it.
    #[arg(long, global = true, value_name = "PATH")]
    reference: Option<std::path::PathBuf>,

    /// Fraction at or above which a FRACTIONAL DICOM SEG voxel belongs to its
    /// segment.
    #[arg(long, global = true, value_name = "F", default_value_t = 0.5)]
    seg_threshold: f64,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Volume (mL), bounding box, centroid and edge contact of every label.
    ///
    /// PATH is one label map, several mask files, or a directory of masks
    /// (such as TotalSegmentator's output folder, one label per file).
    Volumes(VolumesArgs),
    /// Header, geometry and label names of an image file.
    Info(InfoArgs),
    /// The future liver remnant: volumes, FLR %, sFLR %, and whether it is enough.
    ///
    /// Exit status 1 when the remnant is below the threshold.
    Remnant(remnant::RemnantArgs),
    /// Growth of the future liver remnant after portal vein embolisation.
    ///
    /// Exit status 1 when the post-PVE remnant or the kinetic growth rate is too small.
    Pve(remnant::PveArgs),
    /// The ablation target of each tumour: tumour + margin inside the liver,
    /// healthy liver it takes, room at the capsule, nearby vessels.
    Target(margin::TargetArgs),
    /// The margin an ablation zone gives each tumour: minimum, percentiles,
    /// coverage, residual tumour; exit status 1 when it falls short.
    Margin(margin::MarginArgs),
    /// Predict the ablation zone (bioheat simulation on the patient's voxels)
    /// and whether it covers the tumour and its margin; exit status 1 when not.
    Simulate(Box<simulate::SimulateArgs>),
    /// The device-protocol library: reference zones beside the model's, and
    /// the microwave calibration.
    Protocols(simulate::ProtocolsArgs),
}

#[derive(Debug, Args)]
struct VolumesArgs {
    /// Label map, mask files, or a directory of masks.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV (one row per label) instead of a table.
    #[arg(long)]
    csv: bool,
    /// Treat a single file as a mask (all non-zero voxels are one structure).
    #[arg(long)]
    masks: bool,
}

#[derive(Debug, Args)]
struct InfoArgs {
    /// The image file; or a DICOM series as a directory or as its files.
    #[arg(value_name = "PATH")]
    path: PathBuf,
    /// More files of the same DICOM series.
    #[arg(value_name = "MORE")]
    more: Vec<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Why the program stops early.
pub enum Failure {
    /// stdout was closed (`liverkit … | head`): stop quietly.
    BrokenPipe,
    /// An error to report, exit status 2.
    Error(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Error(e)
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<ExitCode, Failure> {
    if let Some(n) = cli.threads {
        if n == 0 {
            return Err(parameter("--threads", n, "at least 1 thread"));
        }
        // Fails only when the pool was already built, which cannot happen here.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
    }
    let options = ReadOptions::checked(
        cli.max_memory_gib,
        cli.seg_threshold,
        cli.series.clone(),
        cli.reference.clone(),
    )
    .map_err(|e| match e {
        // Name the option as the user wrote it.
        Error::Parameter {
            name,
            value,
            expected,
        } => Error::Parameter {
            name: format!("--{}", name.replace('_', "-")),
            value,
            expected,
        },
        e => e,
    })?;
    match cli.command {
        Command::Volumes(a) => volumes::run(&a, &options),
        Command::Info(a) => info::run(&a, &options),
        Command::Remnant(a) => remnant::run_remnant(&a, &options),
        Command::Pve(a) => remnant::run_pve(&a, &options),
        Command::Target(a) => margin::run_target(&a, &options),
        Command::Margin(a) => margin::run_margin(&a, &options),
        Command::Simulate(a) => simulate::run_simulate(&a, &options),
        Command::Protocols(a) => simulate::run_protocols(&a),
    }
}

fn parameter(name: &str, value: impl ToString, expected: &str) -> Failure {
    Failure::Error(Error::parameter(name, value, expected))
}
