//! Every relative link and every repository path in backticks that the README and docs/ mention
//! exists, so a reader never follows a pointer to nothing.

use std::path::{Path, PathBuf};

/// Top-level folders: backticked text under one of them is a path from the repository root.
const REPO_DIRS: &str = "scenarios scripts benches reports deploy docs tests";

/// README.md, ARCHITECTURE.md when there is one, and every docs/*.md.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    files.retain(|file| file.exists());
    if let Ok(entries) = std::fs::read_dir(root.join("docs")) {
        let paths = entries.filter_map(|entry| entry.ok().map(|entry| entry.path()));
        files.extend(paths.filter(|path| path.extension().is_some_and(|ext| ext == "md")));
    }
    files
}

/// The relative targets of the line's Markdown links (`](path)`), without a `#anchor`.
fn link_targets(line: &str) -> Vec<&str> {
    let mut targets = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find("](") {
        rest = &rest[start + 2..];
        let end = rest.find([')', ' ', '\t']).unwrap_or(rest.len());
        let target = rest[..end].split('#').next().unwrap_or_default();
        if !target.is_empty() && !target.contains("://") && !target.starts_with("mailto:") {
            targets.push(target);
        }
        rest = &rest[end..];
    }
    targets
}

/// The line's backticked spans that name a repository path (no spaces, globs or placeholders).
fn repo_paths(line: &str) -> Vec<&str> {
    let in_repo = |span: &str| {
        let top = span.split_once('/').map_or("", |(top, _)| top);
        REPO_DIRS.split(' ').any(|dir| dir == top)
    };
    let plain = |span: &str| !span.contains([' ', '\t', '*', '<']);
    let spans = line.split('`').skip(1).step_by(2);
    spans.filter(|&span| in_repo(span) && plain(span)).collect()
}

#[test]
fn every_path_the_docs_mention_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(root.join("README.md").exists(), "README.md is missing");
    let mut missing = Vec::new();
    for file in markdown_files(root) {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
        let dir = file.parent().unwrap_or(root);
        let name = file.strip_prefix(root).unwrap_or(file.as_path()).display();
        let mut in_code_block = false;
        for (index, line) in text.lines().enumerate() {
            let fence = line.trim_start().starts_with("```");
            in_code_block ^= fence;
            if in_code_block || fence {
                continue;
            }
            for target in link_targets(line) {
                if !dir.join(target).exists() {
                    missing.push(format!("{name}:{}: link ({target})", index + 1));
                }
            }
            for path in repo_paths(line) {
                if !root.join(path).exists() {
                    missing.push(format!("{name}:{}: `{path}`", index + 1));
                }
            }
        }
    }
    let list = missing.join("\n");
    assert!(
        missing.is_empty(),
        "paths the docs mention that do not exist:\n{list}"
    );
}
