//! The crate's module structure, read from its own sources (`src/**/*.rs`):
//!
//! - The top-level modules form a one-way graph. Data flows event -> dispatch -> observe -> plan -> apply ->
//!   report; a module that also depends, however indirectly, on a later one ties the layers into a knot that can
//!   no longer be read, tested or changed one at a time. Test code may import what it likes and is left out.
//! - AWS SDK types (`aws_sdk_*`, `aws_smithy_*`) appear only in the adapter `src/aws/`, so the rest of the crate
//!   works on its own types and does not change when the SDK does.
//! - The Lambda runtime (`lambda_runtime`) appears only in the entry point `src/main.rs` and the Lambda adapter
//!   `src/lambda.rs`, so everything else runs the same from the command line and in tests.
//!
//! The sources are parsed with `std` alone (the test also builds with plain `rustc --test`): comments and literals
//! are blanked first, so prose or message text that mentions a path never counts, then the code is split into
//! tokens and every `use` tree and inline path is read from them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The library's name in the paths the binary, `src/main.rs`, writes.
const LIB: &str = "ecs_cost_saver";

#[test]
fn modules_form_a_one_way_graph() {
    let krate = krate();
    let graph = krate.edges();
    let cycles = cycles(&krate.nodes(), &graph);
    assert!(cycles.is_empty(), "{}", describe(&cycles, &graph));
}

#[test]
fn sdk_types_stay_in_the_aws_adapter() {
    let sdk = |name: &str| name.starts_with("aws_sdk_") || name.starts_with("aws_smithy_");
    let found = krate().violations(sdk, |file| file.node() == Some("aws"));
    assert!(found.is_empty(), "AWS SDK paths outside the adapter src/aws/:\n{}", found.join("\n"));
}

#[test]
fn lambda_runtime_stays_in_the_entry_point() {
    let found =
        krate().violations(|name| name == "lambda_runtime", |file| matches!(file.node(), Some("main" | "lambda")));
    assert!(found.is_empty(), "lambda_runtime paths outside src/main.rs and src/lambda.rs:\n{}", found.join("\n"));
}

/// A parser that finds nothing would pass every other test.
#[test]
fn the_module_graph_is_not_trivially_empty() {
    let krate = krate();
    let nodes = krate.nodes().len();
    let edges: usize = krate.edges().values().map(BTreeMap::len).sum();
    assert!(nodes >= 10 && edges >= 10, "only {nodes} modules and {edges} edges found in {}/src", root().display());
}

/// The crate's directory: cargo and nextest set `CARGO_MANIFEST_DIR` when they run the test, so another checkout can
/// be checked with the same binary; `option_env!` keeps a plain `rustc` build (which may not set it) compiling.
fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO_MANIFEST_DIR").map(PathBuf::from))
        .expect("set CARGO_MANIFEST_DIR to the crate's directory")
}

/// The crate, parsed once for all tests.
fn krate() -> &'static Crate {
    static CRATE: OnceLock<Crate> = OnceLock::new();
    CRATE.get_or_init(|| Crate::load(&root()))
}

/// Each cycle's modules, then each edge between them with the first place that creates it.
fn describe(cycles: &[Vec<String>], graph: &Graph) -> String {
    let mut lines =
        vec![format!("the modules must form a one-way graph, but {} cycle(s) tie some together:", cycles.len())];
    for cycle in cycles {
        lines.push(format!("cycle of {} modules: {}", cycle.len(), cycle.join(", ")));
        for from in cycle {
            for (to, cause) in graph.get(from).into_iter().flatten().filter(|(to, _)| cycle.contains(to)) {
                lines.push(format!("  {from} -> {to}: {} ({})", cause.at, cause.path));
            }
        }
    }
    lines.join("\n")
}

/// The edges between top-level modules: from -> to -> the first place that creates the edge.
type Graph = BTreeMap<String, BTreeMap<String, Cause>>;

/// Where an edge first comes from.
struct Cause {
    /// `src/event.rs:70`
    at: String,
    /// The path written there: `crate::spot::TaskStateChange`.
    path: String,
}

/// The strongly connected components with more than one module, each sorted: every module in one reaches every
/// other, so they depend on themselves.
fn cycles<'g>(nodes: &BTreeSet<&'g str>, graph: &'g Graph) -> Vec<Vec<String>> {
    let mut tarjan =
        Tarjan { graph, order: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), found: Vec::new() };
    for &node in nodes {
        if !tarjan.order.contains_key(node) {
            tarjan.visit(node);
        }
    }
    let mut cycles: Vec<_> = tarjan.found.into_iter().filter(|component| component.len() > 1).collect();
    cycles.sort();
    cycles
}

/// Tarjan's algorithm: one depth-first search finds every strongly connected component.
struct Tarjan<'g> {
    graph: &'g Graph,
    /// The order in which the search reached each node.
    order: BTreeMap<&'g str, usize>,
    /// The earliest-reached node still on the stack that each node's subtree leads back to.
    low: BTreeMap<&'g str, usize>,
    /// The nodes reached whose component is not complete yet.
    stack: Vec<&'g str>,
    found: Vec<Vec<String>>,
}

impl<'g> Tarjan<'g> {
    fn visit(&mut self, node: &'g str) {
        let order = self.order.len();
        self.order.insert(node, order);
        self.low.insert(node, order);
        self.stack.push(node);
        let graph = self.graph;
        for next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
            let next = next.as_str();
            if !self.order.contains_key(next) {
                self.visit(next);
                self.lower(node, self.low[next]);
            } else if self.stack.contains(&next) {
                self.lower(node, self.order[next]);
            }
        }
        // Nothing below leads further back: the node and everything above it on the stack are one component.
        if self.low[node] == order {
            let start = self.stack.iter().rposition(|&n| n == node).expect("a node being visited is on the stack");
            let mut component: Vec<String> = self.stack.drain(start..).map(str::to_owned).collect();
            component.sort();
            self.found.push(component);
        }
    }

    fn lower(&mut self, node: &'g str, to: usize) {
        let low = self.low.get_mut(node).expect("a node being visited has a low link");
        *low = (*low).min(to);
    }
}

/// The library and the binary, parsed.
struct Crate {
    files: Vec<File>,
    lib: Library,
}

/// One source file, parsed.
struct File {
    /// Relative to the crate's directory: `src/plan/tests.rs`.
    path: String,
    /// The module the file defines, from its crate's root: `["plan", "tests"]`; empty for lib.rs and main.rs.
    module: Vec<String>,
    /// `src/main.rs`, the binary: its `crate::` is not the library, which it calls `ecs_cost_saver::`.
    binary: bool,
    /// Holds only test code: a module declared `#[cfg(test)] mod NAME;`, or a file below one.
    test: bool,
    paths: Vec<PathRef>,
}

impl File {
    /// The graph node the file belongs to: its top-level module, `main` for the binary, none for lib.rs (the crate
    /// root only declares modules and re-exports their names).
    fn node(&self) -> Option<&str> {
        if self.binary { Some("main") } else { self.module.first().map(String::as_str) }
    }
}

impl Crate {
    fn load(root: &Path) -> Crate {
        let mut files = Vec::new();
        let mut test_modules = Vec::new();
        for path in rust_files(&root.join("src")) {
            let rel = relative(root, &path);
            let (module, binary) = module_of(&rel);
            let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"));
            let scan = scan(&text, &module);
            if !binary {
                test_modules.extend(scan.test_modules);
            }
            files.push(File { path: rel, module, binary, test: false, paths: scan.paths });
        }
        // Known only once every parent is read: the parent declares a child a test module.
        for file in &mut files {
            file.test = !file.binary && test_modules.iter().any(|test| file.module.starts_with(test));
        }
        let modules = files.iter().filter(|f| !f.binary).filter_map(|f| f.module.first().cloned()).collect();
        let root_paths: Vec<&PathRef> =
            files.iter().filter(|f| !f.binary && f.module.is_empty()).flat_map(|f| &f.paths).collect();
        let lib = Library::new(modules, &root_paths);
        Crate { files, lib }
    }

    /// The graph's nodes: every top-level module and the binary, test-only files left out.
    fn nodes(&self) -> BTreeSet<&str> {
        self.files.iter().filter(|f| !f.test).filter_map(File::node).collect()
    }

    /// The edges written in code outside tests, each with the first place (in file and line order) that creates it.
    fn edges(&self) -> Graph {
        let mut graph = Graph::new();
        for file in self.files.iter().filter(|f| !f.test) {
            let Some(from) = file.node() else { continue };
            for path in file.paths.iter().filter(|p| !p.test) {
                let Some((to, at)) = self.lib.target(path, file.binary) else { continue };
                if to != from {
                    let at = format!("{}:{}", file.path, path.segments[at].line);
                    let cause = || Cause { at, path: path.text() };
                    graph.entry(from.to_owned()).or_default().entry(to).or_insert_with(cause);
                }
            }
        }
        graph
    }

    /// `file:line path` for each path, test code included, whose first segment (a crate's name) is `banned`, in the
    /// files that are not `allowed`.
    fn violations(&self, banned: impl Fn(&str) -> bool, allowed: impl Fn(&File) -> bool) -> Vec<String> {
        let mut found = Vec::new();
        for file in self.files.iter().filter(|f| !allowed(f)) {
            for path in file.paths.iter().filter(|p| banned(&p.segments[0].name)) {
                found.push(format!("{}:{} {}", file.path, path.segments[0].line, path.text()));
            }
        }
        found
    }
}

/// Every `.rs` file below `dir`, in a stable order.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries.map(|entry| entry.expect("a directory entry").path()).collect();
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// `path` relative to `root`, with `/` between components on every platform.
fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).expect("the sources are below the crate's directory");
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// The module a file `src/...` defines, from its crate's root, and whether it is the binary's root.
fn module_of(rel: &str) -> (Vec<String>, bool) {
    let parts: Vec<&str> = rel.strip_prefix("src/").unwrap_or(rel).split('/').collect();
    match parts.as_slice() {
        ["main.rs"] => (Vec::new(), true),
        ["lib.rs"] => (Vec::new(), false),
        [dirs @ .., "mod.rs"] => (owned(dirs), false),
        [dirs @ .., file] => ([owned(dirs), vec![file.trim_end_matches(".rs").to_owned()]].concat(), false),
        [] => unreachable!("split yields at least one part"),
    }
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|&name| name.to_owned()).collect()
}

/// What the crate root makes nameable as `crate::NAME`.
struct Library {
    /// The top-level modules.
    modules: BTreeSet<String>,
    /// The names lib.rs re-exports (`pub use dispatch::Settings;`), with the module each comes from.
    reexports: BTreeMap<String, String>,
}

impl Library {
    /// `root_paths`: the paths written in lib.rs, whose `use` trees name the re-exports.
    fn new(modules: BTreeSet<String>, root_paths: &[&PathRef]) -> Library {
        let mut reexports = BTreeMap::new();
        for path in root_paths {
            let Some(name) = &path.binding else { continue };
            let mut names = path.segments.iter().map(|s| s.name.as_str()).skip_while(|&n| n == "crate" || n == "self");
            if let Some(module) = names.next()
                && modules.contains(module)
                && !modules.contains(name)
            {
                reexports.insert(name.clone(), module.to_owned());
            }
        }
        Library { modules, reexports }
    }

    /// The top-level library module a path leads into, and the index of the segment that decides it; none for
    /// external crates, the binary's own items, and names relative to the current module (those reach another
    /// module only through a `use`, which is itself a path).
    fn target(&self, path: &PathRef, binary: bool) -> Option<(String, usize)> {
        let first = path.segments[0].name.as_str();
        // The module the path starts from (from the crate root), and the index of the segment that follows it.
        let (base, next): (&[String], usize) = match first {
            LIB if binary => (&[], 1),
            _ if binary => return None,
            "crate" => (&[], 1),
            "self" => (&path.module, 1),
            "super" => {
                let ups = path.segments.iter().take_while(|s| s.name == "super").count();
                (&path.module[..path.module.len().checked_sub(ups)?], ups)
            }
            _ => return None,
        };
        if let Some(top) = base.first() {
            return Some((top.clone(), next - 1));
        }
        let name = &path.segments.get(next)?.name;
        let module = if self.modules.contains(name) { name } else { self.reexports.get(name)? };
        Some((module.clone(), next))
    }
}

/// One segment of a path, with the line it is written on.
#[derive(Clone, Debug)]
struct Segment {
    name: String,
    line: usize,
}

/// A path written in the code: each leaf of a `use` tree (`crate::plan::Step` from `use crate::plan::{Step}`), or
/// an inline path of two or more segments. Never empty.
#[derive(Debug)]
struct PathRef {
    segments: Vec<Segment>,
    /// The name a `use` leaf brings into scope: its alias or last segment; none for inline paths and globs.
    binding: Option<String>,
    /// The module the path is written in, from the crate root, inline `mod NAME { }` blocks included.
    module: Vec<String>,
    /// Written inside a `#[cfg(test)]` item.
    test: bool,
}

impl PathRef {
    fn text(&self) -> String {
        self.segments.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join("::")
    }
}

/// What one file says: the paths it writes and the test modules it declares.
#[derive(Default)]
struct Scan {
    paths: Vec<PathRef>,
    /// The modules declared `#[cfg(test)] mod NAME;`, from the crate root: their files hold only test code.
    test_modules: Vec<Vec<String>>,
}

/// Reads the paths in the source of a file that defines `module`.
fn scan(source: &str, module: &[String]) -> Scan {
    let tokens = tokenize(&strip(source));
    let test = test_mask(&tokens);
    let mut scanner =
        Scanner { tokens: &tokens, test, module: module.to_vec(), braces: Vec::new(), scan: Scan::default() };
    let mut i = 0;
    while i < tokens.len() {
        i = scanner.step(i);
    }
    scanner.scan
}

struct Scanner<'t> {
    tokens: &'t [Token],
    /// Per token: inside a `#[cfg(test)]` item.
    test: Vec<bool>,
    /// The module the current token is in.
    module: Vec<String>,
    /// Per open `{`: whether it opens an inline `mod NAME {`, so that its `}` leaves the module.
    braces: Vec<bool>,
    scan: Scan,
}

impl Scanner<'_> {
    /// Reads what starts at token `i`; returns the index of the next token to read.
    fn step(&mut self, i: usize) -> usize {
        let tokens = self.tokens;
        match &tokens[i].tok {
            Tok::Ident(word) if word == "mod" => self.module_item(i),
            // `impl Trait + use<'a>` captures lifetimes; it imports nothing.
            Tok::Ident(word) if word == "use" && !punct(tokens, i + 1, '<') => self.use_item(i),
            Tok::Ident(word) if word == "extern" && ident(tokens, i + 1) == Some("crate") => self.extern_crate(i),
            Tok::Punct('{') => {
                self.braces.push(false);
                i + 1
            }
            Tok::Punct('}') => {
                if self.braces.pop() == Some(true) {
                    self.module.pop();
                }
                i + 1
            }
            Tok::Ident(_) if !i.checked_sub(1).is_some_and(|p| path_sep(tokens, p)) => self.inline_path(i, i),
            // A leading `::` (`::aws_sdk_ecs::X`), not the one in `Vec::<u8>::new` or `a::b`.
            Tok::PathSep
                if ident(tokens, i + 1).is_some()
                    && !i.checked_sub(1).is_some_and(|p| ident(tokens, p).is_some() || punct(tokens, p, '>')) =>
            {
                self.inline_path(i, i + 1)
            }
            _ => i + 1,
        }
    }

    /// `mod NAME { ... }` enters the module; `#[cfg(test)] mod NAME;` declares a test module.
    fn module_item(&mut self, i: usize) -> usize {
        let Some(name) = ident(self.tokens, i + 1) else { return i + 1 };
        let module = [self.module.as_slice(), &[name.to_owned()]].concat();
        if punct(self.tokens, i + 2, '{') {
            self.module = module;
            self.braces.push(true);
            return i + 3;
        }
        if self.test[i] && punct(self.tokens, i + 2, ';') {
            self.scan.test_modules.push(module);
        }
        i + 2
    }

    fn use_item(&mut self, i: usize) -> usize {
        let mut leaves = Vec::new();
        let end = use_tree(self.tokens, i + 1, &mut Vec::new(), &mut leaves);
        for (segments, binding) in leaves {
            self.push(i, segments, binding);
        }
        end
    }

    fn extern_crate(&mut self, i: usize) -> usize {
        if let Some(name) = ident(self.tokens, i + 2) {
            let segment = Segment { name: name.to_owned(), line: self.tokens[i + 2].line };
            self.push(i, vec![segment], Some(name.to_owned()));
        }
        i + 3
    }

    /// Reads the path whose first segment is at `start` (`i` or, after a leading `::`, `i + 1`); returns the index
    /// after it. A path stops before generic arguments: `crate::a::B::<T>` is `crate::a::B`.
    fn inline_path(&mut self, i: usize, start: usize) -> usize {
        let mut segments = Vec::new();
        let mut j = start;
        while let Some(name) = ident(self.tokens, j) {
            segments.push(Segment { name: name.to_owned(), line: self.tokens[j].line });
            j += 1;
            if !(path_sep(self.tokens, j) && ident(self.tokens, j + 1).is_some()) {
                break;
            }
            j += 1;
        }
        // A lone name is a local item, a variable or a keyword, not a path into another module.
        if segments.len() > 1 {
            self.push(i, segments, None);
        }
        j.max(i + 1)
    }

    fn push(&mut self, i: usize, segments: Vec<Segment>, binding: Option<String>) {
        if !segments.is_empty() {
            self.scan.paths.push(PathRef { segments, binding, module: self.module.clone(), test: self.test[i] });
        }
    }
}

/// A `use` leaf: its path and the name it binds.
type Leaf = (Vec<Segment>, Option<String>);

/// Reads the `use` tree at `i` below `prefix` (`a::b`, `a::{b, c::d as e}`, `a::*`, with a leading `::` or not),
/// adding each leaf; returns the index after the tree.
fn use_tree(tokens: &[Token], mut i: usize, prefix: &mut Vec<Segment>, leaves: &mut Vec<Leaf>) -> usize {
    let depth = prefix.len();
    loop {
        match tokens.get(i).map(|t| &t.tok) {
            Some(Tok::PathSep) => i += 1,
            Some(Tok::Ident(name)) if name != "as" => {
                prefix.push(Segment { name: name.clone(), line: tokens[i].line });
                i += 1;
            }
            Some(Tok::Punct('{')) => {
                i = use_group(tokens, i + 1, prefix, leaves);
                break;
            }
            Some(Tok::Punct('*')) => {
                leaves.push(leaf(prefix, None, true));
                i += 1;
                break;
            }
            _ => {
                let alias = if ident(tokens, i) == Some("as") { ident(tokens, i + 1) } else { None };
                if alias.is_some() {
                    i += 2;
                }
                leaves.push(leaf(prefix, alias, false));
                break;
            }
        }
    }
    prefix.truncate(depth);
    i
}

/// Reads the trees of a `{ ... }` group from just after its `{`; returns the index after its `}`.
fn use_group(tokens: &[Token], mut i: usize, prefix: &mut Vec<Segment>, leaves: &mut Vec<Leaf>) -> usize {
    while i < tokens.len() && !punct(tokens, i, '}') {
        let end = use_tree(tokens, i, prefix, leaves);
        i = if punct(tokens, end, ',') { end + 1 } else { end.max(i + 1) };
    }
    i + 1
}

/// `a::b::{self}` is `a::b`.
fn leaf(prefix: &[Segment], alias: Option<&str>, glob: bool) -> Leaf {
    let path = match prefix.split_last() {
        Some((last, rest)) if last.name == "self" => rest,
        _ => prefix,
    };
    let bound = if glob { None } else { alias.or(path.last().map(|s| s.name.as_str())) };
    (path.to_vec(), bound.map(str::to_owned))
}

/// `#[cfg(test)]`, token by token.
const CFG_TEST: [&str; 7] = ["#", "[", "cfg", "(", "test", ")", "]"];

/// Per token: inside a `#[cfg(test)]` item (the attribute, up to the item's end).
fn test_mask(tokens: &[Token]) -> Vec<bool> {
    let mut test = vec![false; tokens.len()];
    let mut i = 0;
    while i < tokens.len() {
        if CFG_TEST.iter().enumerate().all(|(k, want)| tokens.get(i + k).is_some_and(|t| t.is(want))) {
            let end = item_end(tokens, i + CFG_TEST.len());
            test[i..end].fill(true);
            i = end;
        } else {
            i += 1;
        }
    }
    test
}

/// The index after the item (or statement, field, argument) that starts at `start`: after its first `;` or `,`
/// outside brackets, or after the `}` of its first top-level block (`mod tests { ... }`, `fn f() { ... }`), or at
/// the bracket that closes around it. Ending early is the safe mistake: test code counted as code can only add an
/// edge, never hide one.
fn item_end(tokens: &[Token], start: usize) -> usize {
    let mut depth = 0;
    for (i, token) in tokens.iter().enumerate().skip(start) {
        match token.tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') if depth == 0 => return i,
            Tok::Punct('}') if depth == 1 => return i + 1,
            Tok::Punct(')' | ']' | '}') => depth -= 1,
            Tok::Punct(';' | ',') if depth == 0 => return i + 1,
            _ => {}
        }
    }
    tokens.len()
}

#[derive(Debug)]
enum Tok {
    /// A name or keyword; a raw identifier `r#type` without its `r#`.
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

#[derive(Debug)]
struct Token {
    tok: Tok,
    line: usize,
}

impl Token {
    fn is(&self, text: &str) -> bool {
        match &self.tok {
            Tok::Ident(name) => name == text,
            Tok::PathSep => text == "::",
            Tok::Punct(c) => text.chars().eq([*c]),
        }
    }
}

fn ident(tokens: &[Token], i: usize) -> Option<&str> {
    match tokens.get(i).map(|t| &t.tok) {
        Some(Tok::Ident(name)) => Some(name),
        _ => None,
    }
}

fn punct(tokens: &[Token], i: usize, c: char) -> bool {
    matches!(tokens.get(i).map(|t| &t.tok), Some(Tok::Punct(p)) if *p == c)
}

fn path_sep(tokens: &[Token], i: usize) -> bool {
    matches!(tokens.get(i).map(|t| &t.tok), Some(Tok::PathSep))
}

/// Splits code (comments and literals already blanked) into names, `::` and single punctuation. Lifetimes, labels
/// and numbers are dropped: no path starts with one.
fn tokenize(code: &str) -> Vec<Token> {
    let c: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '\'' || ch.is_ascii_digit() {
            i = ident_end(&c, i + 1);
        } else if is_ident_start(ch) {
            let raw = ch == 'r' && c.get(i + 1) == Some(&'#') && c.get(i + 2).is_some_and(|&n| is_ident_start(n));
            let start = if raw { i + 2 } else { i };
            i = ident_end(&c, start);
            tokens.push(Token { tok: Tok::Ident(c[start..i].iter().collect()), line });
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            tokens.push(Token { tok: Tok::PathSep, line });
            i += 2;
        } else {
            tokens.push(Token { tok: Tok::Punct(ch), line });
            i += 1;
        }
    }
    tokens
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn ident_end(c: &[char], mut i: usize) -> usize {
    while c.get(i).is_some_and(|&x| is_ident_char(x)) {
        i += 1;
    }
    i
}

/// The source with comments (`//`, `///`, `//!`, nested `/* */`) and literals (strings, raw, byte and C strings,
/// chars, bytes) blanked: each of their characters but newlines becomes a space, so lines keep their numbers and no
/// prose or message text reads as code.
fn strip(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut code = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        if let Some(end) = blank_end(&chars, i) {
            code.extend(chars[i..end].iter().map(|&c| if c == '\n' { '\n' } else { ' ' }));
            i = end;
        } else {
            code.push(chars[i]);
            i += 1;
        }
    }
    code
}

/// If a comment or literal starts at `i`, the index after it.
fn blank_end(c: &[char], i: usize) -> Option<usize> {
    match (c[i], c.get(i + 1)) {
        ('/', Some('/')) => Some(find(c, i, '\n')),
        ('/', Some('*')) => Some(block_comment_end(c, i)),
        ('"', _) => Some(string_end(c, i + 1)),
        ('\'', _) => char_end(c, i),
        // A prefix letter only starts a literal at the start of a word: `br"..."` does, `bar` does not.
        _ if i > 0 && is_ident_char(c[i - 1]) => None,
        ('b' | 'c', Some('"')) => Some(string_end(c, i + 2)),
        ('b', Some('\'')) => char_end(c, i + 1),
        ('b' | 'c', Some('r')) => raw_string_end(c, i + 2),
        ('r', _) => raw_string_end(c, i + 1),
        _ => None,
    }
}

/// The index of the first `x` at or after `from`, or the end.
fn find(c: &[char], from: usize, x: char) -> usize {
    (from..c.len()).find(|&k| c[k] == x).unwrap_or(c.len())
}

fn block_comment_end(c: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i + 1 < c.len() {
        match (c[i], c[i + 1]) {
            ('/', '*') => {
                depth += 1;
                i += 2;
            }
            ('*', '/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    c.len()
}

/// From just after the opening `"` of a string with escapes, the index after its closing `"`.
fn string_end(c: &[char], mut i: usize) -> usize {
    while i < c.len() {
        match c[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    c.len()
}

/// From just after the `r` of `r"..."` or `r#"..."#`, the index after the closing quote and hashes; none for what
/// only looks like one (the name `return`, the raw identifier `r#type`).
fn raw_string_end(c: &[char], from: usize) -> Option<usize> {
    let hashes = c[from..].iter().take_while(|&&x| x == '#').count();
    if c.get(from + hashes) != Some(&'"') {
        return None;
    }
    let close: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
    let body = from + hashes + 1;
    let end = c[body..].windows(close.len()).position(|w| w == close);
    Some(end.map_or(c.len(), |n| body + n + close.len()))
}

/// A char literal at `i` (`'x'`, `'"'`, `'\''`, `'\u{7f}'`) ends after its closing quote; a lifetime or label (`'a`,
/// `'static`) is no literal.
fn char_end(c: &[char], i: usize) -> Option<usize> {
    match (c.get(i + 1), c.get(i + 2)) {
        (Some('\\'), _) => Some((find(c, i + 3, '\'') + 1).min(c.len())),
        (Some(_), Some('\'')) => Some(i + 3),
        _ => None,
    }
}

/// The parser itself, on small inline sources.
mod parser {
    use super::*;

    const LIB_RS: &str = "pub mod dispatch;\npub use dispatch::{Settings, handle};\npub use error::Error as Failure;";

    fn library() -> Library {
        let modules = owned(&["a", "b", "c", "d", "aws", "cli", "dispatch", "error", "plan", "state"]);
        let root = scan(LIB_RS, &[]);
        Library::new(modules.into_iter().collect(), &root.paths.iter().collect::<Vec<_>>())
    }

    /// The paths outside test code, as written.
    fn paths(source: &str, module: &[&str]) -> Vec<String> {
        scan(source, &owned(module)).paths.iter().filter(|p| !p.test).map(PathRef::text).collect()
    }

    /// The modules the paths outside test code lead into.
    fn targets(source: &str, module: &[&str], binary: bool) -> Vec<String> {
        let lib = library();
        let scan = scan(source, &owned(module));
        scan.paths.iter().filter(|p| !p.test).filter_map(|p| lib.target(p, binary)).map(|(m, _)| m).collect()
    }

    #[test]
    fn use_trees_expand_nested_braces() {
        let source = "use crate::{a::X, b::{Y, Z as W}, c};\npub(crate) use crate::d::{\n    self,\n    E,\n};";
        let expanded = ["crate::a::X", "crate::b::Y", "crate::b::Z", "crate::c", "crate::d", "crate::d::E"];
        assert_eq!(paths(source, &["x"]), expanded);
        assert_eq!(targets(source, &["x"], false), ["a", "b", "b", "c", "d", "d"]);
    }

    #[test]
    fn comments_and_literals_are_not_code() {
        let source = r###"
            //! crate::a::X
            /// crate::a::X
            /* crate::a::X /* nested */ crate::a::X */
            fn f<'a>(s: &'a str) -> char {
                let _ = ("crate::a::X \" crate::a::X", r"crate::a::X", r#"crate::a::X "quoted""#);
                let _ = (b"crate::a::X", br##"crate::a::X"##, c"crate::a::X");
                let _ = ['\'', '"', b'"', '\\'];
                crate::b::g(s) // crate::a::X
            }
        "###;
        assert_eq!(paths(source, &["x"]), ["crate::b::g"]);
    }

    #[test]
    fn lines_survive_blanking() {
        let source = "/* one\ntwo */ let s = \"three\nfour\";\ncrate::a::f();";
        assert_eq!(scan(source, &[]).paths[0].segments[1].line, 4);
    }

    #[test]
    fn super_and_self_resolve_from_the_files_module() {
        let source = "use super::super::state::Task;\nuse super::cron::Cron;\nuse self::inner::Y;";
        assert_eq!(targets(source, &["aws", "sdk"], false), ["state", "aws", "aws"]);
        assert_eq!(targets("use super::*;", &["plan", "tests"], false), ["plan"]);
        assert_eq!(targets("fn f() { super::a::g() }", &["plan"], false), ["a"]);
        assert_eq!(targets("mod inner { use super::super::b::X; }", &["a"], false), ["b"]);
    }

    #[test]
    fn names_reexported_by_the_crate_root_resolve_to_their_module() {
        assert_eq!(
            targets("use crate::{Failure, Settings, handle};", &["x"], false),
            ["error", "dispatch", "dispatch"]
        );
        assert!(targets("use crate::Unknown;", &["x"], false).is_empty());
    }

    #[test]
    fn the_binary_names_the_library_by_its_crate_name() {
        let source =
            "use ecs_cost_saver::{Failure, cli};\nfn main() { crate::local::f(); ecs_cost_saver::aws::Sdk::new(); }";
        assert_eq!(targets(source, &[], true), ["error", "cli", "aws"]);
    }

    #[test]
    fn cfg_test_items_are_test_code() {
        let source = "
            #[cfg(test)]
            mod tests {
                use crate::a::X;
                fn f() { crate::b::g() }
            }
            #[cfg(test)]
            mod proptests;
            mod service;
            use crate::c::Y;
        ";
        let scan = scan(source, &owned(&["plan"]));
        let test: Vec<String> = scan.paths.iter().filter(|p| p.test).map(PathRef::text).collect();
        assert_eq!(test, ["crate::a::X", "crate::b::g"]);
        assert_eq!(paths(source, &["plan"]), ["crate::c::Y"]);
        assert_eq!(scan.test_modules, [owned(&["plan", "proptests"])]);
    }

    #[test]
    fn external_crate_paths_are_found_in_every_form() {
        let source = "
            use aws_smithy_types as t;
            extern crate aws_sdk_scheduler;
            fn f() -> aws_sdk_ecs::types::Service { ::aws_sdk_s3::x(Vec::<aws_sdk_sqs::Y>::new()) }
        ";
        let expected = ["aws_smithy_types", "aws_sdk_scheduler", "aws_sdk_ecs::types::Service", "aws_sdk_s3::x"];
        assert_eq!(paths(source, &["x"])[..4], expected);
        assert!(paths(source, &["x"]).contains(&"aws_sdk_sqs::Y".to_owned()));
    }

    #[test]
    fn cycles_are_the_components_of_more_than_one_module() {
        let mut graph = Graph::new();
        for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("e", "f"), ("f", "e")] {
            let cause = Cause { at: String::new(), path: String::new() };
            graph.entry(from.to_owned()).or_default().insert(to.to_owned(), cause);
        }
        let nodes = ["a", "b", "c", "d", "e", "f", "g"].into_iter().collect();
        assert_eq!(cycles(&nodes, &graph), [owned(&["a", "b", "c"]), owned(&["e", "f"])]);
    }
}
