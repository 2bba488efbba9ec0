//! Reader for the CMU Keystroke Dynamics Benchmark (`DSL-StrongPasswordData.csv`; Killourhy & Maxion,
//! DSN 2009): 51 subjects × 8 sessions × 50 repetitions of `.tie5Roanl` + Return, 31 timings in seconds.
//!
//! Samples are returned in milliseconds, in the file's column order, which is the order of
//! [`FixedTextLayout::cmu_strong_password`](keyprint_core::keystroke::FixedTextLayout::cmu_strong_password).

use crate::report::{Loaded, ReadError, ReadReport, read_to_string};
use keyprint_core::keystroke::FixedTextLayout;
use std::path::Path;

/// One typing of the password.
#[derive(Clone, Debug, PartialEq)]
pub struct CmuSample {
    /// Subject id as in the file (`s002`).
    pub subject: String,
    /// Session index, 1–8.
    pub session: u32,
    /// Repetition within the session, 1–50.
    pub rep: u32,
    /// The 31 timings, ms.
    pub features: Vec<f64>,
}

/// The data set, grouped by subject in file order.
#[derive(Clone, Debug, Default)]
pub struct CmuData {
    /// Feature names (`H.period`, …), from the header.
    pub feature_names: Vec<String>,
    /// `(subject, samples in file order)`.
    pub subjects: Vec<(String, Vec<CmuSample>)>,
}

/// Reads the CMU file.
///
/// # Errors
/// [`ReadError`] when the file cannot be read or its header is not the CMU header.
pub fn read_cmu(path: &Path) -> Result<Loaded<CmuData>, ReadError> {
    let text = read_to_string(path)?;
    parse_cmu(&text, &path.display().to_string())
}

/// Parses CMU text (`name` is used in row reports). Rows with a wrong field count, an unparsable or
/// negative hold, a non-finite timing, or a bad session/rep are rejected and reported.
///
/// # Errors
/// [`ReadError::Header`] when the header is missing or differs from the CMU header.
pub fn parse_cmu(text: &str, name: &str) -> Result<Loaded<CmuData>, ReadError> {
    let expected: Vec<String> = FixedTextLayout::cmu_strong_password().feature_names();
    let mut lines = text.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, l)| l.trim_end_matches('\r'))
        .unwrap_or("");
    let cols: Vec<&str> = header.split(',').collect();
    if cols.len() != 34
        || cols[..3] != ["subject", "sessionIndex", "rep"]
        || cols[3..] != expected[..]
    {
        return Err(ReadError::Header {
            path: name.to_string(),
            reason: format!("expected `subject,sessionIndex,rep,{}`", expected.join(",")),
        });
    }
    let mut report = ReadReport::default();
    let mut data = CmuData {
        feature_names: expected.clone(),
        subjects: Vec::new(),
    };
    'rows: for (i, raw) in lines {
        let line_no = i as u64 + 1;
        let line = raw.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 34 {
            report.reject(
                name,
                line_no,
                None,
                format!("expected 34 fields, found {}", f.len()),
            );
            continue;
        }
        let session = match f[1].parse::<u32>() {
            Ok(v) if v >= 1 => v,
            _ => {
                report.reject(
                    name,
                    line_no,
                    Some("sessionIndex"),
                    format!("not a positive integer: {:?}", f[1]),
                );
                continue;
            }
        };
        let rep = match f[2].parse::<u32>() {
            Ok(v) if v >= 1 => v,
            _ => {
                report.reject(
                    name,
                    line_no,
                    Some("rep"),
                    format!("not a positive integer: {:?}", f[2]),
                );
                continue;
            }
        };
        let mut features = Vec::with_capacity(31);
        for (j, v) in f[3..].iter().enumerate() {
            match v.parse::<f64>() {
                Ok(x) if x.is_finite() => {
                    if expected[j].starts_with("H.") && x < 0.0 {
                        report.reject(
                            name,
                            line_no,
                            Some(&expected[j]),
                            format!("negative hold {x}"),
                        );
                        continue 'rows;
                    }
                    features.push(x * 1000.0);
                }
                _ => {
                    report.reject(
                        name,
                        line_no,
                        Some(&expected[j]),
                        format!("not a finite number: {v:?}"),
                    );
                    continue 'rows;
                }
            }
        }
        report.accepted += 1;
        let sample = CmuSample {
            subject: f[0].to_string(),
            session,
            rep,
            features,
        };
        match data.subjects.last_mut() {
            Some((s, v)) if *s == sample.subject => v.push(sample),
            _ => {
                if let Some(pos) = data.subjects.iter().position(|(s, _)| *s == sample.subject) {
                    report.repair("subject rows not contiguous (regrouped)");
                    data.subjects[pos].1.push(sample);
                } else {
                    data.subjects.push((sample.subject.clone(), vec![sample]));
                }
            }
        }
    }
    Ok(Loaded { data, report })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> String {
        format!(
            "subject,sessionIndex,rep,{}",
            FixedTextLayout::cmu_strong_password()
                .feature_names()
                .join(",")
        )
    }
    fn row(subject: &str, v: &str) -> String {
        format!("{subject},1,1,{}", vec![v; 31].join(","))
    }

    #[test]
    fn bad_rows_are_reported_with_line_and_field() {
        let mut rows = vec![header(), row("s002", "0.1")];
        rows.push(row("s002", "0.1").replacen("0.1", "abc", 1)); // line 3: bad H.period
        rows.push("s002,1,1,0.1".to_string()); // line 4: short
        rows.push(row("s002", "0.1").replacen(",1,1,", ",x,1,", 1)); // line 5
        rows.push(row("s002", "-0.1")); // line 6: negative hold
        rows.push(row("s002", "NaN")); // line 7
        let text = rows.join("\r\n");
        let out = parse_cmu(&text, "t.csv").unwrap();
        assert_eq!(out.report.accepted, 1);
        let got: Vec<String> = out.report.rejected.iter().map(|r| r.to_string()).collect();
        assert_eq!(got.len(), 5, "{got:?}");
        assert!(got[0].starts_with("t.csv:3: field `H.period`"));
        assert!(got[1].starts_with("t.csv:4: expected 34 fields"));
        assert!(got[2].starts_with("t.csv:5: field `sessionIndex`"));
        assert!(got[3].starts_with("t.csv:6: field `H.period`: negative"));
        assert!(got[4].starts_with("t.csv:7: field `H.period`"));
    }

    #[test]
    fn wrong_header_is_an_error() {
        assert!(matches!(
            parse_cmu("a,b,c\n", "x"),
            Err(ReadError::Header { .. })
        ));
        assert!(matches!(parse_cmu("", "x"), Err(ReadError::Header { .. })));
    }

    #[test]
    fn non_contiguous_subjects_are_regrouped_and_counted() {
        let text = [
            header(),
            row("s002", "0.1"),
            row("s003", "0.1"),
            row("s002", "0.2"),
        ]
        .join("\n");
        let out = parse_cmu(&text, "x").unwrap();
        assert_eq!(out.data.subjects.len(), 2);
        assert_eq!(out.data.subjects[0].1.len(), 2);
        assert_eq!(out.report.repaired.values().sum::<u64>(), 1);
    }
}
