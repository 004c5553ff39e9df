//! liverkit's integration tests: one binary, one module per area.

// Shared helpers: test data paths, the nibabel expectations, running the CLI.
mod common;

// Reading NIfTI files and comparing with nibabel's numbers.
mod nifti_read;

// Every broken file in testdata/bad gets a clear error naming the field.
mod bad_input;

// Distance transforms against brute force and scipy.
mod distance;

// Ablation margins and planning targets.
mod margin;

// Writing NIfTI files: round trips, geometry kept, atomic replacement.
mod nifti_write;

// Label volumetry: determinism, masks, edges, TotalSegmentator's own statistics.
mod volumetry;

// The future liver remnant and portal vein embolisation.
mod remnant;

// The bioheat solver against closed-form solutions; ablation simulation.
mod bioheat;

// Heat sinks: wall coefficients from flow, smooth in diameter, MW vs RF,
// the published perfused-tube experiment.
mod heat_sinks;

// The RF generator: delivered energy, current limit, cooled electrode,
// impedance control.
mod rf_generator;

// Boiling against its closed form; the microwave calibration against the
// published zone table.
mod boiling_calibration;

// The `liverkit` program: output formats, exit codes, broken pipes.
mod cli;

// liverkit simulate and protocols from the command line.
mod simulate_cli;

// DICOM series and SEG, NRRD and .seg.nrrd on real files.
mod formats;

// Hostile files and unbounded parameters: no panic, no hang, bounded memory.
mod hostile;

// Role files with several labels, borderline verdicts, outputs over inputs, usage errors.
mod real_use;

// The README's commands and the fixtures' commands print what they printed
// when recorded (a refactoring guard).
mod golden;

// DICOM mask series in; DICOM SEG and .seg.nrrd out, read back voxel for voxel.
mod dicom_out;

// Figures: slices in radiological convention, whatever the storage order.
mod figures;
// The needle planner: phantom oracles, real anatomy, bad input.
mod plan;

// The docs against the code: parameter defaults, cited sources, links.
mod docs_agree;

// The microwave pattern: its power delivered to an unbounded medium.
mod microwave_pattern;
