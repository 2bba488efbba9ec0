//! `keyprint serve` as a user runs it: the README's command on a fresh folder, a closed or full standard
//! output, flags that are refused with the reason, help defaults that parse.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn keyprint() -> Command {
    Command::new(env!("CARGO_BIN_EXE_keyprint"))
}

/// Kills the child when dropped (a failed assertion must not leave a server running).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over a plain socket: (status, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut t = String::new();
    s.read_to_string(&mut t).ok()?;
    let status = t.get(9..12)?.parse().ok()?;
    let body = t.split_once("\r\n\r\n").map(|x| x.1.to_string())?;
    Some((status, body))
}

fn wait_healthy(port: u16, child: &mut Child) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("server exited: {st}");
        }
        if get(port, "/healthz").is_some_and(|(s, _)| s == 200) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// The README's `serve` command, as written: its first line of the `serve` block, continuation lines joined,
/// optional `[…]` parts left out, `cargo run --release --bin keyprint --` replaced by the built binary.
fn readme_serve_args() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let mut cmd = String::new();
    let mut lines = readme.lines();
    while let Some(l) = lines.next() {
        // The server command of "Run a server of your own" (the try-it page's command is run by the SDK's
        // browser tests).
        if l.contains("--bin keyprint -- serve") && l.contains("--init-tenant") {
            cmd.push_str(l.trim_end_matches('\\'));
            let mut cont = l.ends_with('\\');
            while cont {
                let n = lines.next().unwrap();
                cont = n.ends_with('\\');
                cmd.push(' ');
                cmd.push_str(n.trim_end_matches('\\'));
            }
            break;
        }
    }
    assert!(!cmd.is_empty(), "README has no serve command");
    let mut out = String::new();
    let mut depth = 0;
    for c in cmd.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    let after = out
        .split_once("--bin keyprint --")
        .expect("cargo run … --bin keyprint -- serve")
        .1;
    after.split_whitespace().map(String::from).collect()
}

/// Finding: the README's own `serve` command failed on a fresh machine (`--alerts-file` in a folder that did
/// not exist yet). Run as written, with its folders moved under a fresh temporary directory, it comes up,
/// creates the alerts file's folder, prints the admin key, and answers `/healthz` and `/readyz`.
#[test]
fn readme_serve_command_works_on_a_fresh_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("fresh");
    let args: Vec<String> = readme_serve_args()
        .into_iter()
        .map(|a| {
            a.replace(
                "/var/lib/keyprint",
                &root.join("var-lib-keyprint").display().to_string(),
            )
        })
        .collect();
    assert_eq!(args[0], "serve", "{args:?}");
    assert!(args.iter().any(|a| a == "--alerts-file"), "{args:?}");
    let port = free_port();
    let mut child = keyprint()
        .args(&args)
        .args([
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--engines",
            "fixed-text",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let mut s = Server(child);
    assert!(first.contains("admin key kp_"), "{first:?}");
    assert!(wait_healthy(port, &mut s.0));
    let (st, body) = get(port, "/readyz").unwrap();
    assert_eq!(st, 200, "{body}");
    assert!(root.join("var-lib-keyprint").is_dir());
}

/// Finding: `serve` panicked when standard output was full. With standard output on `/dev/full`, and with a
/// pipe whose reader is gone, it starts, prints (into nothing) and keeps serving.
#[test]
fn serve_survives_a_full_or_closed_stdout() {
    for mode in ["full", "closed"] {
        let tmp = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = keyprint();
        cmd.args([
            "serve",
            "--data-dir",
            &tmp.path().display().to_string(),
            "--init-tenant",
            "acme",
            "--engines",
            "fixed-text",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .stderr(Stdio::null());
        let mut child = if mode == "full" {
            cmd.stdout(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            )
            .spawn()
            .unwrap()
        } else {
            let mut c = cmd.stdout(Stdio::piped()).spawn().unwrap();
            drop(c.stdout.take());
            c
        };
        let ok = wait_healthy(port, &mut child);
        let mut s = Server(child);
        assert!(ok, "{mode}: not serving");
        // Still serving a while later (after it printed its banner).
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            s.0.try_wait().unwrap().is_none(),
            "{mode}: the server exited"
        );
        assert_eq!(get(port, "/healthz").map(|x| x.0), Some(200), "{mode}");
    }
}

/// Finding: `--syslog localhost:514` was refused without saying why. Now the message names the accepted forms.
#[test]
fn syslog_flag_says_which_forms_it_takes() {
    let o = keyprint()
        .args(["serve", "--syslog", "localhost:514"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    for form in ["udp://host:port", "tcp://host:port", "tls://host:port"] {
        assert!(err.contains(form), "{err}");
    }
    let o = keyprint()
        .args(["serve", "--syslog", "tcp://localhost:99999"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("port from 1 to 65535"));
}

/// Finding: `--engines` help showed a space-separated default that the parser refused. The default shown is
/// the comma-separated list, and passing it back as shown is accepted.
#[test]
fn engines_help_default_is_what_the_parser_takes() {
    let o = keyprint().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    let shown = help
        .split("[default: ")
        .filter_map(|x| x.split(']').next())
        .find(|d| d.contains("fixed-text"))
        .unwrap_or_else(|| panic!("{help}"))
        .to_string();
    assert_eq!(shown, keyprint_server::DEFAULT_ENGINES.join(","));
    // Passed back as shown (the server then stops on an invalid threshold, after parsing every flag).
    let o = keyprint()
        .args(["serve", "--engines", &shown, "--threshold", "200"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("threshold 200"), "{err}");
}

/// A webhook needs its signing secret; a secret file that is too short is refused with the reason.
#[test]
fn webhook_requires_a_signing_secret() {
    let o = keyprint()
        .args(["serve", "--webhook", "https://siem.example/hook"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--webhook-secret-file"));
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("k");
    std::fs::write(&f, "short\n").unwrap();
    let o = keyprint()
        .args([
            "serve",
            "--webhook",
            "https://siem.example/hook",
            "--webhook-secret-file",
        ])
        .arg(&f)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("at least 16"));
}

/// Issue 16: a second `keyprint serve` on the same `--data-dir` refuses to start, naming the directory and the
/// pid holding it; the lock goes with the holder, even when it is killed with SIGKILL.
#[test]
fn second_server_on_one_data_dir_is_refused_until_the_first_dies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().display().to_string();
    let serve = |port: u16| {
        let mut c = keyprint();
        c.args([
            "serve",
            "--data-dir",
            &dir,
            "--engines",
            "fixed-text",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        c
    };
    let port = free_port();
    let mut first = serve(port).spawn().unwrap();
    assert!(wait_healthy(port, &mut first), "first server not serving");
    let first_pid = first.id();
    let mut first = Server(first);

    let out = serve(free_port()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "second server started: {err}");
    assert!(err.contains(&dir), "error names the directory: {err}");
    assert!(
        err.contains(&format!("pid {first_pid}")),
        "error names the holder's pid {first_pid}: {err}"
    );
    // The first one still serves.
    assert_eq!(get(port, "/healthz").map(|x| x.0), Some(200));

    // SIGKILL: no clean-up runs, and the kernel releases the lock with the process.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let port3 = free_port();
    let mut third = serve(port3).spawn().unwrap();
    let ok = wait_healthy(port3, &mut third);
    let _third = Server(third);
    assert!(ok, "a server starts once the holder is dead");
}
