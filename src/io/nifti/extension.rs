//! NIfTI header extensions and the label table TotalSegmentator writes in them.
//!
//! After the header come 4 "extender" bytes; when the first is non-zero,
//! extensions follow until `vox_offset`, each `esize` (a multiple of 16,
//! including its 8-byte head), `ecode`, then `esize − 8` bytes of content.
//! TotalSegmentator stores its class map as XML in an extension with ecode 0
//! (a CARET-style `<LabelTable>` of `<Label Key="5">liver</Label>` entries).

use std::path::Path;

use quick_xml::events::Event;

use crate::error::Warning;
use crate::volume::LabelNames;

/// One header extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Extension code (`ecode`): 0 unknown, 4 AFNI, 6 comment, 30 CARET, …
    pub code: i32,
    /// Content (`esize − 8` bytes).
    pub data: Vec<u8>,
}

/// Parses the extension blocks in `bytes` (which start right after the
/// 4 extender bytes). A malformed block ends the list with a warning: the
/// voxel data, whose position `vox_offset` gives, is still read.
pub fn parse_extensions(
    path: &Path,
    bytes: &[u8],
    big_endian: bool,
    warnings: &mut Vec<Warning>,
) -> Vec<Extension> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let read_i32 = |at: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&bytes[at..at + 4]);
        if big_endian {
            i32::from_be_bytes(b)
        } else {
            i32::from_le_bytes(b)
        }
    };
    while pos + 8 <= bytes.len() {
        let esize = read_i32(pos);
        let ecode = read_i32(pos + 4);
        if esize == 0 && ecode == 0 {
            break; // zero padding up to vox_offset
        }
        if esize < 8 || pos + esize as usize > bytes.len() {
            warnings.push(Warning::new(
                Some(path),
                "extension esize",
                format!(
                    "extension {} declares {esize} bytes but {} remain before the voxel data; it and any later ones are ignored",
                    out.len() + 1,
                    bytes.len() - pos
                ),
            ));
            break;
        }
        out.push(Extension {
            code: ecode,
            data: bytes[pos + 8..pos + esize as usize].to_vec(),
        });
        pos += esize as usize;
    }
    out
}

/// Label names from the first extension that holds an XML `<LabelTable>`.
/// Returns an empty map when there is none; XML that cannot be parsed gives a
/// warning, never an error.
pub fn label_names(path: &Path, extensions: &[Extension], warnings: &mut Vec<Warning>) -> LabelNames {
    for ext in extensions {
        let text = String::from_utf8_lossy(&ext.data);
        if !text.contains("<LabelTable") {
            continue;
        }
        match parse_label_table(text.trim_end_matches(['\0', ' ', '\n', '\r', '\t'])) {
            Ok(names) => return names,
            Err(msg) => warnings.push(Warning::new(
                Some(path),
                format!("extension (ecode {})", ext.code),
                format!("label table could not be read, labels stay unnamed: {msg}"),
            )),
        }
    }
    LabelNames::new()
}

/// Whether an extension holds an XML label table.
pub fn is_label_table(ext: &Extension) -> bool {
    String::from_utf8_lossy(&ext.data).contains("<LabelTable")
}

/// A label-table extension (ecode 0, the layout TotalSegmentator writes) for
/// `names`, readable by [`label_names`].
pub fn label_table_extension(names: &LabelNames) -> Extension {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CaretExtension>\n<VolumeInformation Index=\"0\">\n<LabelTable>\n",
    );
    for (key, name) in names {
        xml.push_str(&format!(
            "<Label Key=\"{key}\">{}</Label>\n",
            quick_xml::escape::escape(name.as_str())
        ));
    }
    xml.push_str("</LabelTable>\n<VolumeType>Label</VolumeType>\n</VolumeInformation>\n</CaretExtension>\n");
    Extension {
        code: 0,
        data: xml.into_bytes(),
    }
}

fn parse_label_table(xml: &str) -> Result<LabelNames, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut names = LabelNames::new();
    let mut current: Option<i64> = None;
    let mut text = String::new();
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) if e.name().as_ref() == "Label" => {
                let mut key = None;
                for attr in e.attributes() {
                    let attr = attr.map_err(|e| e.to_string())?;
                    if attr.key.as_ref() == "Key" {
                        let v = attr.value.to_string();
                        key = Some(
                            v.trim()
                                .parse::<i64>()
                                .map_err(|_| format!("Label Key {v:?} is not an integer"))?,
                        );
                    }
                }
                current = Some(key.ok_or("a <Label> without Key")?);
                text.clear();
            }
            Event::Text(t) if current.is_some() => {
                text.push_str(&t.xml10_content());
            }
            Event::CData(t) if current.is_some() => {
                text.push_str(&t.xml10_content());
            }
            Event::GeneralRef(r) if current.is_some() => {
                // &#NN; character references and the five predefined entities.
                let name: &str = &r;
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    _ => quick_xml::escape::resolve_predefined_entity(name).and_then(|s| s.chars().next()),
                };
                match resolved {
                    Some(c) => text.push(c),
                    None => {
                        text.push('&');
                        text.push_str(name);
                        text.push(';');
                    }
                }
            }
            Event::End(e) if e.name().as_ref() == "Label" => {
                if let Some(k) = current.take() {
                    names.insert(k, text.trim().to_string());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_totalsegmentator_label_table() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?> <CaretExtension> <VolumeInformation Index="0"> <LabelTable>
<Label Key="5" Red="0.0" Green="1.0" Blue="1.0" Alpha="1"><![CDATA[liver]]></Label>
<Label Key="90" Red="1.0"><![CDATA[brain]]></Label>
<Label Key="7">plain text</Label>
</LabelTable> </VolumeInformation></CaretExtension>"#;
        let names = parse_label_table(xml).unwrap();
        assert_eq!(names.get(&5).map(String::as_str), Some("liver"));
        assert_eq!(names.get(&90).map(String::as_str), Some("brain"));
        assert_eq!(names.get(&7).map(String::as_str), Some("plain text"));
        assert_eq!(names.len(), 3);
    }

    #[test]
    fn label_table_round_trip() {
        let names: LabelNames = [(1, "liver".to_string()), (300, "a <b> & \"c\"".to_string())].into();
        let ext = label_table_extension(&names);
        assert!(is_label_table(&ext));
        let mut w = Vec::new();
        assert_eq!(label_names(Path::new("f.nii"), &[ext], &mut w), names);
        assert!(w.is_empty());
    }

    #[test]
    fn bad_label_table_warns() {
        let ext = Extension {
            code: 0,
            data: b"<LabelTable><Label Key=\"x\">a</Label></LabelTable>".to_vec(),
        };
        let mut w = Vec::new();
        let names = label_names(Path::new("f.nii"), &[ext], &mut w);
        assert!(names.is_empty());
        assert_eq!(w.len(), 1);
        assert!(w[0].message.contains("not an integer"), "{}", w[0]);
    }

    #[test]
    fn malformed_extension_sizes_warn_and_stop() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&16i32.to_le_bytes());
        bytes.extend_from_slice(&6i32.to_le_bytes());
        bytes.extend_from_slice(b"comment\0");
        bytes.extend_from_slice(&400i32.to_le_bytes());
        bytes.extend_from_slice(&6i32.to_le_bytes());
        let mut w = Vec::new();
        let ext = parse_extensions(Path::new("f.nii"), &bytes, false, &mut w);
        assert_eq!(ext.len(), 1);
        assert_eq!(ext[0].code, 6);
        assert_eq!(w.len(), 1);
    }
}
