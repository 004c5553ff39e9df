//! An input opened once: [`open`] sniffs the format from the file's first
//! bytes and reads and validates the header; the voxels are read later, in
//! the form the caller needs, without sniffing or parsing the header again.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result, Warning};
use crate::grid::Grid;
use crate::io::info::{DicomInfo, ImageInfo, Info, NrrdInfo};
use crate::io::nifti::{NiftiFile, NiftiTemplate};
use crate::io::nrrd::NrrdFile;
use crate::io::{dicom, format_of, Format, Loaded, ReadOptions};
use crate::volume::{LabelMap, Volume};

/// Voxels read as what they turned out to be.
#[derive(Debug, Clone)]
pub enum Image {
    /// A label map (a segmentation).
    Labels(LabelMap),
    /// An intensity image (CT in HU, MR), `f32`.
    Intensity(Volume<f32>),
}

/// The opened input, by format.
#[derive(Debug)]
enum Header {
    Nifti(Box<NiftiFile>),
    Nrrd(Box<NrrdFile>),
    /// A DICOM SEG file.
    DicomSeg,
    /// A DICOM image series (a directory or one of its files).
    DicomSeries,
}

/// An input whose format and header are known.
#[derive(Debug)]
pub struct Opened {
    path: PathBuf,
    options: ReadOptions,
    header: Header,
    /// The DICOM image series the voxels lie on, once read (a series, a
    /// mask series, or a SEG's reference series).
    source: std::sync::OnceLock<dicom::SourceSeries>,
}

/// Opens `path`: the format from its first bytes (a directory is a DICOM
/// series), and for NIfTI and NRRD the header, read and validated. For
/// DICOM the first file is read to tell a SEG from an image series; the
/// series itself is grouped and checked when its voxels are read.
///
/// # Errors
/// Read and header errors of the file.
pub fn open(path: &Path, options: &ReadOptions) -> Result<Opened> {
    let header = match format_of(path) {
        Format::Nifti => Header::Nifti(Box::new(NiftiFile::open(path)?)),
        Format::Nrrd => Header::Nrrd(Box::new(NrrdFile::open(path)?)),
        Format::Dicom if dicom::input_is_seg(path)? => Header::DicomSeg,
        Format::Dicom => Header::DicomSeries,
    };
    Ok(Opened {
        path: path.to_path_buf(),
        options: options.clone(),
        header,
        source: std::sync::OnceLock::new(),
    })
}

impl Opened {
    /// The path given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format.
    pub fn format(&self) -> Format {
        match self.header {
            Header::Nifti(_) => Format::Nifti,
            Header::Nrrd(_) => Format::Nrrd,
            Header::DicomSeg | Header::DicomSeries => Format::Dicom,
        }
    }

    /// The NIfTI file, for streaming its voxels.
    pub fn nifti(&self) -> Option<&NiftiFile> {
        match &self.header {
            Header::Nifti(f) => Some(f),
            _ => None,
        }
    }

    /// The header's warnings (NIfTI and NRRD; none for DICOM, whose
    /// warnings come with the voxels).
    pub fn warnings(&self) -> &[Warning] {
        match &self.header {
            Header::Nifti(f) => f.warnings(),
            Header::Nrrd(f) => f.warnings(),
            _ => &[],
        }
    }

    /// Whether the input is a DICOM SEG.
    pub fn is_dicom_seg(&self) -> bool {
        matches!(self.header, Header::DicomSeg)
    }

    /// Reads a label map (integers read raw, float maps accepted when every
    /// value is integral; a DICOM SEG onto the reference series' grid when
    /// the options name one).
    ///
    /// # Errors
    /// Header and data errors; `Header` (`Modality`) for a DICOM image series.
    pub fn read_label_map(&self) -> Result<Loaded<LabelMap>> {
        let (map, mut data_warnings, mut warnings) = match &self.header {
            Header::Nifti(f) => {
                let (m, w) = f.read_label_map(&self.options)?;
                (m, w, f.warnings().to_vec())
            }
            Header::Nrrd(f) => {
                let (m, w) = f.read_label_map(&self.options)?;
                (m, w, f.warnings().to_vec())
            }
            Header::DicomSeg => return self.read_seg(),
            Header::DicomSeries if self.options.mask_series => {
                let read = dicom::read_mask_series(&self.path, &self.options)?;
                let _ = self.source.set(read.source);
                return Ok(read.map);
            }
            Header::DicomSeries => {
                return Err(Error::Header {
                    path: self.path.clone(),
                    field: "Modality".into(),
                    expected: "a segmentation (a DICOM SEG, or an image series read as a mask with \
                               `mask_series`) where a mask or label map is needed"
                        .into(),
                    found: "a DICOM image series, not a segmentation".into(),
                })
            }
        };
        warnings.append(&mut data_warnings);
        Ok(Loaded { value: map, warnings })
    }

    /// Reads an intensity image as `f32` (NIfTI with `scl_slope`/`scl_inter`
    /// applied, DICOM rescaled to HU).
    ///
    /// # Errors
    /// Header and data errors; `Header` (`Modality`) for a DICOM SEG.
    pub fn read_intensity(&self) -> Result<Loaded<Volume<f32>>> {
        let (vol, mut data_warnings, mut warnings) = match &self.header {
            Header::Nifti(f) => {
                let (v, w) = f.read_intensity(&self.options)?;
                (v, w, f.warnings().to_vec())
            }
            Header::Nrrd(f) => {
                let (v, w) = f.read_intensity(&self.options)?;
                (v, w, f.warnings().to_vec())
            }
            Header::DicomSeg => {
                return Err(Error::Header {
                    path: self.path.clone(),
                    field: "Modality".into(),
                    expected: "an image series where an intensity image is needed".into(),
                    found: "a segmentation (DICOM SEG)".into(),
                })
            }
            Header::DicomSeries => {
                let series = dicom::read_series(
                    std::slice::from_ref(&self.path),
                    self.options.series.as_deref(),
                    &self.options,
                )?;
                let _ = self.source.set(series.source());
                return Ok(Loaded {
                    value: series.volume,
                    warnings: series.warnings,
                });
            }
        };
        warnings.append(&mut data_warnings);
        Ok(Loaded { value: vol, warnings })
    }

    /// Reads the voxels once as what they are: a DICOM SEG is a label map
    /// and a DICOM series an image; a NIfTI or NRRD file whose values are all
    /// whole numbers, none negative, is a label map, and any other an image
    /// (a CT in HU has negative values; float intensities are not integral).
    ///
    /// # Errors
    /// As [`Opened::read_label_map`] and [`Opened::read_intensity`].
    pub fn read_auto(&self) -> Result<Loaded<Image>> {
        let labels = |l: Loaded<LabelMap>| Loaded {
            value: Image::Labels(l.value),
            warnings: l.warnings,
        };
        let image = |l: Loaded<Volume<f32>>| Loaded {
            value: Image::Intensity(l.value),
            warnings: l.warnings,
        };
        match &self.header {
            Header::Nifti(f) => {
                let (value, mut data_warnings) = f.read_auto(&self.options)?;
                let mut warnings = f.warnings().to_vec();
                warnings.append(&mut data_warnings);
                Ok(Loaded { value, warnings })
            }
            Header::Nrrd(f) => match self.read_label_map() {
                // An integer image read as labels: converted, not read again.
                Ok(l) if l.value.overlays().is_empty() && l.value.labels().any_negative() => {
                    let v = l.value.labels().to_intensity(None);
                    Ok(Loaded {
                        value: Image::Intensity(Volume::new(f.grid().clone(), v)?),
                        warnings: f.warnings().to_vec(),
                    })
                }
                Ok(l) => Ok(labels(l)),
                // Float intensities: read as an image.
                Err(e) if e.kind() == crate::ErrorKind::Data => self.read_intensity().map(image),
                Err(e) => Err(e),
            },
            Header::DicomSeg => self.read_seg().map(labels),
            Header::DicomSeries if self.options.mask_series => self.read_label_map().map(labels),
            Header::DicomSeries => self.read_intensity().map(image),
        }
    }

    /// The header that files written on this input's grid take: a NIfTI
    /// input's own geometry fields (sform/qform codes, units, no
    /// extensions), or for other formats a header built from `grid`.
    pub fn output_template(&self, grid: &Grid) -> NiftiTemplate {
        match &self.header {
            Header::Nifti(f) => f.template().without_extensions(),
            _ => NiftiTemplate::from_grid(grid),
        }
    }

    /// The DICOM image series the voxels read lie on — the series itself, a
    /// mask series' reference (or itself), a SEG's reference series — for
    /// DICOM outputs to refer to; `None` before the voxels are read and for
    /// other inputs.
    pub fn dicom_source(&self) -> Option<&dicom::SourceSeries> {
        self.source.get()
    }

    /// What `liverkit info` reports about the input.
    ///
    /// # Errors
    /// Read and header errors of a DICOM input.
    pub fn info(&self) -> Result<Info> {
        Ok(match &self.header {
            Header::Nifti(f) => Info::Nifti(ImageInfo::of_nifti(f)),
            Header::Nrrd(f) => Info::Nrrd(NrrdInfo::of_nrrd(f)),
            Header::DicomSeg | Header::DicomSeries => Info::Dicom(DicomInfo::read_listed(
                std::slice::from_ref(&self.path),
                &self.options,
                self.is_dicom_seg(),
                None,
            )?),
        })
    }

    /// Reads a DICOM SEG, onto the reference series' grid when the options
    /// name one.
    fn read_seg(&self) -> Result<Loaded<LabelMap>> {
        let options = &self.options;
        let reference = match &options.reference {
            Some(r) => Some(dicom::read_series(
                std::slice::from_ref(r),
                options.series.as_deref(),
                options,
            )?),
            None => None,
        };
        let seg_options = dicom::SegOptions {
            threshold: options.seg_threshold,
        };
        let seg = dicom::read_seg(&self.path, reference.as_ref(), &seg_options, options)?;
        if let Some(r) = &reference {
            let _ = self.source.set(r.source());
        }
        let mut warnings = reference.map(|r| r.warnings).unwrap_or_default();
        warnings.extend(seg.warnings);
        Ok(Loaded {
            value: seg.map,
            warnings,
        })
    }
}
