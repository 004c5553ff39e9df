//! Argument parsing and dispatch for the `liverkit` program.

mod figures;
mod info;
mod margin;
mod output;
mod plan;
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
    #[arg(long, global = true, help_heading = "Global options", value_name = "N")]
    threads: Option<usize>,

    /// Refuse files announcing more voxel data than this, in GiB.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "GIB",
        default_value_t = liverkit::vocabulary::MAX_MEMORY_GIB.default_value()
    )]
    max_memory_gib: f64,

    /// The DICOM series to read when a directory holds several (its
    /// SeriesInstanceUID, as `liverkit info DIR` lists them).
    #[arg(long, global = true, help_heading = "Global options", value_name = "UID")]
    series: Option<String>,

    /// Read DICOM SEGs onto the grid of this DICOM series (a directory or
    /// file), after checking that they reference it.
    #[arg(long, global = true, help_heading = "Global options", value_name = "PATH")]
    reference: Option<std::path::PathBuf>,

    /// Fraction at or above which a FRACTIONAL DICOM SEG voxel belongs to its
    /// segment.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "F",
        default_value_t = liverkit::vocabulary::SEG_THRESHOLD.default_value()
    )]
    seg_threshold: f64,

    /// Read a DICOM image series given where a mask or label map is needed
    /// (a directory, or one of its files) as a mask: every non-zero stored
    /// value is inside. For archives that keep each structure as its own
    /// 8-bit series (0/1 or 0/255), one folder per structure.
    #[arg(long, global = true, help_heading = "Global options")]
    mask_series: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Volume (mL), bounding box, centroid and edge contact of every label.
    ///
    /// PATH is one label map, several mask files, or a directory of masks
    /// (such as TotalSegmentator's output folder, one label per file).
    #[command(
        after_help = "Example:\n  liverkit volumes testdata/totalsegmentator/example_seg_fast_force_split.nii.gz --csv"
    )]
    Volumes(VolumesArgs),
    /// Header, geometry and label names of an image file.
    #[command(after_help = "Example:\n  liverkit info testdata/sample_case/pre_pve.nii.gz")]
    Info(InfoArgs),
    /// The future liver remnant: volumes, FLR %, sFLR %, and whether it is enough.
    ///
    /// Exit status 1 when the remnant is below the threshold.
    #[command(
        after_help = "Example:\n  liverkit remnant testdata/sample_case/pre_pve.nii.gz --resection right-hepatectomy --height-cm 175 --weight-kg 75"
    )]
    Remnant(remnant::RemnantArgs),
    /// Growth of the future liver remnant after portal vein embolisation.
    ///
    /// Exit status 1 when the post-PVE remnant or the kinetic growth rate is too small.
    #[command(
        after_help = "Example:\n  liverkit pve testdata/sample_case/pre_pve.nii.gz testdata/sample_case/post_pve.nii.gz --resection right-hepatectomy --height-cm 175 --weight-kg 75 --days 28"
    )]
    Pve(remnant::PveArgs),
    /// The ablation target of each tumour: tumour + margin inside the liver,
    /// healthy liver it takes, room at the capsule, nearby vessels.
    #[command(
        after_help = "Example:\n  liverkit target testdata/sample_case/pre_pve.nii.gz --out target.nii.gz"
    )]
    Target(margin::TargetArgs),
    /// The margin an ablation zone gives each tumour: minimum, percentiles,
    /// coverage, residual tumour; exit status 1 when it falls short.
    #[command(
        after_help = "Example:\n  liverkit margin --tumor testdata/sample_case/pre_pve.nii.gz:liver_tumor --zone testdata/sample_case/ablation_zone.nii.gz"
    )]
    Margin(margin::MarginArgs),
    /// Predict the ablation zone (bioheat simulation on the patient's voxels)
    /// and whether it covers the tumour and its margin; exit status 1 when not.
    #[command(
        after_help = "Example:\n  liverkit simulate testdata/sample_case/pre_pve.nii.gz --applicator mwa --power-w 50 --time-s 600 --tip 70,-30,-45 --direction 0,0,-1"
    )]
    Simulate(Box<simulate::SimulateArgs>),
    /// Plan the ablation: the needle path, tip, power and time that cover the
    /// tumour and its margin, avoiding bones, lungs, bowel and vessels (each
    /// separate tumour of the mask planned on its own, those less than two
    /// margins apart as one); exit status 1 when a tumour is left uncovered.
    #[command(
        after_help = "Example:\n  liverkit plan testdata/totalsegmentator/example_seg.nii.gz --tumor tumor.nii.gz"
    )]
    Plan(Box<plan::PlanArgs>),
    /// The device-protocol library: reference zones beside the model's, and
    /// the microwave calibration.
    #[command(after_help = "Example:\n  liverkit protocols")]
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
    /// Write the volumes as a DICOM Structured Report (TID 1500 measurement
    /// report), in the study of --reference when given.
    #[arg(long, value_name = "FILE.dcm")]
    sr: Option<std::path::PathBuf>,
    /// Slices, report and 3D view of the largest labels (at most 12), in
    /// colours of their own, through the centre of all labelled voxels.
    #[command(flatten)]
    figures: figures::FigureArgs,
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

/// Parses the command line. A usage error is printed like every other
/// error, prefixed `liverkit:` (with clap's usage text below it), exit 2;
/// `--help` and `--version` print as usual.
pub fn parse() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    // Negative numbers are values (`--power-w -5` is refused by the range
    // check, not by the parser with a misleading `-- -5` tip).
    let command = Cli::command()
        .allow_negative_numbers(true)
        .mut_subcommands(|s| s.allow_negative_numbers(true));
    let parsed = command.try_get_matches().and_then(|m| Cli::from_arg_matches(&m));
    match parsed {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind as K;
            if matches!(
                e.kind(),
                K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            let text = e.render().to_string();
            let text = text.strip_prefix("error: ").unwrap_or(&text);
            eprint!("liverkit: {text}");
            std::process::exit(2);
        }
    }
}

impl Cli {
    /// The subcommand's name as typed (`simulate`, …).
    pub fn command_name(&self) -> &'static str {
        match self.command {
            Command::Volumes(_) => "volumes",
            Command::Info(_) => "info",
            Command::Remnant(_) => "remnant",
            Command::Pve(_) => "pve",
            Command::Target(_) => "target",
            Command::Margin(_) => "margin",
            Command::Simulate(_) => "simulate",
            Command::Protocols(_) => "protocols",
            Command::Plan(_) => "plan",
        }
    }
}

/// The library names parameters as data (`time_s`, `margin_mm`); on the
/// command line they are flags. A parameter named in an error, whether as
/// the error's parameter or in backticks in its text, that is one of
/// `command`'s options (or a global one) is rendered as the flag the user
/// types (`--time-s`). This and [`flags`] are the command line's one place
/// for it.
pub fn as_flags(e: Error, command: &str) -> Error {
    e.render_parameters(|name| flag_of(name, Some(command)))
}

/// A library text (a warning, a threshold's source) with the parameter
/// names in backticks rendered as the flags of any command.
pub fn flags(text: &str) -> String {
    liverkit::error::render_parameters(text, |name| flag_of(name, None))
}

/// `--margin-mm` for `margin_mm`, when `command` (or, without one, any
/// command) or the global options have that flag.
fn flag_of(name: &str, command: Option<&str>) -> Option<String> {
    use clap::CommandFactory;
    if name.starts_with("--") {
        return None;
    }
    let flag = name.replace('_', "-");
    let known = |c: &clap::Command| c.get_arguments().any(|a| a.get_long() == Some(flag.as_str()));
    let root = Cli::command();
    let has = known(&root)
        || match command {
            Some(c) => root.find_subcommand(c).is_some_and(known),
            None => root.get_subcommands().any(known),
        };
    has.then(|| format!("--{flag}"))
}

/// The parser of an option that takes one of the library's names
/// ([`liverkit::vocabulary::Named`]): clap lists and completes them.
pub fn choice<T>() -> impl clap::builder::TypedValueParser<Value = T>
where
    T: liverkit::vocabulary::Named + std::str::FromStr<Err = Error> + Send + Sync + Clone,
{
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(T::NAMES.iter().map(|(n, _)| *n)).try_map(|s| s.parse::<T>())
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
        // More threads than a few per core only costs memory and start-up
        // time (each reserves a stack); a huge count is a typing error.
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        let most = (4 * cores).max(64);
        if n == 0 || n > most {
            return Err(parameter(
                "--threads",
                n,
                &format!("1 to {most} threads (this machine has {cores} cores)"),
            ));
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
    .map_err(|e| e.render_parameters(|name| flag_of(name, None)))?
    .with_mask_series(cli.mask_series);
    match cli.command {
        Command::Volumes(a) => volumes::run(&a, &options),
        Command::Info(a) => info::run(&a, &options),
        Command::Remnant(a) => remnant::run_remnant(&a, &options),
        Command::Pve(a) => remnant::run_pve(&a, &options),
        Command::Target(a) => margin::run_target(&a, &options),
        Command::Margin(a) => margin::run_margin(&a, &options),
        Command::Simulate(a) => simulate::run_simulate(&a, &options),
        Command::Protocols(a) => simulate::run_protocols(&a),
        Command::Plan(a) => plan::run_plan(&a, &options),
    }
}

fn parameter(name: &str, value: impl ToString, expected: &str) -> Failure {
    Failure::Error(Error::parameter(name, value, expected))
}
