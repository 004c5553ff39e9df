//! Atomic output: write into a private staging folder beside the target, then
//! rename into place. A reader never sees a half-written file, and a failed
//! write leaves nothing behind (the staging folder is removed on drop).

use std::path::{Path, PathBuf};

use crate::error::{parameter_error, Error, Result};

/// An output being written: [`AtomicOutput::staging_path`] is where the
/// writer puts the file; [`AtomicOutput::commit`] moves it to the target.
#[derive(Debug)]
pub struct AtomicOutput {
    target: PathBuf,
    staging: PathBuf,
    /// For `.hdr` outputs: the `.img` written beside the staged header, and its target.
    companion: Option<(PathBuf, PathBuf)>,
    dir: tempfile::TempDir,
}

/// Recognised NIfTI output suffixes, longest first.
const SUFFIXES: [&str; 4] = [".nii.gz", ".hdr.gz", ".nii", ".hdr"];

impl AtomicOutput {
    /// Prepares to write the NIfTI file `target`.
    ///
    /// # Errors
    /// `Parameter` when the name does not end in `.nii`, `.nii.gz`, `.hdr` or
    /// `.hdr.gz`; `Write` when the staging folder cannot be created.
    pub fn new(target: &Path) -> Result<AtomicOutput> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let lower = name.to_lowercase();
        let Some(suffix) = SUFFIXES
            .iter()
            .find(|s| lower.ends_with(*s) && lower.len() > s.len())
        else {
            return Err(parameter_error(
                "output path",
                target.display(),
                "a file name ending in .nii, .nii.gz, .hdr or .hdr.gz",
            ));
        };
        let dir = staging_dir(target)?;
        let staging = dir.path().join(format!("out{suffix}"));
        let companion = suffix.starts_with(".hdr").then(|| {
            let img_suffix = suffix.replace(".hdr", ".img");
            let stem = &name[..name.len() - suffix.len()];
            (
                dir.path().join(format!("out{img_suffix}")),
                target.with_file_name(format!("{stem}{img_suffix}")),
            )
        });
        Ok(AtomicOutput {
            target: target.to_path_buf(),
            staging,
            companion,
            dir,
        })
    }

    /// Where the writer must write.
    pub fn staging_path(&self) -> &Path {
        &self.staging
    }

    /// Where the writer must write the voxels of a `.hdr`/`.img` pair (the
    /// `.img` or `.img.gz` beside the staged header); `None` for `.nii`.
    pub fn companion_path(&self) -> Option<&Path> {
        self.companion.as_ref().map(|(staged, _)| staged.as_path())
    }

    /// Moves the written file(s) into place (the `.img` of a pair first, so
    /// that a header never points to missing voxels).
    ///
    /// # Errors
    /// `Write` when a rename fails; the staged files are then removed.
    pub fn commit(self) -> Result<()> {
        let write_err = |path: &Path, e: std::io::Error| Error::Write {
            path: path.to_path_buf(),
            source: e,
        };
        if let Some((staged, target)) = &self.companion {
            std::fs::rename(staged, target).map_err(|e| write_err(target, e))?;
        }
        std::fs::rename(&self.staging, &self.target).map_err(|e| write_err(&self.target, e))?;
        drop(self.dir);
        Ok(())
    }
}

/// Writes `bytes` to `target` atomically (for reports and other text files).
///
/// # Errors
/// `Write` when the file cannot be written; nothing is left at `target`.
pub fn write_file(target: &Path, bytes: &[u8]) -> Result<()> {
    let dir = staging_dir(target)?;
    let staged = dir.path().join("out");
    let write_err = |e: std::io::Error| Error::Write {
        path: target.to_path_buf(),
        source: e,
    };
    std::fs::write(&staged, bytes).map_err(write_err)?;
    std::fs::rename(&staged, target).map_err(write_err)?;
    Ok(())
}

fn staging_dir(target: &Path) -> Result<tempfile::TempDir> {
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    staging_dir_in(&parent).map_err(|e| match e {
        Error::Write { source, .. } => Error::Write {
            path: target.to_path_buf(),
            source,
        },
        e => e,
    })
}

/// Writes a set of files into `dir` (created when missing), all or none:
/// `write(i, path)` writes the `i`-th of `names` into a staging folder, and
/// the set is moved into place only when every file is complete, so a
/// failed or killed run never leaves new files beside old ones. Returns the
/// final path of each name.
///
/// # Errors
/// `Write` when the folder or a file cannot be written; the first error of
/// `write`.
pub fn write_set_in(
    dir: &Path,
    names: &[&str],
    mut write: impl FnMut(usize, &Path) -> Result<()>,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let staging = staging_dir_in(dir)?;
    for (i, name) in names.iter().enumerate() {
        write(i, &staging.path().join(name))?;
    }
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let target = dir.join(name);
        std::fs::rename(staging.path().join(name), &target).map_err(|source| Error::Write {
            path: target.clone(),
            source,
        })?;
        out.push(target);
    }
    Ok(out)
}

/// A private staging folder in `dir`, named `.liverkit-PID-…` after this
/// process. Staging folders left there by processes that no longer run (a
/// killed run) are removed first.
///
/// # Errors
/// `Write` when the folder cannot be created.
pub fn staging_dir_in(dir: &Path) -> Result<tempfile::TempDir> {
    remove_stale_staging(dir);
    tempfile::Builder::new()
        .prefix(&format!(".liverkit-{}-", std::process::id()))
        .tempdir_in(dir)
        .map_err(|e| Error::Write {
            path: dir.to_path_buf(),
            source: e,
        })
}

/// Removes `.liverkit-PID-…` folders in `dir` whose process has ended
/// (Linux: no `/proc/PID`). Folders of running processes, and names
/// without a process number, are left alone.
fn remove_stale_staging(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(".liverkit-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let alive = Path::new("/proc").join(pid.to_string()).exists() || !Path::new("/proc/self").exists();
        if !alive && entry.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Refuses an output that would replace one of the inputs: `output` and an
/// input are the same file when both exist and resolve to one path after
/// links are followed (a hard link counts too: same device and inode).
/// Inputs may be role texts (`FILE:LABEL`): the file part is compared.
/// Called before any work, so a mistyped output never destroys a
/// segmentation.
///
/// # Errors
/// `Parameter` (`output path`) naming both paths.
pub fn ensure_not_input(output: &Path, inputs: &[&str]) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Ok(out_meta) = std::fs::metadata(output) else {
        return Ok(());
    };
    let out_real = std::fs::canonicalize(output).ok();
    for text in inputs {
        let mut candidates = vec![PathBuf::from(text)];
        if let Some((file, _)) = text.rsplit_once(':') {
            candidates.push(PathBuf::from(file));
        }
        for c in candidates {
            let Ok(meta) = std::fs::metadata(&c) else {
                continue;
            };
            let same_path = out_real.is_some() && std::fs::canonicalize(&c).ok() == out_real;
            let same_inode = meta.dev() == out_meta.dev() && meta.ino() == out_meta.ino();
            if same_path || same_inode {
                return Err(parameter_error(
                    "output path",
                    output.display(),
                    format!(
                        "a file other than the input {} (writing there would destroy it)",
                        c.display()
                    ),
                ));
            }
        }
    }
    Ok(())
}
