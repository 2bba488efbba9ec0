//! Reader tests: every format quirk real captures show, and every kind of bad input (truncated logs,
//! wrong headers, mixed formats, binary garbage) → located errors, never a panic.

mod common;

use common::CONN_HEADER;
use keyprint_net::intel::IntelSet;
use keyprint_net::zeek::{Format, LogError, LogKind, parse_log};

const ROW: &str = "1601998366.785668\tCNgrt04tHika5Pgpfi\t10.0.0.5\t54170\t10.0.0.1\t53\tudp\tdns\t0.007707\t37\t77\tSF\t-\t-\t0\tDd\t1\t85\t1\t125\t(empty)\n";

#[test]
fn a_stray_leading_tab_before_the_header_is_tolerated_and_counted() {
    let text = format!("\t{CONN_HEADER}{ROW}");
    let p = parse_log("conn.log", text.as_bytes()).unwrap();
    assert_eq!(p.format, Format::Tsv);
    assert_eq!(p.logs.conn.len(), 1);
    assert_eq!(p.report.repaired.get("leading_whitespace"), Some(&1));
    let c = &p.logs.conn[0];
    assert_eq!(c.orig_h.to_string(), "10.0.0.5");
    assert_eq!(c.resp_p, 53);
    assert_eq!(c.orig_bytes, Some(37));
    assert_eq!(c.service.as_deref(), Some("dns"));
}

fn labelled(sep: &str) -> String {
    let header = CONN_HEADER
        .replace(
            "\ttunnel_parents\n",
            &format!("\ttunnel_parents{sep}label{sep}detailed-label\n"),
        )
        .replace(
            "\tset[string]\n",
            &format!("\tset[string]{sep}string{sep}string\n"),
        );
    let row = ROW.replace(
        "\t(empty)\n",
        &format!("\t(empty){sep}Malicious{sep}PartOfAHorizontalPortScan\n"),
    );
    format!("{header}{row}")
}

#[test]
fn stratosphere_label_columns_separated_by_three_spaces_are_split() {
    let p = parse_log("conn.log.labeled", labelled("   ").as_bytes()).unwrap();
    assert_eq!(p.logs.conn.len(), 1, "{:?}", p.report.rejected);
    assert_eq!(p.logs.conn[0].label.as_deref(), Some("Malicious"));
    // #fields, #types and the row.
    assert_eq!(p.report.repaired.get("three_space_columns"), Some(&3));
    assert_eq!(p.kind, LogKind::Conn);
}

#[test]
fn stratosphere_label_columns_separated_by_tabs_are_read_too() {
    let p = parse_log("conn.log.labeled", labelled("\t").as_bytes()).unwrap();
    assert_eq!(p.logs.conn[0].label.as_deref(), Some("Malicious"));
    assert!(p.report.repaired.is_empty());
    // detailed-label is known (kept), not an unknown column.
    assert!(p.unknown_columns.iter().all(|c| c != "detailed-label"));
}

#[test]
fn escapes_sets_empty_and_unset_values() {
    let text = format!(
        "{}1.0\tD1\t10.0.0.5\t5000\t10.0.0.1\t53\tudp\t7\tweird\\x09name.example\tA\tNOERROR\ta.example,192.0.2.1\n\
         2.0\tD2\t10.0.0.5\t5001\t10.0.0.1\t53\tudp\t8\tb.example\tA\t-\t(empty)\n\
         3.0\tD3\t10.0.0.5\t5002\t10.0.0.1\t53\tudp\t9\t-\tA\tNXDOMAIN\t-\n",
        common::DNS_HEADER
    );
    let p = parse_log("dns.log", text.as_bytes()).unwrap();
    assert!(p.report.rejected.is_empty(), "{:?}", p.report.rejected);
    let d = &p.logs.dns;
    assert_eq!(d[0].query.as_deref(), Some("weird\tname.example"));
    assert_eq!(d[0].answers, ["a.example", "192.0.2.1"]);
    assert!(d[1].answers.is_empty());
    assert_eq!(d[1].rcode_name, None);
    assert_eq!(d[2].query, None);
    assert!(d[2].is_nxdomain());
}

#[test]
fn unknown_columns_are_kept_out_of_the_way() {
    let header = CONN_HEADER
        .replace("\ttunnel_parents\n", "\ttunnel_parents\tcommunity_id\n")
        .replace("\tset[string]\n", "\tset[string]\tstring\n");
    let text = format!(
        "{header}{}",
        ROW.replace("\t(empty)\n", "\t(empty)\t1:abc=\n")
    );
    let p = parse_log("conn.log", text.as_bytes()).unwrap();
    assert_eq!(p.logs.conn.len(), 1);
    assert!(p.unknown_columns.contains(&"community_id".to_string()));
    assert!(p.unknown_columns.contains(&"history".to_string()));
}

#[test]
fn zeek_json_one_object_a_line_with_bad_rows_located() {
    let text = concat!(
        r#"{"ts":1.5,"uid":"C1","id.orig_h":"10.0.0.5","id.orig_p":1,"id.resp_h":"10.0.0.9","id.resp_p":80,"proto":"tcp","orig_bytes":0,"resp_bytes":0,"conn_state":"REJ","orig_l2_addr":"aa"}"#,
        "\n",
        "{not json\n",
        "[1,2]\n",
        r#"{"ts":2.5,"id.orig_h":"nope","id.orig_p":1,"id.resp_h":"10.0.0.9","id.resp_p":80,"proto":"tcp"}"#,
        "\n",
        r#"{"ts":3.5,"id.orig_h":"10.0.0.5","id.orig_p":1,"id.resp_h":"10.0.0.9","id.resp_p":99999,"proto":"tcp"}"#,
        "\n",
    );
    let p = parse_log("conn.log", text.as_bytes()).unwrap();
    assert_eq!(p.format, Format::Json);
    assert_eq!(p.logs.conn.len(), 1);
    assert!(p.logs.conn[0].is_probe());
    assert!(p.unknown_columns.contains(&"orig_l2_addr".to_string()));
    let lines: Vec<(u64, Option<&str>)> = p
        .report
        .rejected
        .iter()
        .map(|r| (r.line, r.field.as_deref()))
        .collect();
    assert_eq!(
        lines,
        [
            (2, None),
            (3, None),
            (4, Some("id.orig_h")),
            (5, Some("id.resp_p"))
        ]
    );
    assert!(p.report.rejected[0].reason.contains("bad JSON"));
}

#[test]
fn a_truncated_last_row_is_rejected_and_says_so() {
    let cut = &ROW[..ROW.len() / 2];
    let text = format!("{CONN_HEADER}{ROW}{cut}");
    let p = parse_log("conn.log", text.as_bytes()).unwrap();
    assert_eq!(p.logs.conn.len(), 1);
    assert_eq!(p.report.rejected.len(), 1);
    let r = &p.report.rejected[0];
    assert_eq!(r.line, 9);
    assert!(r.reason.contains("truncated"), "{}", r.reason);
}

#[test]
fn a_truncated_header_is_a_located_error() {
    let text = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n";
    let err = parse_log("conn.log", text.as_bytes()).unwrap_err();
    assert!(matches!(err, LogError::Header { line: 3, .. }), "{err}");
    assert!(err.to_string().contains("conn.log:3"));
}

#[test]
fn wrong_headers_are_located_errors() {
    let mismatch = CONN_HEADER.replace("\tset[string]\n", "\n");
    let err = parse_log("conn.log", format!("{mismatch}{ROW}").as_bytes()).unwrap_err();
    assert!(
        matches!(&err, LogError::Header { line: 7, reason, .. } if reason.contains("#types")),
        "{err}"
    );

    let no_orig = CONN_HEADER.replace("\tid.orig_h\t", "\tid.orig_x\t");
    let err = parse_log("conn.log", format!("{no_orig}{ROW}").as_bytes()).unwrap_err();
    assert!(
        matches!(&err, LogError::Header { line: 6, reason, .. } if reason.contains("id.orig_h")),
        "{err}"
    );

    let err = parse_log("conn.log", format!("#separator \\x09\n{ROW}").as_bytes()).unwrap_err();
    assert!(
        err.to_string().contains("data row before any #fields"),
        "{err}"
    );

    // btest's intel.log baseline without the #separator/#fields header.
    let err = parse_log(
        "intel.log",
        b"### BTest baseline\nseen.indicator\tseen.indicator_type\nexample.com\tIntel::DOMAIN\n",
    )
    .unwrap_err();
    assert!(
        matches!(err, LogError::Header { line: 2, .. }) || matches!(err, LogError::Format { .. }),
        "{err}"
    );
}

#[test]
fn mixed_formats_are_rejected_row_by_row_with_their_line() {
    let json = r#"{"ts":1.5,"id.orig_h":"10.0.0.5","id.orig_p":1,"id.resp_h":"10.0.0.9","id.resp_p":80,"proto":"tcp"}"#;
    let p = parse_log(
        "conn.log",
        format!("{CONN_HEADER}{ROW}{json}\n{ROW}").as_bytes(),
    )
    .unwrap();
    assert_eq!(p.logs.conn.len(), 2);
    assert_eq!(p.report.rejected[0].line, 9);
    assert!(p.report.rejected[0].reason.contains("mixed formats"));

    let p = parse_log("conn.log", format!("{json}\n{CONN_HEADER}").as_bytes()).unwrap();
    assert_eq!(p.logs.conn.len(), 1);
    assert_eq!(p.report.rejected.len(), 7);
    assert!(
        p.report
            .rejected
            .iter()
            .all(|r| r.reason.contains("mixed formats"))
    );
}

#[test]
fn binary_garbage_is_a_located_error_or_a_located_row() {
    let err = parse_log(
        "conn.log",
        &[0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, b'\n', 0x00],
    )
    .unwrap_err();
    assert!(
        matches!(&err, LogError::Format { line: 1, reason, .. } if reason.contains("binary")),
        "{err}"
    );

    let mut bytes = format!("{CONN_HEADER}{ROW}").into_bytes();
    bytes.extend_from_slice(&[0xff, 0xfe, b'\t', 0x00, b'\n']);
    bytes.extend_from_slice(ROW.as_bytes());
    let p = parse_log("conn.log", &bytes).unwrap();
    assert_eq!(p.logs.conn.len(), 2);
    assert_eq!(p.report.rejected.len(), 1);
    assert_eq!(p.report.rejected[0].line, 9);
    assert!(p.report.rejected[0].reason.contains("binary"));

    assert!(parse_log("conn.log", b"").is_err());
    assert!(parse_log("conn.log", b"hello world\n").is_err());
}

#[test]
fn masked_btest_timestamps_are_rejected_on_the_ts_field() {
    let text = format!(
        "{CONN_HEADER}{}",
        ROW.replace("1601998366.785668", "XXXXXXXXXX.XXXXXX")
    );
    let p = parse_log("conn.log", text.as_bytes()).unwrap();
    assert_eq!(p.logs.conn.len(), 0);
    assert_eq!(p.report.rejected[0].field.as_deref(), Some("ts"));
    assert_eq!(
        p.report.rejected[0].to_string(),
        "conn.log:8: field `ts`: not a number: \"XXXXXXXXXX.XXXXXX\""
    );
}

#[test]
fn a_second_header_block_replaces_the_first() {
    let text = format!("{CONN_HEADER}{ROW}#close\t2020-10-06-17-40-00\n{CONN_HEADER}{ROW}");
    let p = parse_log("conn.log", text.as_bytes()).unwrap();
    assert_eq!(p.logs.conn.len(), 2);
    assert!(p.report.repaired.contains_key("header_block"));
}

/// xorshift64*: a tiny deterministic generator for the mutation sweep.
fn next(s: &mut u64) -> u64 {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    s.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[test]
fn mutated_logs_never_panic() {
    let tsv = format!("\t{CONN_HEADER}{ROW}{ROW}");
    let json = r#"{"ts":1.5,"id.orig_h":"10.0.0.5","id.orig_p":1,"id.resp_h":"10.0.0.9","id.resp_p":80,"proto":"tcp","answers":["a"]}"#.to_string() + "\n";
    let dns = format!(
        "{}1.0\tD1\t10.0.0.5\t5000\t10.0.0.1\t53\tudp\t7\ta\\x09b\tA\tNOERROR\ta,b\n",
        common::DNS_HEADER
    );
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut parsed = 0;
    for base in [tsv.as_bytes(), json.as_bytes(), dns.as_bytes()] {
        for _ in 0..3000 {
            let mut b = base.to_vec();
            for _ in 0..(1 + next(&mut seed) % 4) {
                let i = (next(&mut seed) as usize) % b.len().max(1);
                match next(&mut seed) % 4 {
                    0 if i < b.len() => b[i] = next(&mut seed) as u8,
                    0 | 1 => b.truncate(i),
                    2 => b.insert(
                        i,
                        [b'\t', b'\\', b'x', b'#', b'{', b'\n', b' ']
                            [(next(&mut seed) % 7) as usize],
                    ),
                    _ => {
                        if i < b.len() {
                            b.remove(i);
                        }
                    }
                }
            }
            for name in ["conn.log", "dns.log", "dhcp.log", "ssl.log", "http.log"] {
                if parse_log(name, &b).is_ok() {
                    parsed += 1;
                }
            }
        }
    }
    assert!(parsed > 0);
}

#[test]
fn zeek_intel_files_and_plain_blocklists() {
    let mut intel = IntelSet::new();
    let zeek = "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\n\
                bad.example\tIntel::DOMAIN\tfeedA\tc2 domain\n\
                198.51.100.7\tIntel::ADDR\tfeedB\t-\n\
                203.0.113.0/24\tIntel::SUBNET\tfeedC\t-\n\
                evil.example/payload\tIntel::URL\tfeedD\t-\n\
                someone@example.com\tIntel::EMAIL\tfeedE\t-\n\
                not-an-ip\tIntel::ADDR\tfeedB\t-\n";
    let r = intel.add_file("zeek.intel", zeek.as_bytes()).unwrap();
    assert_eq!(r.accepted, 4);
    assert_eq!(r.repaired.get("unsupported_type"), Some(&1));
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].line, 7);
    assert_eq!(intel.match_name("BAD.example.").unwrap().source, "feedA");
    // Zeek DOMAIN indicators match the exact name only.
    assert!(intel.match_name("www.bad.example").is_none());
    assert_eq!(
        intel
            .match_addr("198.51.100.7".parse().unwrap())
            .unwrap()
            .source,
        "feedB"
    );
    assert_eq!(
        intel
            .match_addr("203.0.113.99".parse().unwrap())
            .unwrap()
            .source,
        "feedC"
    );
    assert!(intel.match_addr("203.0.114.1".parse().unwrap()).is_none());
    assert_eq!(
        intel
            .match_url("evil.example", "/payload/x.exe")
            .unwrap()
            .source,
        "feedD"
    );
    assert!(intel.match_url("evil.example", "/other").is_none());

    let r = intel
        .add_file(
            "list.txt",
            b"# comment\n\nsub.listed.example # trailing\n192.0.2.9\n%%%\n",
        )
        .unwrap();
    assert_eq!(r.accepted, 2);
    assert_eq!(r.rejected[0].line, 5);
    // Blocklist domains match their subdomains too.
    assert_eq!(
        intel.match_name("a.b.sub.listed.example").unwrap().source,
        "list.txt"
    );
    assert!(intel.match_name("listed.example").is_none());

    // The whitelist column (Zeek's policy/frameworks/intel/whitelist) suppresses a match.
    let wl = "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.whitelist\tmeta.url\n\
              bad.example\tIntel::DOMAIN\tsource2\talso bad\tT\t-\n";
    intel.add_file("wl.dat", wl.as_bytes()).unwrap();
    assert!(intel.match_name("bad.example").is_none());

    let err = intel
        .add_file(
            "x.intel",
            b"#fields\tindicator\tindicator_type\nx\tIntel::DOMAIN\n",
        )
        .unwrap_err();
    assert!(err.to_string().contains("meta.source"));
    assert!(intel.add_file("x.bin", &[0xff, 0xfe, 0x00]).is_err());
}

#[test]
fn iso8601_json_timestamps_are_read() {
    // 1601998366.785668 is 2020-10-06T15:32:46.785668Z.
    let line = r#"{"ts":"2020-10-06T15:32:46.785668Z","id.orig_h":"10.0.0.5","id.orig_p":1,"id.resp_h":"10.0.0.9","id.resp_p":80,"proto":"tcp"}"#;
    let p = parse_log("conn.log", line.as_bytes()).unwrap();
    assert!(
        (p.logs.conn[0].ts - 1_601_998_366.785_668).abs() < 1e-6,
        "{}",
        p.logs.conn[0].ts
    );
    assert_eq!(
        keyprint_net::zeek::iso8601("1970-01-01T00:00:00Z"),
        Some(0.0)
    );
    assert_eq!(
        keyprint_net::zeek::iso8601("2024-02-29T12:00:00Z"),
        Some(1_709_208_000.0)
    );
    let bad = r#"{"ts":"2020-13-06T15:32:46Z","id.orig_h":"10.0.0.5","id.orig_p":1,"id.resp_h":"10.0.0.9","id.resp_p":80,"proto":"tcp"}"#;
    let p = parse_log("conn.log", bad.as_bytes()).unwrap();
    assert_eq!(p.report.rejected[0].field.as_deref(), Some("ts"));
}

#[test]
fn three_spaces_inside_a_value_are_kept_when_the_columns_already_match() {
    let text = format!(
        "{}1.0\tH1\t10.0.0.5\t5000\t10.0.0.1\t80\tweird   host.example\t/a   b\n",
        "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\thost\turi\n\
         #types\ttime\tstring\taddr\tport\taddr\tport\tstring\tstring\n"
    );
    let p = parse_log("http.log", text.as_bytes()).unwrap();
    assert!(p.report.rejected.is_empty(), "{:?}", p.report.rejected);
    assert_eq!(p.logs.http[0].uri.as_deref(), Some("/a   b"));
    assert!(!p.report.repaired.contains_key("three_space_columns"));
}
