//! AmiraMesh ASCII landmark files (`.landmarkAscii`): 3-D points such as ISF's dendritic
//! recording sites. Only the first marker set (`@1` data section) is read.

use crate::diagnostics::Code;
use crate::files::FileError;
use std::path::Path;

/// Read the points of a landmark file.
pub fn read_landmarks(path: &Path) -> Result<Vec<[f64; 3]>, FileError> {
    let name = path.display().to_string();
    let text = crate::files::read_data(path).map_err(|e| {
        FileError::new(
            Code::E0801,
            format!("cannot read landmark file: {e}"),
            &name,
            0,
            0,
        )
    })?;
    parse_landmarks(&text, &name)
}

/// Parse landmark text; `file` names it in errors.
pub fn parse_landmarks(text: &str, file: &str) -> Result<Vec<[f64; 3]>, FileError> {
    let mut expected = None;
    let mut in_data = false;
    let mut points = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("define Markers") {
            expected = rest.trim().parse::<usize>().ok();
        }
        if t == "@1" {
            in_data = true;
            continue;
        }
        if !in_data || t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with('@') {
            break;
        }
        let v: Result<Vec<f64>, _> = t.split_whitespace().map(str::parse::<f64>).collect();
        match v {
            Ok(v) if v.len() == 3 && v.iter().all(|x| x.is_finite()) => {
                points.push([v[0], v[1], v[2]])
            }
            _ => {
                return Err(FileError::new(
                    Code::E0802,
                    "a landmark needs three finite coordinates",
                    file,
                    i + 1,
                    1,
                ));
            }
        }
    }
    if !in_data {
        return Err(FileError::new(
            Code::E0802,
            "no `@1` data section",
            file,
            0,
            0,
        ));
    }
    if let Some(n) = expected
        && n != points.len()
    {
        return Err(FileError::new(
            Code::E0802,
            format!(
                "the header defines {n} markers but the data has {}",
                points.len()
            ),
            file,
            0,
            0,
        ));
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_points_and_rejects_bad_lines() {
        let t = "define Markers 2\nMarkers { float[3] Coordinates } @1\n# Data section \
                 follows\n@1\n1 2 3\n4e0 5 -6\n";
        assert_eq!(
            parse_landmarks(t, "x").unwrap(),
            vec![[1.0, 2.0, 3.0], [4.0, 5.0, -6.0]]
        );
        assert!(parse_landmarks("define Markers 1\n@1\n1 2\n", "x").is_err());
        assert!(parse_landmarks("define Markers 2\n@1\n1 2 3\n", "x").is_err());
        assert!(parse_landmarks("nothing", "x").is_err());
    }
}
