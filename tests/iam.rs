//! Each function's IAM policy (`terraform/iam.tf`) grants exactly the AWS operations its code
//! path reaches: no fewer (a call would be denied in AWS), no more (least privilege). Both sides
//! are read from the sources, so neither can change without the other.
//!
//! The two functions run the same binary, entered at `crate::lambda::run`; they differ in what
//! Terraform routes to them, which `dispatch::handle` hands to one handler each:
//!
//! - the stop/start function (`data "aws_iam_policy_document" "function"`) takes payloads:
//!   `dispatch::places`. Its path is everything `lambda::run` reaches with the Spot
//!   handlers (`src/dispatch/spot.rs`) cut off. It does not keep the Spot handlers' calls: a
//!   Spot event sent to it by hand is refused by AWS (`access_denied` in the report).
//! - the Spot function (`"spot"`) takes the Spot events (terraform/spot.tf):
//!   `dispatch::spot::spot_task_at` and `spot_instance_at`. Its path is everything `lambda::run`
//!   reaches with `dispatch::places` cut off.
//!
//! The code side is a call graph of `src/`, read with `std` alone (as tests/architecture.rs
//! reads the modules): comments and literals are blanked, the code is split into tokens, and
//! every `fn` item (free, in an `impl` or a `trait`; test code left out) is a node. Its edges
//! lean to too many, never too few: every path that names a crate function
//! (`observe::on_instance`, `Report::new`; through the file's `use` aliases, `self`, `super`,
//! `crate`, child modules, re-exports and globs; called or passed as a value), every bare name of
//! a function of its module or imported (unless a parameter, `let`, closure or match arm binds
//! it first, and it is not called), and every method call `.name(`, which reaches every method
//! of that name whatever the receiver: `aws.describe_tasks(` reaches `impl Tasks for Sdk`'s
//! `describe_tasks`, and `self.describe_container_instances(` in there the next one. An AWS
//! operation is a `.FIELD.operation(` chain in a reached body, FIELD a client of `struct Sdk`,
//! named in IAM as `prefix:Operation`.
//!
//! It cannot pass by missing a route: a call in a reached body that resolves to no function but
//! is named like a function that reaches AWS fails the test (name it by its path); every
//! `.client.operation(` in `src/` must be reached by one of the functions or be [`CLI_ONLY`]; and
//! `drift_on_either_side_is_reported` shows a grant more or fewer on either policy, and a new
//! call on either path (in the Spot handler, through a helper imported under another name, in
//! the SDK adapter), each reported with the route that reaches it.
//!
//! The Terraform side: the quoted strings in the `actions = [...]` lists of each policy.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

/// The IAM service prefix of each SDK crate a client may come from. A new client fails the test
/// until its crate is added here.
const IAM_PREFIXES: &[(&str, &str)] = &[
    ("aws_sdk_ecs", "ecs"),
    ("aws_sdk_applicationautoscaling", "application-autoscaling"),
    ("aws_sdk_elasticloadbalancingv2", "elasticloadbalancing"),
    ("aws_sdk_scheduler", "scheduler"),
    ("aws_sdk_dynamodb", "dynamodb"),
    ("aws_sdk_autoscaling", "autoscaling"),
];

/// Both functions' entry: the Lambda runtime loop.
const ENTRY: &str = "crate::lambda::run";

/// The handler of what Terraform routes to the stop/start function (schedules, overrides,
/// manual invocations).
const STOP_START_HANDLER: &str = "crate::dispatch::places";

/// The handlers of what Terraform routes to the Spot function (terraform/spot.tf's rules).
/// Each takes the event's place first (src/aws/spokes.rs for a target account's).
const SPOT_HANDLERS: &[&str] = &["crate::dispatch::spot::spot_task_at", "crate::dispatch::spot::spot_instance_at"];

/// Called by the code, but only by the CLI, never by either function, and why.
const CLI_ONLY: &[(&str, &str)] = &[
    ("dynamodb:CreateTable", "`ecs-cost-saver init-state`; Terraform creates the deployed table"),
    ("dynamodb:DescribeTable", "`ecs-cost-saver init-state` waits for the table it created"),
];

/// Granted to both functions although the code makes no such call, and why.
const NOT_CALLS: &[(&str, &str)] = &[
    ("logs:CreateLogStream", "Lambda writes the functions' logs with their role"),
    ("logs:PutLogEvents", "Lambda writes the functions' logs with their role"),
    ("sqs:SendMessage", "Lambda sends the functions' dead letters with their role"),
    ("events:PutEvents", "Lambda sends the functions' destination records with their role"),
];

/// Credentials providers that call AWS themselves when a reached body names them: aws-config's
/// assume-role provider (src/aws/spokes.rs) calls AssumeRole with the function's own role.
const CREDENTIAL_PROVIDERS: &[(&str, &str)] = &[("AssumeRoleProvider", "sts:AssumeRole")];

/// The IAM prefixes of the calls made with a target account's role (src/aws/spokes.rs: ECS,
/// Application Auto Scaling, EC2 Auto Scaling and ELB act there; DynamoDB and Scheduler stay the
/// function's own).
const TARGET_PREFIXES: &[&str] = &["ecs", "application-autoscaling", "autoscaling", "elasticloadbalancing"];

/// Granted to a function whose path makes one of these calls, and why: only the stop/start
/// function creates schedules today.
const WITH_CALLS: &[(&str, &[&str], &str)] = &[(
    "iam:PassRole",
    &["scheduler:CreateSchedule", "scheduler:UpdateSchedule"],
    "CreateSchedule and UpdateSchedule hand the scheduler role to Scheduler",
)];

// ---------------------------------------------------------------------------------------------
// The sources

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every `.rs` file under `dir`, as (path relative to the crate, text).
fn rust_sources(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = read(&path);
            out.push((path.strip_prefix(root()).unwrap_or(&path).to_path_buf(), text));
        }
    }
}

struct Sources {
    rust: Vec<(PathBuf, String)>,
    iam_tf: String,
}

fn sources() -> Sources {
    let mut rust = Vec::new();
    rust_sources(&root().join("src"), &mut rust);
    Sources { rust, iam_tf: read(&root().join("terraform/iam.tf")) }
}

fn sdk_rs(rust: &[(PathBuf, String)]) -> &str {
    &rust.iter().find(|(p, _)| p == Path::new("src/aws/sdk.rs")).expect("src/aws/sdk.rs exists").1
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `describe_services` -> `DescribeServices`.
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// (field, IAM prefix) of every `pub FIELD: CRATE::Client` in `struct Sdk`.
fn clients(sdk_rs: &str) -> Vec<(String, String)> {
    let start = sdk_rs.find("pub struct Sdk {").expect("src/aws/sdk.rs defines `pub struct Sdk {`");
    let body = &sdk_rs[start..start + sdk_rs[start..].find('}').unwrap()];
    let mut found = Vec::new();
    for line in body.lines().skip(1) {
        let line = line.trim().trim_end_matches(',');
        let Some((field, ty)) = line.strip_prefix("pub ").and_then(|l| l.split_once(':')) else { continue };
        // The pacing of the clients' calls, and the other places' clients (`Sdk`s again, made of
        // these same fields): no AWS client of their own.
        if ty.trim() == "Pace" || ty.trim().ends_with("spokes::Spokes>>") {
            continue;
        }
        let krate = ty.trim().strip_suffix("::Client").unwrap_or_else(|| panic!("Sdk field `{line}` is not a Client"));
        let prefix = IAM_PREFIXES
            .iter()
            .find(|(k, _)| *k == krate)
            .unwrap_or_else(|| panic!("Sdk has a client of {krate}: add its IAM prefix to IAM_PREFIXES"))
            .1;
        found.push((field.trim().to_string(), prefix.to_string()));
    }
    assert!(!found.is_empty(), "no client fields found in struct Sdk");
    found
}

/// Methods of an SDK client that send no request, and why: not IAM actions.
const CLIENT_ACCESSORS: &[(&str, &str)] = &[
    ("config", "the client's own configuration (the region the figures are priced in)"),
    ("clone", "a handle on the same client (a target account's runs keep the function's own DynamoDB and Scheduler)"),
];

fn is_operation(method: &str) -> bool {
    !CLIENT_ACCESSORS.iter().any(|(m, _)| *m == method)
}

/// `prefix:Operation` for every `.FIELD .operation(` (whitespace allowed between) in `text`:
/// every call in the sources, whoever makes it.
fn calls_in(text: &str, clients: &[(String, String)]) -> BTreeSet<String> {
    let mut calls = BTreeSet::new();
    for (field, prefix) in clients {
        let needle = format!(".{field}");
        for (at, _) in text.match_indices(&needle) {
            let rest = &text[at + needle.len()..];
            if rest.starts_with(is_ident) {
                continue; // `.ecs_foo`, not the client
            }
            let Some(rest) = rest.trim_start().strip_prefix('.') else { continue };
            let op: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !op.is_empty() && rest[op.len()..].starts_with('(') && is_operation(&op) {
                calls.insert(format!("{prefix}:{}", pascal(&op)));
            }
        }
    }
    calls
}

/// The operation names of every `from_sdk("Name"` in `text`.
fn from_sdk_names(text: &str) -> BTreeSet<String> {
    text.match_indices("from_sdk(\"")
        .map(|(at, m)| {
            let rest = &text[at + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

/// Every call in `src/`, as IAM actions, checked against the `from_sdk` names: a call written
/// another way than `.client.operation(` is noticed.
fn all_calls(sources: &[(PathBuf, String)]) -> BTreeSet<String> {
    let clients = clients(sdk_rs(sources));
    let mut calls = BTreeSet::new();
    let mut named = BTreeSet::new();
    for (_, text) in sources {
        calls.extend(calls_in(text, &clients));
        named.extend(from_sdk_names(text));
    }
    let operations: BTreeSet<String> = calls.iter().map(|a| a.split_once(':').unwrap().1.to_string()).collect();
    let unseen: Vec<_> = named.difference(&operations).collect();
    assert!(unseen.is_empty(), "from_sdk names {unseen:?} match no `.client.operation(` call the scan found");
    calls
}

// ---------------------------------------------------------------------------------------------
// Tokens

/// `text` with comments, string and character literals blanked (newlines kept, so lines still
/// count): what they say is not code.
fn blank(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let keep = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    while i < c.len() {
        let prev_ident = i > 0 && is_ident(c[i - 1]);
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            loop {
                if i >= c.len() {
                    break;
                }
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(keep(c[i]));
                    i += 1;
                }
            }
        } else if !prev_ident && (c[i] == 'r' || (c[i] == 'b' && c.get(i + 1) == Some(&'r'))) && {
            let j = if c[i] == 'b' { i + 2 } else { i + 1 };
            let hashes = c[j..].iter().take_while(|&&h| h == '#').count();
            c.get(j + hashes) == Some(&'"')
        } {
            // A raw string: r"…", r#"…"#, br#"…"#.
            let j = if c[i] == 'b' { i + 2 } else { i + 1 };
            let hashes = c[j..].iter().take_while(|&&h| h == '#').count();
            let close: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            let start = j + hashes + 1;
            let rest: String = c[start..].iter().collect();
            let len = rest.find(&close).map(|at| rest[..at].chars().count()).unwrap_or(c.len() - start);
            out.push('"');
            out.extend(c[start..start + len].iter().map(|&ch| keep(ch)));
            out.push('"');
            i = start + len + close.chars().count();
        } else if c[i] == '"' {
            out.push('"');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < c.len() {
                    out.push(keep(c[i]));
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c[i] == '\'' && !prev_ident {
            // A character literal ('x', '\n', '\u{1F600}'), or a lifetime ('a), kept.
            let end = if c.get(i + 1) == Some(&'\\') {
                // The escaped character may itself be a quote: '\''.
                c.get(i + 3..).and_then(|r| r.iter().position(|&ch| ch == '\'')).map(|p| i + 3 + p)
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    out.push_str("' '");
                    i = end + 1;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

#[derive(Debug, Clone)]
struct Tok {
    text: String,
    line: usize,
}

impl Tok {
    fn is(&self, s: &str) -> bool {
        self.text == s
    }

    fn ident(&self) -> Option<&str> {
        self.text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_').then_some(self.text.as_str())
    }
}

/// Identifiers (a raw `r#type` as `type`), numbers, `::`, `->`, `=>`, and single characters.
fn tokens(blanked: &str) -> Vec<Tok> {
    let c: Vec<char> = blanked.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == 'r' && c.get(i + 1) == Some(&'#') && c.get(i + 2).is_some_and(|&n| is_ident(n)) {
            let start = i + 2;
            i = start;
            while i < c.len() && is_ident(c[i]) {
                i += 1;
            }
            out.push(Tok { text: c[start..i].iter().collect(), line });
        } else if is_ident(ch) {
            let start = i;
            while i < c.len() && is_ident(c[i]) {
                i += 1;
            }
            out.push(Tok { text: c[start..i].iter().collect(), line });
        } else {
            let two: String = c[i..(i + 2).min(c.len())].iter().collect();
            if matches!(two.as_str(), "::" | "->" | "=>") {
                out.push(Tok { text: two, line });
                i += 2;
            } else {
                out.push(Tok { text: ch.to_string(), line });
                i += 1;
            }
        }
    }
    out
}

/// The index just past the group that opens at `open` (`(`, `[`, `{` or `<`).
fn close(toks: &[Tok], open: usize) -> usize {
    let (o, c) = match toks[open].text.as_str() {
        "(" => ("(", ")"),
        "[" => ("[", "]"),
        "{" => ("{", "}"),
        "<" => ("<", ">"),
        other => panic!("no group opens with {other:?}"),
    };
    let mut depth = 0;
    for (i, t) in toks.iter().enumerate().skip(open) {
        if t.is(o) {
            depth += 1;
        } else if t.is(c) {
            depth -= 1;
            if depth == 0 {
                return i + 1;
            }
        }
    }
    toks.len()
}

// ---------------------------------------------------------------------------------------------
// Items

/// One `fn` item.
#[derive(Debug)]
struct FnItem {
    /// `crate::dispatch::spot`.
    module: String,
    name: String,
    /// The type of its `impl` block, or its trait's name.
    owner: Option<String>,
    /// The trait of its `impl` block (or its trait).
    owner_trait: Option<String>,
    /// Takes `self`: a method, reached by `.name(`.
    receiver: bool,
    /// The names its parameters bind.
    params: Vec<String>,
    /// Its body, or None for a declaration (a trait method without a default).
    body: Option<Vec<Tok>>,
    file: PathBuf,
}

impl FnItem {
    fn id(&self) -> String {
        match &self.owner {
            Some(owner) => format!("{}::{owner}::{}", self.module, self.name),
            None => format!("{}::{}", self.module, self.name),
        }
    }
}

/// A `use` of one module: an alias for a path, or a glob of one.
#[derive(Debug, Default)]
struct Uses {
    aliases: BTreeMap<String, Vec<String>>,
    globs: Vec<Vec<String>>,
}

/// What the files hold: modules, their uses, and the `fn` items.
#[derive(Debug, Default)]
struct Code {
    modules: BTreeSet<String>,
    uses: BTreeMap<String, Uses>,
    fns: Vec<FnItem>,
    /// Modules declared under `#[cfg(test)]`: their files are test code.
    test_modules: BTreeSet<String>,
    /// The crates a path may begin with besides this one (std and Cargo.toml's dependencies).
    externs: BTreeSet<String>,
    /// `module::name` of every free function.
    free: BTreeSet<String>,
}

/// `src/dispatch/spot.rs` -> `crate::dispatch::spot`; None for the binary's `src/main.rs`.
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix("src").ok()?;
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let file = parts.pop()?.strip_suffix(".rs")?.to_string();
    match file.as_str() {
        "main" if parts.is_empty() => return None,
        "lib" if parts.is_empty() => {}
        "mod" => {}
        _ => parts.push(file),
    }
    Some(std::iter::once("crate".to_string()).chain(parts).collect::<Vec<_>>().join("::"))
}

/// The use trees of `use …;` tokens (without `use` and `;`): (alias, path) and globs.
fn use_tree(toks: &[Tok], mut i: usize, prefix: &[String], uses: &mut Uses) -> usize {
    let mut path = prefix.to_vec();
    if i < toks.len() && toks[i].is("::") {
        i += 1;
    }
    loop {
        let Some(t) = toks.get(i) else { return i };
        if t.is("{") {
            let end = close(toks, i) - 1;
            i += 1;
            while i < end {
                i = use_tree(toks, i, &path, uses);
                if i < end && toks[i].is(",") {
                    i += 1;
                }
            }
            return end + 1;
        }
        if t.is("*") {
            uses.globs.push(path);
            return i + 1;
        }
        let Some(name) = t.ident() else { return i };
        path.push(name.to_string());
        i += 1;
        if toks.get(i).is_some_and(|t| t.is("::")) {
            i += 1;
            continue;
        }
        let mut alias = name.to_string();
        if name == "self" {
            path.pop();
            alias = path.last().cloned().unwrap_or_default();
        }
        if toks.get(i).is_some_and(|t| t.is("as")) {
            alias = toks[i + 1].text.clone();
            i += 2;
        }
        if alias != "_" {
            uses.aliases.insert(alias, path);
        }
        return i;
    }
}

/// Whether the attribute whose `[` is at `open` is `#[cfg(test)]`.
fn is_cfg_test(toks: &[Tok], open: usize) -> bool {
    let words: Vec<&str> = toks[open..close(toks, open)].iter().map(|t| t.text.as_str()).collect();
    words == ["[", "cfg", "(", "test", ")", "]"]
}

/// The type (or trait) named by an `impl` header's path at `i`: its last segment before any `<`.
fn last_segment(toks: &[Tok], mut i: usize, end: usize) -> Option<String> {
    let mut last = None;
    while i < end {
        if let Some(name) = toks[i].ident() {
            if matches!(name, "for" | "where" | "dyn") {
                break;
            }
            last = Some(name.to_string());
        } else if !toks[i].is("::") && !toks[i].is("&") {
            break;
        }
        i += 1;
    }
    last
}

/// std's crates and the dependencies of Cargo.toml, as paths spell them.
fn externs() -> BTreeSet<String> {
    let manifest = read(&root().join("Cargo.toml"));
    let mut names: BTreeSet<String> = ["std", "core", "alloc"].into_iter().map(String::from).collect();
    let mut in_deps = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line.ends_with("dependencies]");
        } else if in_deps && let Some((name, _)) = line.split_once('=') {
            names.insert(name.trim().replace('-', "_"));
        }
    }
    names
}

impl Code {
    fn parse(files: &[(PathBuf, String)]) -> Code {
        let mut code = Code { externs: externs(), ..Code::default() };
        for (path, text) in files {
            let Some(module) = module_of(path) else { continue };
            code.modules.insert(module.clone());
            let toks = tokens(&blank(text));
            code.items(&toks, 0, toks.len(), &module, None, path);
        }
        // Test code is left out: what it calls, no function calls.
        let tests = code.test_modules.clone();
        let is_test = |m: &str| tests.iter().any(|t| m == t || m.starts_with(&format!("{t}::")));
        code.fns.retain(|f| !is_test(&f.module));
        code.modules.retain(|m| !is_test(m));
        code.free = code.fns.iter().filter(|f| f.owner.is_none()).map(FnItem::id).collect();
        code
    }

    /// The items of `toks[i..end]` in `module`; `owner` is (type, trait) inside an impl or trait.
    fn items(
        &mut self,
        toks: &[Tok],
        mut i: usize,
        end: usize,
        module: &str,
        owner: Option<(Option<String>, Option<String>)>,
        path: &Path,
    ) {
        let mut test_only = false;
        while i < end {
            let t = &toks[i];
            match t.text.as_str() {
                "#" => {
                    let open = if toks[i + 1].is("!") { i + 2 } else { i + 1 };
                    test_only |= is_cfg_test(toks, open);
                    i = close(toks, open);
                    continue;
                }
                "use" => {
                    let stop = (i..end).find(|&j| toks[j].is(";")).unwrap_or(end);
                    if !test_only {
                        let uses = self.uses.entry(module.to_string()).or_default();
                        use_tree(&toks[..stop], i + 1, &[], uses);
                    }
                    i = stop + 1;
                    test_only = false;
                }
                "mod" if toks.get(i + 1).is_some_and(|t| t.ident().is_some()) => {
                    let child = format!("{module}::{}", toks[i + 1].text);
                    if test_only {
                        self.test_modules.insert(child.clone());
                    }
                    self.modules.insert(child.clone());
                    if toks[i + 2].is("{") {
                        let stop = close(toks, i + 2);
                        if !test_only {
                            self.items(toks, i + 3, stop - 1, &child, None, path);
                        }
                        i = stop;
                    } else {
                        i += 3;
                    }
                    test_only = false;
                }
                "impl" | "trait" => {
                    let open = (i..end).find(|&j| toks[j].is("{") || toks[j].is(";")).unwrap_or(end);
                    let mut h = i + 1;
                    if t.is("impl") && toks[h].is("<") {
                        h = close(toks, h);
                    }
                    let owner = if t.is("trait") {
                        let name = toks[h].text.clone();
                        (Some(name.clone()), Some(name))
                    } else {
                        let first = last_segment(toks, h, open);
                        match (h..open).find(|&j| toks[j].is("for")) {
                            Some(f) => (last_segment(toks, f + 1, open), first),
                            None => (first, None),
                        }
                    };
                    if open < end && toks[open].is("{") {
                        let stop = close(toks, open);
                        if !test_only {
                            self.items(toks, open + 1, stop - 1, module, Some(owner), path);
                        }
                        i = stop;
                    } else {
                        i = open + 1;
                    }
                    test_only = false;
                    continue;
                }
                "fn" if toks.get(i + 1).is_some_and(|t| t.ident().is_some()) => {
                    let name = toks[i + 1].text.clone();
                    let mut j = i + 2;
                    if toks[j].is("<") {
                        j = close(toks, j);
                    }
                    let params_end = close(toks, j);
                    let receiver =
                        toks[j + 1..params_end].iter().take_while(|t| !t.is(",") && !t.is(":")).any(|t| t.is("self"));
                    // `name: Type` (a type holds no single `:`).
                    let params = (j + 1..params_end)
                        .filter(|&p| toks[p + 1].is(":"))
                        .filter_map(|p| toks[p].ident().map(String::from))
                        .collect();
                    let mut k = params_end;
                    while k < end && !toks[k].is("{") && !toks[k].is(";") {
                        k = if toks[k].is("(") || toks[k].is("[") { close(toks, k) } else { k + 1 };
                    }
                    let (body, next) = if k < end && toks[k].is("{") {
                        let stop = close(toks, k);
                        // A `use` inside the body counts for the whole module: a wider view.
                        if !test_only {
                            let uses = self.uses.entry(module.to_string()).or_default();
                            for u in (k..stop).filter(|&u| toks[u].is("use")) {
                                let semi = (u..stop).find(|&j| toks[j].is(";")).unwrap_or(stop);
                                use_tree(&toks[..semi], u + 1, &[], uses);
                            }
                        }
                        (Some(toks[k + 1..stop - 1].to_vec()), stop)
                    } else {
                        (None, k + 1)
                    };
                    if !test_only {
                        let (owner, owner_trait) = owner.clone().unwrap_or((None, None));
                        self.fns.push(FnItem {
                            module: module.to_string(),
                            name,
                            owner,
                            owner_trait,
                            receiver,
                            params,
                            body,
                            file: path.to_path_buf(),
                        });
                    }
                    i = next;
                    test_only = false;
                    continue;
                }
                "{" => {
                    i = close(toks, i);
                    test_only = false;
                    continue;
                }
                ";" => {
                    test_only = false;
                    i += 1;
                }
                _ => i += 1,
            }
        }
    }

    /// The parent of a module.
    fn parent(module: &str) -> String {
        module.rsplit_once("::").map(|(p, _)| p.to_string()).unwrap_or_else(|| module.to_string())
    }

    /// `segs` as written in `module`, made absolute (`crate::…`); None for what is outside the
    /// crate (std, other crates) or not a path at all (a local, a type parameter).
    fn absolute(&self, module: &str, segs: &[String], depth: usize) -> Option<Vec<String>> {
        let (head, rest) = segs.split_first()?;
        let mut base: Vec<String> = match head.as_str() {
            "crate" => vec!["crate".into()],
            "self" => module.split("::").map(String::from).collect(),
            "super" => {
                let mut m = Code::parent(module);
                let mut rest = rest;
                while rest.first().is_some_and(|s| s == "super") {
                    m = Code::parent(&m);
                    rest = &rest[1..];
                }
                return Some(m.split("::").map(String::from).chain(rest.iter().cloned()).collect());
            }
            _ => {
                let child = format!("{module}::{head}");
                if self.modules.contains(&child) || self.fn_named(module, head) {
                    child.split("::").map(String::from).collect()
                } else if let Some(target) = self.uses.get(module).and_then(|u| u.aliases.get(head)) {
                    if depth > 8 {
                        return None;
                    }
                    // A `use` path is read where the `use` is.
                    self.absolute(module, target, depth + 1)?
                } else {
                    let globbed = self.uses.get(module).into_iter().flat_map(|u| &u.globs).find_map(|g| {
                        let g = self.absolute(module, g, depth + 1)?;
                        let m = g.join("::");
                        (self.modules.contains(&format!("{m}::{head}")) || self.fn_named(&m, head))
                            .then(|| g.into_iter().chain([head.clone()]).collect::<Vec<_>>())
                    });
                    globbed?
                }
            }
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// Whether `head`, in `module`, begins a path outside the crate: another crate, or a `use`
    /// of one (called once [`Code::absolute`] found nothing in the crate).
    fn external(&self, module: &str, head: &str) -> bool {
        self.externs.contains(head) || self.uses.get(module).is_some_and(|u| u.aliases.contains_key(head))
    }

    /// `abs` with the re-exports on its way followed: `crate::aws::Sdk` is `crate::aws::sdk::Sdk`.
    fn canonical(&self, abs: Vec<String>, depth: usize) -> Vec<String> {
        let mut module = abs[0].clone();
        for (k, seg) in abs.iter().enumerate().skip(1) {
            let child = format!("{module}::{seg}");
            if self.modules.contains(&child) {
                module = child;
                continue;
            }
            if !self.fn_named(&module, seg)
                && depth < 8
                && let Some(target) = self.uses.get(&module).and_then(|u| u.aliases.get(seg))
                && let Some(mut path) = self.absolute(&module, target, 0)
            {
                path.extend(abs[k + 1..].iter().cloned());
                return self.canonical(path, depth + 1);
            }
            break;
        }
        abs
    }

    fn fn_named(&self, module: &str, name: &str) -> bool {
        self.free.contains(&format!("{module}::{name}"))
    }
}

// ---------------------------------------------------------------------------------------------
// The call graph

/// Words that begin no path to a function.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn",
    "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self",
    "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while",
];

/// Whether `t` may be a name a pattern binds: lower case, no keyword.
fn binds(body: &[Tok], i: usize) -> bool {
    let Some(word) = body[i].ident() else { return false };
    let next = body.get(i + 1).map_or("", |t| t.text.as_str());
    let prev = if i > 0 { body[i - 1].text.as_str() } else { "" };
    word.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && !KEYWORDS.contains(&word)
        && !matches!(next, "(" | "::" | "{" | "!")
        && !matches!(prev, "::" | "." | "'")
}

/// The local names a body binds (in `let`, `if let`, `for`, closure parameters and match arms),
/// each with where it is first bound.
fn bindings(body: &[Tok]) -> BTreeMap<String, usize> {
    let mut bound = BTreeMap::new();
    let region = |from: usize, to: usize, bound: &mut BTreeMap<String, usize>| {
        for k in from..to.min(body.len()) {
            if binds(body, k) {
                bound.entry(body[k].text.clone()).or_insert(k);
            }
        }
    };
    for (i, t) in body.iter().enumerate() {
        let prev = if i > 0 { body[i - 1].text.as_str() } else { "(" };
        match t.text.as_str() {
            "let" => {
                let end = (i..body.len()).find(|&j| matches!(body[j].text.as_str(), "=" | ";" | "else"));
                region(i + 1, end.unwrap_or(i), &mut bound);
            }
            "for" => {
                let end = (i..body.len()).find(|&j| body[j].is("in") || body[j].is("{"));
                region(i + 1, end.unwrap_or(i), &mut bound);
            }
            // A closure's parameters: a `|` where a value begins, up to the next `|`.
            "|" if matches!(prev, "(" | "," | "=" | "move" | "{" | ";" | "=>" | "return") => {
                let end = (i + 1..body.len()).find(|&j| body[j].is("|"));
                region(i + 1, end.unwrap_or(i), &mut bound);
            }
            // A match arm's pattern: back from `=>` to the `{`, `,` or `}` before the arm, up
            // to its guard.
            "=>" => {
                let (mut j, mut depth, mut guard) = (i, 0usize, i);
                while j > 0 {
                    j -= 1;
                    match body[j].text.as_str() {
                        ")" | "]" => depth += 1,
                        "(" | "[" if depth > 0 => depth -= 1,
                        "(" | "[" | "{" | "}" | "," | ";" if depth == 0 => break,
                        "if" if depth == 0 => guard = j,
                        _ => {}
                    }
                }
                region(j + 1, guard, &mut bound);
            }
            _ => {}
        }
    }
    bound
}

/// The functions, their edges and the AWS operations each body makes.
struct Graph<'c> {
    code: &'c Code,
    /// Per function: the functions it reaches in one step.
    edges: Vec<BTreeSet<usize>>,
    /// Per function: the AWS operations its own body calls (`prefix:Operation`).
    ops: Vec<BTreeSet<String>>,
    /// Per function: calls `name(` it makes that resolve to no function (closures, locals,
    /// enum variants, other crates), with their lines.
    unresolved: Vec<Vec<(String, usize)>>,
    /// The functions that reach an AWS operation, however indirectly.
    aws: BTreeSet<usize>,
}

impl<'c> Graph<'c> {
    fn new(code: &'c Code, clients: &[(String, String)]) -> Graph<'c> {
        let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
        let mut methods: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (n, f) in code.fns.iter().enumerate() {
            if f.owner.is_none() {
                by_id.insert(f.id(), n);
            }
            if f.receiver {
                methods.entry(f.name.as_str()).or_default().push(n);
            }
            by_name.entry(f.name.as_str()).or_default().push(n);
        }
        // `Type::name` or `Trait::name`: the functions of that owner (or trait) by that name.
        let owned = |owner: &str, name: &str| -> Vec<usize> {
            let of = |n: &&usize| {
                let f = &code.fns[**n];
                f.owner.as_deref() == Some(owner) || f.owner_trait.as_deref() == Some(owner)
            };
            by_name.get(name).into_iter().flatten().filter(of).copied().collect()
        };
        let mut graph =
            Graph { code, edges: Vec::new(), ops: Vec::new(), unresolved: Vec::new(), aws: BTreeSet::new() };
        for f in &code.fns {
            let (mut edges, mut ops, mut unresolved) = (BTreeSet::new(), BTreeSet::new(), Vec::new());
            let body = f.body.as_deref().unwrap_or_default();
            let bound = bindings(body);
            let local =
                |name: &str, at: usize| f.params.iter().any(|p| p == name) || bound.get(name).is_some_and(|&b| b <= at);
            for (i, t) in body.iter().enumerate() {
                let Some(word) = t.ident() else { continue };
                if let Some((_, action)) = CREDENTIAL_PROVIDERS.iter().find(|(provider, _)| *provider == word) {
                    ops.insert(action.to_string());
                }
                let prev = if i > 0 { body[i - 1].text.as_str() } else { "" };
                let next = body.get(i + 1).map_or("", |t| t.text.as_str());
                let called = next == "(" || next == "::";
                if prev == "." {
                    // A method call reaches every method of the name: the receiver's type is
                    // not known here.
                    if called {
                        edges.extend(methods.get(word).into_iter().flatten());
                    }
                    // `.client.operation(`: an AWS call.
                    if let Some((_, prefix)) = clients.iter().find(|(field, _)| field == word)
                        && next == "."
                        && let Some(op) = body.get(i + 2).and_then(Tok::ident)
                        && body.get(i + 3).is_some_and(|t| t.is("("))
                        && is_operation(op)
                    {
                        ops.insert(format!("{prefix}:{}", pascal(op)));
                    }
                    continue;
                }
                if prev == "::" {
                    // `<A as Trait>::name(`: a method of that name; other `::` segments are
                    // read with the path they belong to.
                    if i >= 2 && body[i - 2].is(">") && next == "(" {
                        edges.extend(methods.get(word).into_iter().flatten());
                    }
                    continue;
                }
                if KEYWORDS.contains(&word) && !matches!(word, "crate" | "self" | "super" | "Self") {
                    continue;
                }
                // A path: `a::b::c`, up to a turbofish or the end.
                let mut segs = vec![word.to_string()];
                let mut j = i + 1;
                while body.get(j).is_some_and(|t| t.is("::")) && body.get(j + 1).and_then(Tok::ident).is_some() {
                    segs.push(body[j + 1].text.clone());
                    j += 2;
                }
                let call = body.get(j).is_some_and(|t| t.is("("))
                    || (body.get(j).is_some_and(|t| t.is("::")) && body.get(j + 1).is_some_and(|t| t.is("<")));
                if segs.len() == 1 && !call {
                    // A name that is not called: a function passed as a value, unless it is a
                    // local, a field or binding (`x.`, `x:`, `x =`), or a macro.
                    if local(word, i) || matches!(next, "." | ":" | "=" | "!") {
                        continue;
                    }
                }
                let name = segs.last().unwrap().clone();
                let mut found = Vec::new();
                let mut external = false;
                if segs[0] == "Self" {
                    if let (Some(owner), 2) = (&f.owner, segs.len()) {
                        found = owned(owner, &name);
                    }
                } else if let Some(abs) = code.absolute(&f.module, &segs, 0) {
                    let abs = code.canonical(abs, 0);
                    if let Some(&n) = by_id.get(&abs.join("::")) {
                        found.push(n);
                    } else if abs.len() >= 3 && !code.modules.contains(&abs[..abs.len() - 1].join("::")) {
                        // `Type::name` of a crate type.
                        found = owned(&abs[abs.len() - 2], &name);
                    }
                } else if code.external(&f.module, &segs[0]) {
                    external = true;
                } else if segs.len() >= 2 {
                    // `Type::name` of a type not imported at module level, of a type parameter,
                    // or of a trait: the functions of an owner by that name, if any.
                    found = owned(&segs[segs.len() - 2], &name);
                }
                // Closures, locals, enum variants, tuple structs: nothing to follow, but a
                // name that is also a function reaching AWS is reported (`Reached::blind`).
                if found.is_empty() && call && !external && segs[0] != "self" && !(segs.len() == 1 && local(word, i)) {
                    unresolved.push((segs.join("::"), t.line));
                }
                edges.extend(found);
            }
            graph.edges.push(edges);
            graph.ops.push(ops);
            graph.unresolved.push(unresolved);
        }
        graph.aws = graph.reaching_aws();
        graph
    }

    fn find(&self, id: &str) -> usize {
        self.code
            .fns
            .iter()
            .position(|f| f.owner.is_none() && f.id() == id)
            .unwrap_or_else(|| panic!("no function {id} in src/"))
    }

    /// Everything `roots` reach without entering `cut`: per reached function, the one it was
    /// reached from (None for a root).
    fn reach(&self, roots: &[usize], cut: &[usize]) -> BTreeMap<usize, Option<usize>> {
        let mut from = BTreeMap::new();
        let mut queue: VecDeque<usize> = VecDeque::new();
        for &r in roots {
            from.insert(r, None);
            queue.push_back(r);
        }
        while let Some(n) = queue.pop_front() {
            for &m in &self.edges[n] {
                if !cut.contains(&m) && !from.contains_key(&m) {
                    from.insert(m, Some(n));
                    queue.push_back(m);
                }
            }
        }
        from
    }

    /// The functions that reach an AWS operation, however indirectly.
    fn reaching_aws(&self) -> BTreeSet<usize> {
        let mut reaching: BTreeSet<usize> = (0..self.ops.len()).filter(|&n| !self.ops[n].is_empty()).collect();
        loop {
            let more: Vec<usize> = (0..self.edges.len())
                .filter(|n| !reaching.contains(n) && self.edges[*n].iter().any(|m| reaching.contains(m)))
                .collect();
            if more.is_empty() {
                return reaching;
            }
            reaching.extend(more);
        }
    }

    fn short(&self, n: usize) -> String {
        self.code.fns[n].id().trim_start_matches("crate::").to_string()
    }
}

/// What one function's path calls.
struct Reached {
    /// `prefix:Operation` -> how the path gets there (`lambda::run -> … -> Sdk::deregister_target`).
    ops: BTreeMap<String, String>,
    /// Calls in reached bodies that resolve to no function but are named like one that reaches
    /// AWS: the scan cannot follow them, so they are reported, not guessed.
    blind: Vec<String>,
}

fn reached_from(graph: &Graph<'_>, roots: &[usize], cut: &[usize]) -> Reached {
    let reached = graph.reach(roots, cut);
    let aws_names: BTreeSet<&str> = graph.aws.iter().map(|&n| graph.code.fns[n].name.as_str()).collect();
    let mut ops = BTreeMap::new();
    let mut blind = Vec::new();
    for &n in reached.keys() {
        for op in &graph.ops[n] {
            ops.entry(op.clone()).or_insert_with(|| {
                let mut chain = vec![graph.short(n)];
                let mut at = n;
                while let Some(Some(p)) = reached.get(&at) {
                    chain.push(graph.short(*p));
                    at = *p;
                }
                chain.reverse();
                chain.join(" -> ")
            });
        }
        let f = &graph.code.fns[n];
        for (call, line) in &graph.unresolved[n] {
            let last = call.rsplit("::").next().unwrap();
            if aws_names.contains(last) {
                blind.push(format!(
                    "{}:{line}: `{call}(` in {} resolves to no function, but a function named {last} reaches AWS: name it by its path",
                    f.file.display(),
                    graph.short(n)
                ));
            }
        }
    }
    Reached { ops, blind }
}

/// The two functions' paths, and the CLI's.
struct Paths {
    stop_start: Reached,
    spot: Reached,
    cli: Reached,
}

fn paths(rust: &[(PathBuf, String)]) -> Paths {
    let code = Code::parse(rust);
    let graph = Graph::new(&code, &clients(sdk_rs(rust)));
    let entry = graph.find(ENTRY);
    let environment = graph.find(STOP_START_HANDLER);
    let spot: Vec<usize> = SPOT_HANDLERS.iter().map(|h| graph.find(h)).collect();
    let cli: Vec<usize> = (0..code.fns.len()).filter(|&n| code.fns[n].module == "crate::cli").collect();
    Paths {
        stop_start: reached_from(&graph, &[entry], &spot),
        spot: reached_from(&graph, &[entry], &[environment]),
        cli: reached_from(&graph, &cli, &[]),
    }
}

// ---------------------------------------------------------------------------------------------
// The Terraform side

/// Where the block that begins with `header` (e.g. `data "aws_iam_policy_document" "spot"`) is
/// in `tf`.
fn block_range(tf: &str, header: &str) -> std::ops::Range<usize> {
    let header = format!("{header} {{");
    let start = tf.find(&header).unwrap_or_else(|| panic!("no `{header}` in the Terraform"));
    let mut depth = 0usize;
    let mut at = start;
    for line in tf[start..].split_inclusive('\n') {
        at += line.len();
        if line.trim_start().starts_with('#') {
            continue;
        }
        // Interpolations (`${...}`) balance within a line, so counting every brace is enough.
        depth += line.matches('{').count();
        depth -= line.matches('}').count();
        if depth == 0 {
            return start..at;
        }
    }
    panic!("the `{header}` block does not close");
}

/// The text of that block, comments dropped.
fn block(tf: &str, header: &str) -> String {
    let text = &tf[block_range(tf, header)];
    text.lines().filter(|l| !l.trim_start().starts_with('#')).map(|l| format!("{l}\n")).collect()
}

fn policy_block(tf: &str, name: &str) -> String {
    block(tf, &format!("data \"aws_iam_policy_document\" \"{name}\""))
}

/// The quoted strings of every `actions = [...]` list in `block`.
fn granted_actions(block: &str) -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    let mut rest = block;
    while let Some(at) = rest.find("actions") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "actions".len()..];
        if before.is_some_and(is_ident) {
            continue; // e.g. `not_actions`, which the policy must not use
        }
        let Some(list) = rest.trim_start().strip_prefix('=').map(str::trim_start) else { continue };
        let list = list.strip_prefix('[').expect("`actions =` is followed by a list");
        let list = &list[..list.find(']').expect("the actions list closes")];
        for quoted in list.split('"').skip(1).step_by(2) {
            actions.insert(quoted.to_string());
        }
    }
    actions
}

// ---------------------------------------------------------------------------------------------
// The comparison

/// One function: its name in the messages and the policy that must match its path.
#[derive(Clone, Copy)]
struct Role {
    function: &'static str,
    policy: &'static str,
}

const STOP_START: Role = Role { function: "the stop/start function", policy: "function" };
const SPOT: Role = Role { function: "the Spot function", policy: "spot" };

/// What `role`'s policy must grant, given the operations its path calls.
fn expected(called: &BTreeSet<String>) -> BTreeSet<String> {
    let mut expected = called.clone();
    expected.extend(NOT_CALLS.iter().map(|(a, _)| a.to_string()));
    for (action, with, _) in WITH_CALLS {
        if with.iter().any(|c| called.contains(*c)) {
            expected.insert(action.to_string());
        }
    }
    expected
}

/// Empty when `role`'s policy grants exactly its path's calls plus [`NOT_CALLS`] and
/// [`WITH_CALLS`]; else what differs, and how the path reaches what it calls.
fn drift(role: Role, path: &Reached, granted: &BTreeSet<String>) -> Vec<String> {
    let called: BTreeSet<String> = path.ops.keys().cloned().collect();
    let expected = expected(&called);
    let mut problems = path.blind.clone();
    for a in expected.difference(granted) {
        let via = path.ops.get(a).map(|v| format!(" (via {v})")).unwrap_or_default();
        problems.push(format!(
            "called by {} but not granted in terraform/iam.tf \"{}\": {a}{via}",
            role.function, role.policy
        ));
    }
    for a in granted.difference(&expected) {
        problems
            .push(format!("granted in terraform/iam.tf \"{}\" but not called by {}: {a}", role.policy, role.function));
    }
    problems
}

/// The drift of both roles and of the calls no function makes, for these sources.
fn all_drift(rust: &[(PathBuf, String)], iam_tf: &str) -> Vec<String> {
    drift_of(&paths(rust), rust, iam_tf)
}

/// The same, for paths derived already from `rust`.
fn drift_of(paths: &Paths, rust: &[(PathBuf, String)], iam_tf: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (role, path) in [(STOP_START, &paths.stop_start), (SPOT, &paths.spot)] {
        let block = policy_block(iam_tf, role.policy);
        assert!(!block.contains("not_actions"), "the policy must list its actions, not exclude some");
        let granted = granted_actions(&block);
        assert!(granted.iter().all(|a| !a.contains('*')), "wildcard actions granted: {granted:?}");
        problems.extend(drift(role, path, &granted));
    }
    problems.extend(unaccounted(rust, paths));
    problems.sort();
    problems.dedup();
    problems
}

/// Every call in `src/` is made by one of the functions, or is one the CLI alone makes.
fn unaccounted(rust: &[(PathBuf, String)], paths: &Paths) -> Vec<String> {
    let mut problems = Vec::new();
    let functions: BTreeSet<&String> = paths.stop_start.ops.keys().chain(paths.spot.ops.keys()).collect();
    for a in all_calls(rust) {
        let cli_only = CLI_ONLY.iter().any(|(c, _)| *c == a);
        if !functions.contains(&a) && !cli_only {
            problems.push(format!("called in src/ but reached by neither function (nor CLI_ONLY): {a}"));
        }
        if functions.contains(&a) && cli_only {
            problems.push(format!("CLI_ONLY, but a function reaches it: {a}"));
        }
    }
    for (a, _) in CLI_ONLY {
        if !paths.cli.ops.contains_key(*a) {
            problems.push(format!("CLI_ONLY, but src/cli.rs does not reach it: {a}"));
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn each_policy_grants_exactly_what_its_function_calls() {
    let s = sources();
    let paths = paths(&s.rust);
    let problems = drift_of(&paths, &s.rust, &s.iam_tf);
    let list = |p: &Reached| p.ops.iter().map(|(a, via)| format!("  {a}  via {via}")).collect::<Vec<_>>().join("\n");
    assert!(
        problems.is_empty(),
        "{}\n\nthe stop/start function calls:\n{}\nthe Spot function calls:\n{}",
        problems.join("\n"),
        list(&paths.stop_start),
        list(&paths.spot)
    );
}

/// The Spot function may take targets out and drain instances; it must never change a
/// service, a scalable target, a group, a snapshot or a schedule.
#[test]
fn the_spot_function_changes_nothing_but_targets_and_instance_states() {
    let s = sources();
    let spot = paths(&s.rust).spot;
    let writes: Vec<&String> = spot
        .ops
        .keys()
        .filter(|a| {
            let op = a.split_once(':').unwrap().1;
            // AssumeRole changes nothing: it acts in a target account with that account's role.
            !["Describe", "List", "Get", "AssumeRole"].iter().any(|read| op.starts_with(read))
        })
        .collect();
    assert_eq!(writes, ["ecs:UpdateContainerInstancesState", "elasticloadbalancing:DeregisterTargets"]);
}

/// A target account's role (terraform/modules/target-account, `"target"`) grants exactly the
/// calls either function makes there: both functions assume it.
#[test]
fn the_target_account_role_grants_exactly_what_the_functions_call_there() {
    let s = sources();
    let paths = paths(&s.rust);
    let there: BTreeSet<String> = paths
        .stop_start
        .ops
        .keys()
        .chain(paths.spot.ops.keys())
        .filter(|a| TARGET_PREFIXES.contains(&a.split_once(':').unwrap().0))
        .cloned()
        .collect();
    let tf = read(&root().join("terraform/modules/target-account/iam.tf"));
    let block = policy_block(&tf, "target");
    assert!(!block.contains("not_actions"), "the policy must list its actions, not exclude some");
    let granted = granted_actions(&block);
    assert_eq!(
        granted.difference(&there).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "granted in the target role, never called there"
    );
    assert_eq!(there.difference(&granted).collect::<Vec<_>>(), Vec::<&String>::new(), "called there, not granted");
    assert!(there.len() >= 20, "only {there:?}");
    for (role, path) in [("function", &paths.stop_start), ("spot", &paths.spot)] {
        assert!(path.ops.contains_key("sts:AssumeRole"), "the {role} path assumes the target roles");
    }
}

/// The scan found something for every client, and both paths are more than their entry: a
/// pattern it does not recognise is not silence.
#[test]
fn the_scan_sees_every_client_and_both_paths() {
    let s = sources();
    let paths = paths(&s.rust);
    let all: BTreeSet<String> = paths.stop_start.ops.keys().chain(paths.spot.ops.keys()).cloned().collect();
    for (_, prefix) in clients(sdk_rs(&s.rust)) {
        assert!(all.iter().any(|a| a.starts_with(&format!("{prefix}:"))), "no call found for the {prefix} client");
    }
    assert!(paths.spot.ops.len() >= 5, "the Spot path calls only {:?}", paths.spot.ops.keys());
    assert!(paths.stop_start.ops.len() >= 15, "the stop/start path calls only {:?}", paths.stop_start.ops.keys());
    // What the rest of the dispatcher calls in src/dispatch/spot.rs is a Spot handler, cut off
    // from the stop/start path: a new one routed from `handle` must be listed in SPOT_HANDLERS.
    let code = Code::parse(&s.rust);
    let graph = Graph::new(&code, &clients(sdk_rs(&s.rust)));
    let spot_module = "crate::dispatch::spot";
    for (n, f) in code.fns.iter().enumerate() {
        if f.module.starts_with("crate::dispatch") && !f.module.starts_with(spot_module) {
            for &m in &graph.edges[n] {
                let g = &code.fns[m];
                if g.module == spot_module {
                    assert!(
                        SPOT_HANDLERS.contains(&g.id().as_str()),
                        "{} calls {}: list it in SPOT_HANDLERS",
                        f.id(),
                        g.id()
                    );
                }
            }
        }
    }
    let handle = &graph.edges[graph.find("crate::dispatch::handle")];
    for h in SPOT_HANDLERS.iter().chain([&STOP_START_HANDLER]) {
        assert!(handle.contains(&graph.find(h)), "dispatch::handle does not call {h}");
    }
}

#[test]
fn each_function_runs_with_its_own_role() {
    let s = sources();
    let lambda_tf = read(&root().join("terraform/lambda.tf"));
    for (function, role) in [("this", "function"), ("spot", "spot")] {
        let f = block(&lambda_tf, &format!("resource \"aws_lambda_function\" \"{function}\""));
        assert!(
            f.contains(&format!("role          = aws_iam_role.{role}.arn")),
            "aws_lambda_function.{function} runs with aws_iam_role.{role}"
        );
        assert!(
            f.contains(&format!("depends_on = [aws_iam_role_policy.{role}]")),
            "aws_lambda_function.{function} waits for its role's policy"
        );
        let attached = block(&s.iam_tf, &format!("resource \"aws_iam_role_policy\" \"{role}\""));
        assert!(
            attached.contains(&format!("role   = aws_iam_role.{role}.id")),
            "aws_iam_role_policy.{role} is on its role"
        );
        assert!(
            attached.contains(&format!("policy = data.aws_iam_policy_document.{role}.json")),
            "aws_iam_role_policy.{role} attaches its document"
        );
        let policy = policy_block(&s.iam_tf, role);
        // The destination records go only where the notifications (terraform/notifications.tf) are on.
        let at = policy.find("\"events:PutEvents\"").expect("events:PutEvents is granted");
        let statement =
            &policy[policy[..at].rfind("dynamic \"statement\"").expect("events:PutEvents is in a dynamic statement")..];
        assert!(
            statement.starts_with("dynamic \"statement\" {\n    for_each = local.destinations_enabled ? [1] : []"),
            "events:PutEvents only with local.destinations_enabled:\n{statement}"
        );
        assert!(
            statement[..statement.find("\n  }\n").unwrap()].contains("resources = [local.destination_bus_arn]"),
            "events:PutEvents only on the destination bus"
        );
    }
    // Each role writes the logs of its own function only.
    assert!(
        policy_block(&s.iam_tf, "function").contains("aws_cloudwatch_log_group.function.arn")
            && !policy_block(&s.iam_tf, "function").contains("aws_cloudwatch_log_group.spot")
    );
    assert!(
        policy_block(&s.iam_tf, "spot").contains("aws_cloudwatch_log_group.spot.arn")
            && !policy_block(&s.iam_tf, "spot").contains("aws_cloudwatch_log_group.function")
    );
}

#[test]
fn the_policy_names_the_snapshot_tag_and_the_one_time_schedules_the_code_uses() {
    let s = sources();
    let block = policy_block(&s.iam_tf, "function");
    let state = read(&root().join("src/state.rs"));
    let tag = state
        .split("pub const SNAPSHOT_TAG: &str = \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("src/state.rs defines SNAPSHOT_TAG");
    assert!(block.contains(&format!("[\"{tag}\"]")), "the tag condition must allow exactly {tag:?}");
    let intent = read(&root().join("src/intent.rs"));
    let prefixes: Vec<&str> =
        intent.split("format!(\"").filter_map(|r| r.split_once("{environment}\")")).map(|(p, _)| p).collect();
    for kind in ["override", "continue"] {
        let prefix = prefixes
            .iter()
            .find(|p| p.contains(kind))
            .unwrap_or_else(|| panic!("src/intent.rs names {kind} schedules `format!(\"...{{environment}}\")`"));
        assert!(block.contains(&format!("/{prefix}*\"")), "{kind} schedules are scoped to {prefix}*");
    }
}

/// The sources with `replace` done once in `file` (which must contain `from`).
fn edited(rust: &[(PathBuf, String)], file: &str, from: &str, to: &str) -> Vec<(PathBuf, String)> {
    let mut rust = rust.to_vec();
    let (_, text) = rust.iter_mut().find(|(p, _)| p == Path::new(file)).unwrap_or_else(|| panic!("no {file}"));
    assert!(text.contains(from), "{file} no longer contains {from:?}: update this test");
    *text = text.replacen(from, to, 1);
    rust
}

/// `problems` without the `(via …)` of each: the route a path takes may change with the code.
fn without_via(problems: Vec<String>) -> Vec<String> {
    let mut v: Vec<String> = problems.into_iter().map(|p| p.split(" (via ").next().unwrap().to_string()).collect();
    v.sort();
    v
}

/// The comparison itself notices a change on either side, for both functions.
#[test]
fn drift_on_either_side_is_reported() {
    let s = sources();
    // Relative to today's drift (none, unless the test above fails), so this test fails only
    // when the comparison misses a change.
    let today = paths(&s.rust);
    let base = without_via(drift_of(&today, &s.rust, &s.iam_tf));
    let tf_drift = |tf: &str| without_via(drift_of(&today, &s.rust, tf));
    let with = |extra: &str| {
        let mut v = base.clone();
        v.push(extra.to_string());
        v.sort();
        v
    };
    let tf = |policy: &str, from: &str, to: &str| {
        let range = block_range(&s.iam_tf, &format!("data \"aws_iam_policy_document\" \"{policy}\""));
        let block = &s.iam_tf[range.clone()];
        assert!(block.contains(from), "the {policy} policy no longer has {from}: update this test");
        format!("{}{}{}", &s.iam_tf[..range.start], block.replacen(from, to, 1), &s.iam_tf[range.end..])
    };
    let spot_writes = "\"ecs:UpdateContainerInstancesState\"";
    let spot_rs = "src/dispatch/spot.rs";
    let spot_line = "    let clusters = spot_plan::clusters(ctx.schedule, place);\n";

    // A grant fewer, a grant more, on each policy.
    assert_eq!(
        tf_drift(&tf("function", "\"ecs:UpdateService\"", "")),
        with("called by the stop/start function but not granted in terraform/iam.tf \"function\": ecs:UpdateService")
    );
    assert_eq!(
        tf_drift(&tf("function", "\"ecs:UpdateService\"", "\"ecs:UpdateService\", \"ecs:DeleteCapacityProvider\"")),
        with(
            "granted in terraform/iam.tf \"function\" but not called by the stop/start function: ecs:DeleteCapacityProvider"
        )
    );
    assert_eq!(
        tf_drift(&tf("spot", "\"elasticloadbalancing:DeregisterTargets\"", "")),
        with(
            "called by the Spot function but not granted in terraform/iam.tf \"spot\": elasticloadbalancing:DeregisterTargets"
        )
    );
    // What the issue is about: the Spot role may not change services, nor pass the
    // scheduler's role.
    for extra in ["ecs:UpdateService", "iam:PassRole"] {
        assert_eq!(
            tf_drift(&tf("spot", spot_writes, &format!("{spot_writes}, \"{extra}\""))),
            with(&format!("granted in terraform/iam.tf \"spot\" but not called by the Spot function: {extra}"))
        );
    }

    // A new call on the Spot path, made by the handler itself: reported with its route.
    let direct = edited(
        &s.rust,
        spot_rs,
        spot_line,
        &format!("{spot_line}    let _ = aws.set_desired_count(\"c\", \"s\", 0).await;\n"),
    );
    let found = all_drift(&direct, &s.iam_tf);
    assert_eq!(
        without_via(found.clone()),
        with("called by the Spot function but not granted in terraform/iam.tf \"spot\": ecs:UpdateService")
    );
    assert!(
        found.iter().any(|p| p.ends_with("(via lambda::run -> lambda::invocation -> dispatch::handle -> dispatch::spot::spot_instance_at -> dispatch::spot::spot_instance -> aws::sdk::Sdk::set_desired_count)")),
        "{found:#?}"
    );

    // ...through a new helper in another module, imported under another name.
    let helper = edited(
        &s.rust,
        "src/observe.rs",
        "// ---- Spot ----\n",
        "// ---- Spot ----\n\npub async fn extra<A: Services>(aws: &A) {\n    let _ = aws.list_services(\"c\").await;\n}\n",
    );
    let helper = edited(
        &helper,
        spot_rs,
        "use crate::{apply, observe};\n",
        "use crate::observe::extra as look_around;\nuse crate::{apply, observe};\n",
    );
    let helper = edited(&helper, spot_rs, spot_line, &format!("{spot_line}    look_around(aws).await;\n"));
    let found = all_drift(&helper, &s.iam_tf);
    assert_eq!(
        without_via(found.clone()),
        with("called by the Spot function but not granted in terraform/iam.tf \"spot\": ecs:ListServices")
    );
    assert!(
        found
            .iter()
            .any(|p| p.ends_with("dispatch::spot::spot_instance -> observe::extra -> aws::sdk::Sdk::list_services)")),
        "{found:#?}"
    );

    // ...in the SDK adapter, behind a trait method that only the Spot path calls.
    let adapter = edited(
        &s.rust,
        "src/aws/sdk.rs",
        "        let description = TargetDescription::builder()",
        "        let _ = self.elb.describe_load_balancers().send().await;\n        let description = TargetDescription::builder()",
    );
    assert_eq!(
        without_via(all_drift(&adapter, &s.iam_tf)),
        with(
            "called by the Spot function but not granted in terraform/iam.tf \"spot\": elasticloadbalancing:DescribeLoadBalancers"
        )
    );

    // A new call on the stop/start path only.
    let stop_start = edited(
        &s.rust,
        "src/dispatch.rs",
        "    let mut report = Report::planned(plan);\n    if plan.registers {",
        "    let mut report = Report::planned(plan);\n    let _ = ctx.aws.drain_container_instance(\"c\", \"ci\").await;\n    if plan.registers {",
    );
    assert_eq!(
        without_via(all_drift(&stop_start, &s.iam_tf)),
        with(
            "called by the stop/start function but not granted in terraform/iam.tf \"function\": ecs:UpdateContainerInstancesState"
        )
    );

    // A call the scan cannot follow, on the Spot path, is reported, not guessed.
    let blind =
        edited(&s.rust, spot_rs, spot_line, &format!("{spot_line}    let _ = registered(aws, &[], 1).await;\n"));
    let found = all_drift(&blind, &s.iam_tf);
    assert_eq!(found.len(), base.len() + 1, "{found:#?}");
    assert!(
        found.iter().any(|p| p.starts_with("src/dispatch/spot.rs:")
            && p.contains("`registered(` in dispatch::spot::spot_instance resolves to no function")),
        "{found:#?}"
    );

    // A call that neither function reaches.
    let orphan = edited(
        &s.rust,
        "src/aws/sdk.rs",
        "impl Sdk {\n    /// Every page",
        "impl Sdk {\n    pub async fn orphan(&self) {\n        let _ = self.ecs.stop_task().send().await;\n    }\n\n    /// Every page",
    );
    assert_eq!(
        without_via(all_drift(&orphan, &s.iam_tf)),
        with("called in src/ but reached by neither function (nor CLI_ONLY): ecs:StopTask")
    );
}

#[test]
fn names_are_read_as_iam_spells_them() {
    assert_eq!(pascal("update_container_instances_state"), "UpdateContainerInstancesState");
    let clients = [("elb".to_string(), "elasticloadbalancing".to_string())];
    // `.config()` reads the client's configuration: no request, no action.
    let text =
        "self.elb.deregister_targets().x; self.elbow.foo(); self.elb.config(); self.elb\n  .describe_target_health()";
    assert_eq!(
        calls_in(text, &clients).into_iter().collect::<Vec<_>>(),
        ["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:DescribeTargetHealth"]
    );
    let block = "statement {\n  actions = [\"a:B\", \"c:D\"]\n  not_actions = [\"x:Y\"]\n}\n";
    assert_eq!(granted_actions(block).into_iter().collect::<Vec<_>>(), ["a:B", "c:D"]);
}

/// The call graph follows aliases, `super`, `Self`, globs, method calls and functions passed as
/// values; it ignores what comments, strings and test code say.
#[test]
fn the_call_graph_reads_rust_as_written() {
    let files = vec![
        (
            PathBuf::from("src/lib.rs"),
            "pub mod a;\npub mod b;\npub use b::reexported as again;\n#[cfg(test)]\nmod tests;\n".to_string(),
        ),
        (
            PathBuf::from("src/a.rs"),
            r#"
mod inner;
use crate::b::{self as bee, Thing};
use super::b::*;
/// `b::never()` in a comment
pub fn root() {
    let s = "b::never()";
    bee::one();
    Thing::make().go();
    glob_fn();
    let f = crate::b::value;
    inner::deep(f);
    crate::again();
    let closure = |never: u8| never;
    for never in [1] {}
    match x { Some(never) => never, _ => closure(1) };
}
#[cfg(test)]
fn test_only() { crate::b::never(); }
"#
            .to_string(),
        ),
        (
            PathBuf::from("src/a/inner.rs"),
            "pub(super) fn deep<F>(f: F) { super::super::b::via_super(); }\n".to_string(),
        ),
        (
            PathBuf::from("src/b.rs"),
            r#"
pub struct Thing;
impl Thing {
    pub fn make() -> Thing { Thing }
    pub fn go(&self) { Self::helper(); }
    fn helper() { self.client.describe_things(); }
}
pub fn one() {}
pub fn glob_fn() {}
pub fn value() {}
pub fn via_super() {}
pub fn reexported() {}
pub fn never() {}
"#
            .to_string(),
        ),
        (PathBuf::from("src/tests.rs"), "fn t() { crate::b::never(); }\n".to_string()),
    ];
    let code = Code::parse(&files);
    let graph = Graph::new(&code, &[("client".into(), "svc".into())]);
    let reached = graph.reach(&[graph.find("crate::a::root")], &[]);
    let names: BTreeSet<String> = reached.keys().map(|&n| graph.short(n)).collect();
    let want: BTreeSet<String> = [
        "a::root",
        "b::one",
        "b::Thing::make",
        "b::Thing::go",
        "b::Thing::helper",
        "b::glob_fn",
        "b::value",
        "a::inner::deep",
        "b::via_super",
        "b::reexported",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(names, want);
    let ops: BTreeSet<&String> = reached.keys().flat_map(|&n| &graph.ops[n]).collect();
    assert_eq!(ops.into_iter().collect::<Vec<_>>(), ["svc:DescribeThings"]);
    assert!(code.fns.iter().all(|f| f.name != "t" && f.name != "test_only"), "test code is left out");
}
