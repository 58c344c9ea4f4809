//! The conformance index: every numbered normative statement of MQTT 3.1.1 and 5.0, the role it
//! binds, and the tests that check it.
//!
//! Three sources meet here:
//! - the statements themselves, `mqtt-v3.1.1-statements.json` and `mqtt-v5.0-statements.json`
//!   in `$WASMQTT_SPEC_DIR` (default: `../shared/spec` beside the repository);
//! - their classification, `tests/conformance/statements.toml`: one entry per version and
//!   label, with the role (`client-sender`, `client-receiver`, `both`, `server-only`), a short
//!   form of the text, and the tests that check it;
//! - the tests: a line `// checks: v5 MQTT-3.3.2-8, v3.1.1 MQTT-3.3.2-2` (one or more such
//!   lines) right above a test function names the statements it checks, always with their
//!   version (`v3.1.1` or `v5`), since a label alone means different things in the two
//!   documents.
//!
//! The test fails when a statement is missing from the TOML (or the TOML names one that does
//! not exist), when a statement that binds the client has no check, when a test cites a label
//! that does not exist in that version's index, cites one without its version, or cites a
//! server-only statement, when the TOML's test lists differ from the `// checks:` lines, and
//! when `docs/conformance.md` is stale. With `WASMQTT_WRITE_CONFORMANCE=1` it first rewrites the
//! TOML's test lists and `docs/conformance.md` from the sources. It prints the counts (see
//! them with `--nocapture`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The protocol versions: how tests cite them, the index file, the name in the document.
const VERSIONS: [(&str, &str, &str); 2] = [
    ("v3.1.1", "mqtt-v3.1.1-statements.json", "MQTT 3.1.1"),
    ("v5", "mqtt-v5.0-statements.json", "MQTT 5.0"),
];

const ROLES: [&str; 4] = ["client-sender", "client-receiver", "both", "server-only"];
const SERVER_ONLY: &str = "server-only";
const SHORT_MAX: usize = 100;
const CHECKS: &str = "// checks:";

const TOML_PATH: &str = "tests/conformance/statements.toml";
const DOC_PATH: &str = "docs/conformance.md";

const TOML_HEADER: &str = "\
# The classification of every numbered normative statement of MQTT 3.1.1 and MQTT 5.0
# (../shared/spec/*.json): one entry per version and label.
#
#   role   client-sender    binds the client in what it sends: its packets' form, what and
#                           when it sends;
#          client-receiver  binds the client in how it reacts to what it receives, or is a
#                           rule on the form of a packet the client receives that the client
#                           enforces (treats a violation as malformed or a protocol error) or
#                           relies on to interpret it;
#          both             binds the client as sender and as receiver (a rule for every
#                           packet or string, \"the sender\", \"the Client and Server\" ...);
#          server-only      binds only the server: its own behaviour, packets only it
#                           receives, or contents that depend on state the client cannot see.
#   short  the statement in a hundred characters or fewer (the text itself is in the JSON).
#   tests  the tests (file::function) whose `// checks:` lines cite it. Kept in step with those
#          lines by tests/conformance.rs: WASMQTT_WRITE_CONFORMANCE=1 cargo test --test conformance
#          rewrites the lists (and docs/conformance.md); role and short are edited by hand.
";

/// A statement of the specification index.
struct Statement {
    version: &'static str,
    id: String,
}

/// An entry of the TOML classification.
#[derive(Clone)]
struct Entry {
    version: String,
    id: String,
    role: String,
    short: String,
    tests: Vec<String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn spec_dir() -> PathBuf {
    match std::env::var_os("WASMQTT_SPEC_DIR") {
        Some(d) => PathBuf::from(d),
        None => root().join("..").join("shared").join("spec"),
    }
}

/// Every statement of both indexes, in document order.
fn load_index(problems: &mut Vec<String>) -> Vec<Statement> {
    let dir = spec_dir();
    let mut out = Vec::new();
    for (version, file, _) in VERSIONS {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read the statement index {} ({e}); set WASMQTT_SPEC_DIR to the \
                 directory holding {file}",
                path.display()
            )
        });
        let json: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        let statements = json["statements"]
            .as_array()
            .unwrap_or_else(|| panic!("{} has no `statements` array", path.display()));
        if let Some(n) = json["statement_count"].as_u64() {
            if n as usize != statements.len() {
                problems.push(format!(
                    "{file}: statement_count {n} but {} statements",
                    statements.len()
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for s in statements {
            let id = s["id"].as_str().expect("statement id").to_string();
            if !seen.insert(id.clone()) {
                problems.push(format!("{file}: {id} appears twice"));
            }
            out.push(Statement { version, id });
        }
    }
    out
}

fn load_toml(problems: &mut Vec<String>) -> Vec<Entry> {
    let path = root().join(TOML_PATH);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let table: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{TOML_PATH} is not valid TOML: {e}"));
    let mut out = Vec::new();
    let Some(list) = table.get("statement").and_then(|v| v.as_array()) else {
        panic!("{TOML_PATH}: no [[statement]] entries");
    };
    for (i, item) in list.iter().enumerate() {
        let str_of = |key: &str| -> String {
            match item.get(key).and_then(|v| v.as_str()) {
                Some(s) => s.to_string(),
                None => String::new(),
            }
        };
        let e = Entry {
            version: str_of("version"),
            id: str_of("id"),
            role: str_of("role"),
            short: str_of("short"),
            tests: item
                .get("tests")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .map(|t| t.as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default(),
        };
        let at = format!("{TOML_PATH} entry {} ({} {})", i + 1, e.version, e.id);
        if let Some(t) = item.as_table() {
            for key in t.keys() {
                if !["version", "id", "role", "short", "tests"].contains(&key.as_str()) {
                    problems.push(format!("{at}: unknown key `{key}`"));
                }
            }
        }
        if !VERSIONS.iter().any(|(v, _, _)| *v == e.version) {
            problems.push(format!("{at}: version must be \"v3.1.1\" or \"v5\""));
        }
        if !ROLES.contains(&e.role.as_str()) {
            problems.push(format!("{at}: role must be one of {ROLES:?}"));
        }
        if e.short.trim().is_empty() || e.short.chars().count() > SHORT_MAX {
            problems.push(format!("{at}: short must hold 1 to {SHORT_MAX} characters"));
        }
        out.push(e);
    }
    out
}

/// One statement cited by one test.
struct Citation {
    test: String,
    version: String,
    id: String,
    at: String,
}

/// Every `.rs` file under `dir`, skipping build output and packages.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if p.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

/// The name of the function a line declares, if it does.
fn fn_name(line: &str) -> Option<&str> {
    let mut l = line.trim_start();
    loop {
        let before = l;
        for prefix in [
            "pub(crate) ",
            "pub ",
            "async ",
            "const ",
            "unsafe ",
            "extern \"C\" ",
        ] {
            l = l.strip_prefix(prefix).unwrap_or(l).trim_start();
        }
        if l == before {
            break;
        }
    }
    let rest = l.strip_prefix("fn ")?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    (end > 0).then(|| &rest[..end])
}

/// Parses one item of a `// checks:` line: `v5 MQTT-3.3.2-8`.
fn parse_item(item: &str) -> Result<(String, String), String> {
    let mut words = item.split_whitespace();
    let (Some(first), second, None) = (words.next(), words.next(), words.next()) else {
        return Err(format!("`{item}` is not `<version> MQTT-x.y.z-n`"));
    };
    let Some(id) = second else {
        return Err(if first.starts_with("MQTT-") {
            format!("`{first}` is cited without a version: write `v3.1.1 {first}` or `v5 {first}`")
        } else {
            format!("`{item}` is not `<version> MQTT-x.y.z-n`")
        });
    };
    if !VERSIONS.iter().any(|(v, _, _)| *v == first) {
        return Err(format!(
            "`{item}`: the version must be `v3.1.1` or `v5`, not `{first}`"
        ));
    }
    let label_ok = id.strip_prefix("MQTT-").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
    });
    if !label_ok {
        return Err(format!("`{item}`: `{id}` is not a label like MQTT-3.3.2-8"));
    }
    Ok((first.to_string(), id.to_string()))
}

/// Every `// checks:` citation in `tests/`, attached to the function declared right below it.
fn scan_checks(problems: &mut Vec<String>) -> Vec<Citation> {
    let tests = root().join("tests");
    let mut files = Vec::new();
    rust_files(&tests, &mut files);
    let mut out = Vec::new();
    for path in files {
        let rel = path
            .strip_prefix(&tests)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let module = rel.trim_end_matches(".rs").to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        // Citations waiting for their function, and the line of the first of them.
        let mut pending: Vec<(String, String, String)> = Vec::new();
        let mut attr_depth: i32 = 0;
        for (n, line) in text.lines().enumerate() {
            let at = format!("tests/{rel}:{}", n + 1);
            let t = line.trim();
            if let Some(list) = t.strip_prefix(CHECKS) {
                if list.trim().is_empty() {
                    problems.push(format!("{at}: empty `{CHECKS}` line"));
                }
                for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                    match parse_item(item) {
                        Ok((v, id)) => pending.push((v, id, at.clone())),
                        Err(e) => problems.push(format!("{at}: {e}")),
                    }
                }
                continue;
            }
            // A comment that looks like a citation but is not in the one format.
            if t.starts_with("//") {
                let body = t.trim_start_matches(['/', '!']).trim_start();
                if body.starts_with("checks:") || body.starts_with("checks :") {
                    problems.push(format!(
                        "{at}: write citations exactly as `{CHECKS} v5 MQTT-…, v3.1.1 MQTT-…`"
                    ));
                }
                continue;
            }
            if pending.is_empty() {
                continue;
            }
            if attr_depth > 0 || t.starts_with('#') {
                attr_depth += t.matches('[').count() as i32 - t.matches(']').count() as i32;
                continue;
            }
            if t.is_empty() {
                continue;
            }
            match fn_name(t) {
                Some(name) => {
                    let test = format!("{module}::{name}");
                    for (version, id, at) in pending.drain(..) {
                        out.push(Citation {
                            test: test.clone(),
                            version,
                            id,
                            at,
                        });
                    }
                }
                None => {
                    problems.push(format!(
                        "{}: `{CHECKS}` lines must stand right above a test function \
                         (only comments and attributes between)",
                        pending[0].2
                    ));
                    pending.clear();
                }
            }
        }
        if let Some((_, _, at)) = pending.first() {
            problems.push(format!(
                "{at}: `{CHECKS}` at the end of the file, with no test"
            ));
        }
    }
    out
}

/// Counts of one version.
#[derive(Default)]
struct Counts {
    statements: usize,
    client: usize,
    checked: usize,
    server_only: usize,
}

impl Counts {
    fn unchecked(&self) -> usize {
        self.client - self.checked
    }
}

fn counts(entries: &[Entry], version: &str) -> Counts {
    let mut c = Counts::default();
    for e in entries.iter().filter(|e| e.version == version) {
        c.statements += 1;
        if e.role == SERVER_ONLY {
            c.server_only += 1;
        } else {
            c.client += 1;
            if !e.tests.is_empty() {
                c.checked += 1;
            }
        }
    }
    c
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn render_toml(entries: &[Entry]) -> String {
    let mut out = String::from(TOML_HEADER);
    for (version, _, name) in VERSIONS {
        write!(out, "\n# {name}\n").unwrap();
        for e in entries.iter().filter(|e| e.version == version) {
            out.push_str("\n[[statement]]\n");
            writeln!(out, "version = {}", toml_string(&e.version)).unwrap();
            writeln!(out, "id = {}", toml_string(&e.id)).unwrap();
            writeln!(out, "role = {}", toml_string(&e.role)).unwrap();
            writeln!(out, "short = {}", toml_string(&e.short)).unwrap();
            if e.tests.is_empty() {
                out.push_str("tests = []\n");
            } else {
                out.push_str("tests = [\n");
                for t in &e.tests {
                    writeln!(out, "    {},", toml_string(t)).unwrap();
                }
                out.push_str("]\n");
            }
        }
    }
    out
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn render_doc(entries: &[Entry]) -> String {
    let mut out = String::new();
    out.push_str(
        "# MQTT conformance index\n\n\
         Every numbered normative statement of MQTT 3.1.1 (139) and MQTT 5.0 (251), the role it \
         binds, and the tests that check it. Generated by `tests/conformance.rs` from \
         `tests/conformance/statements.toml` (roles and short forms) and the `// checks:` lines \
         of the tests; do not edit by hand. Regenerate with\n\n\
         ```sh\nWASMQTT_WRITE_CONFORMANCE=1 cargo test --test conformance\n```\n\n\
         The statements and their exact text are in `../shared/spec/` (extracted from the OASIS \
         specifications); the short forms below paraphrase them. A label alone is ambiguous \
         (`MQTT-3.8.3-2` says different things in the two documents): statements are always \
         cited with their version, `v3.1.1 MQTT-…` or `v5 MQTT-…`.\n\n",
    );
    out.push_str(
        "| version | statements | bind the client | checked | unchecked | server only |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for (version, _, name) in VERSIONS {
        let c = counts(entries, version);
        writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} |",
            c.statements,
            c.client,
            c.checked,
            c.unchecked(),
            c.server_only
        )
        .unwrap();
    }
    out.push_str(
        "\nRoles:\n\n\
         - **client-sender**: binds the client in what it sends (the form of its packets, what \
         and when it sends).\n\
         - **client-receiver**: binds the client in how it reacts to what it receives, or is a \
         rule on the form of a packet the client receives that the client enforces (a violation \
         closes the connection; in v5 with DISCONNECT and the reason code) or relies on to \
         interpret it.\n\
         - **both**: binds the client as sender and as receiver (rules for every packet or \
         string, \"the sender\", \"the Client and Server\").\n\
         - **server-only**: binds only the server: its own behaviour, packets only it receives, \
         or contents that depend on state the client cannot see.\n",
    );
    for (version, _, name) in VERSIONS {
        let short_version = name.trim_start_matches("MQTT ");
        write!(
            out,
            "\n## {name}\n\n| version | label | statement (short form) | role | checked by |\n\
             |---|---|---|---|---|\n"
        )
        .unwrap();
        for e in entries.iter().filter(|e| e.version == version) {
            let by = if e.role == SERVER_ONLY {
                "server only".to_string()
            } else if e.tests.is_empty() {
                "**unchecked**".to_string()
            } else {
                e.tests
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            writeln!(
                out,
                "| {short_version} | {} | {} | {} | {by} |",
                e.id,
                md_cell(&e.short),
                e.role
            )
            .unwrap();
        }
    }
    out
}

#[test]
fn conformance_index() {
    let mut problems = Vec::new();
    let index = load_index(&mut problems);
    let toml_entries = load_toml(&mut problems);
    let citations = scan_checks(&mut problems);

    // The TOML against the index.
    let known: BTreeSet<(&str, &str)> = index.iter().map(|s| (s.version, s.id.as_str())).collect();
    let mut by_key: BTreeMap<(String, String), Entry> = BTreeMap::new();
    for e in &toml_entries {
        let key = (e.version.clone(), e.id.clone());
        if !known.contains(&(e.version.as_str(), e.id.as_str())) {
            problems.push(format!(
                "{TOML_PATH}: {} {} is not a statement of that version's index",
                e.version, e.id
            ));
        }
        if by_key.insert(key, e.clone()).is_some() {
            problems.push(format!(
                "{TOML_PATH}: {} {} is listed twice",
                e.version, e.id
            ));
        }
    }

    // The citations against the index and the roles.
    let mut cited: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for c in &citations {
        if !known.contains(&(c.version.as_str(), c.id.as_str())) {
            problems.push(format!(
                "{}: {} cites {} {}, which is not a label of the {} index",
                c.at, c.test, c.version, c.id, c.version
            ));
            continue;
        }
        if let Some(e) = by_key.get(&(c.version.clone(), c.id.clone())) {
            if e.role == SERVER_ONLY {
                problems.push(format!(
                    "{}: {} cites {} {}, classified server-only: binds no client behaviour to \
                     check (reclassify it in {TOML_PATH}, or drop the citation)",
                    c.at, c.test, c.version, c.id
                ));
                continue;
            }
        }
        cited
            .entry((c.version.clone(), c.id.clone()))
            .or_default()
            .insert(c.test.clone());
    }

    // The complete list, in document order, with the tests the `// checks:` lines give.
    let mut entries = Vec::new();
    for s in &index {
        let key = (s.version.to_string(), s.id.clone());
        let Some(e) = by_key.get(&key) else {
            problems.push(format!(
                "{TOML_PATH} misses {} {}: classify it",
                s.version, s.id
            ));
            continue;
        };
        let mut e = e.clone();
        let from_tests: Vec<String> = cited.get(&key).into_iter().flatten().cloned().collect();
        let mut listed = e.tests.clone();
        listed.sort();
        if listed != from_tests {
            problems.push(format!(
                "{TOML_PATH}: {} {} lists tests {:?} but the `{CHECKS}` lines say {:?} \
                 (rewrite with WASMQTT_WRITE_CONFORMANCE=1)",
                s.version, s.id, e.tests, from_tests
            ));
        }
        e.tests = from_tests;
        entries.push(e);
    }

    let doc = render_doc(&entries);
    let write = std::env::var("WASMQTT_WRITE_CONFORMANCE").is_ok_and(|v| v == "1");
    if write {
        // Only when every statement is classified: the rewrite keeps roles and short forms.
        if entries.len() == toml_entries.len() {
            std::fs::write(root().join(TOML_PATH), render_toml(&entries)).unwrap();
            problems.retain(|p| !p.contains("WASMQTT_WRITE_CONFORMANCE"));
        }
        std::fs::create_dir_all(root().join("docs")).unwrap();
        std::fs::write(root().join(DOC_PATH), &doc).unwrap();
        println!("conformance: wrote {TOML_PATH} and {DOC_PATH}");
    } else {
        let current = std::fs::read_to_string(root().join(DOC_PATH)).unwrap_or_default();
        if current != doc {
            problems.push(format!(
                "{DOC_PATH} is stale: regenerate it with \
                 WASMQTT_WRITE_CONFORMANCE=1 cargo test --test conformance"
            ));
        }
    }

    // Every statement that binds the client has a check.
    for e in &entries {
        if e.role != SERVER_ONLY && e.tests.is_empty() {
            problems.push(format!(
                "{} {} binds the client ({}) but no test checks it: {}",
                e.version, e.id, e.role, e.short
            ));
        }
    }

    for (version, _, name) in VERSIONS {
        let c = counts(&entries, version);
        println!(
            "conformance: {name}: {} statements, {} bind the client, {} checked, {} unchecked, \
             {} server only",
            c.statements,
            c.client,
            c.checked,
            c.unchecked(),
            c.server_only
        );
    }
    assert!(
        problems.is_empty(),
        "{} conformance problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

#[test]
fn citation_items_parse_strictly() {
    assert_eq!(
        parse_item("v5 MQTT-3.3.2-8"),
        Ok(("v5".to_string(), "MQTT-3.3.2-8".to_string()))
    );
    assert_eq!(
        parse_item("v3.1.1 MQTT-4.7.1-2"),
        Ok(("v3.1.1".to_string(), "MQTT-4.7.1-2".to_string()))
    );
    assert!(parse_item("MQTT-3.3.2-8")
        .unwrap_err()
        .contains("without a version"));
    assert!(parse_item("v4 MQTT-3.3.2-8").is_err());
    assert!(parse_item("v5 3.3.2-8").is_err());
    assert!(parse_item("v5 MQTT-3.3.2-8 extra").is_err());
    assert_eq!(
        fn_name("    async fn round_trip(v: V) {"),
        Some("round_trip")
    );
    assert_eq!(fn_name("pub fn f<T>() {}"), Some("f"));
    assert_eq!(fn_name("let x = 1;"), None);
}
