//! Where spec files come from: the work tree (including uncommitted files) or a Git commit,
//! read through git2 without touching the work tree.

use super::yaml::{FileId, Span};
use miette::NamedSource;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Largest spec file read, in bytes (8 MiB). Larger files are reported, not read.
pub const MAX_SPEC_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// Largest cloud-init file read, in bytes (1 MiB).
pub const MAX_DATA_FILE_BYTES: u64 = 1024 * 1024;

/// One source file, its text and a lazily built line index.
#[derive(Debug)]
pub struct SourceFile {
    /// Path relative to the fleet root, `/`-separated.
    pub path: String,
    /// The text (lossy UTF-8 for files that were not valid UTF-8, for display only).
    pub text: Arc<str>,
    lines: OnceLock<Vec<u32>>,
}

impl SourceFile {
    fn line_starts(&self) -> &[u32] {
        self.lines.get_or_init(|| {
            let mut starts = vec![0u32];
            starts.extend(
                self.text
                    .bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(i, _)| i as u32 + 1),
            );
            starts
        })
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let starts = self.line_starts();
        let line = match starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = starts.get(line).copied().unwrap_or(0) as usize;
        let end = (offset as usize).min(self.text.len());
        let col = self
            .text
            .get(start..end)
            .map_or(end.saturating_sub(start), |s| s.chars().count());
        (line + 1, col + 1)
    }
}

/// The table of files read for one load; [`Span`]s index into it.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// Adds a file and returns its id.
    pub fn add(&mut self, path: String, text: Arc<str>) -> FileId {
        self.files.push(SourceFile {
            path,
            text,
            lines: OnceLock::new(),
        });
        (self.files.len() - 1) as FileId
    }

    /// The file with this id.
    pub fn file(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id as usize)
    }

    /// The path of a span's file (empty when unknown).
    pub fn path(&self, span: Span) -> &str {
        self.file(span.file).map_or("", |f| f.path.as_str())
    }

    /// `(line, column)`, both 1-based, of the start of `span`.
    pub fn line_col(&self, span: Span) -> (usize, usize) {
        self.file(span.file)
            .map_or((0, 0), |f| f.line_col(span.start))
    }

    /// `path:line:column` of a span.
    pub fn location(&self, span: Span) -> String {
        let (l, c) = self.line_col(span);
        format!("{}:{l}:{c}", self.path(span))
    }

    /// The source text of `span`.
    pub fn snippet(&self, span: Span) -> &str {
        self.file(span.file)
            .and_then(|f| f.text.get(span.start as usize..span.end as usize))
            .unwrap_or_default()
    }

    /// A miette source for a file (cheap: the text is shared).
    pub fn named(&self, id: FileId) -> NamedSource<Arc<str>> {
        match self.file(id) {
            Some(f) => NamedSource::new(&f.path, f.text.clone()).with_language("yaml"),
            None => NamedSource::new("<unknown>", Arc::from("")),
        }
    }

    /// Replaces the bytes of `span` with `*` (same length, so every other span stays valid).
    /// Line breaks and the indentation that follows them are kept, so that a multi-line
    /// secret (an inline cloud-init document) keeps its lines and every line:column after it
    /// stays right. Used for secrets found in the repo, so that no rendering repeats them.
    pub fn mask(&mut self, span: Span) {
        let Some(file) = self.files.get_mut(span.file as usize) else {
            return;
        };
        let (start, end) = (span.start as usize, span.end as usize);
        if start >= end || end > file.text.len() {
            return;
        }
        let mut bytes = file.text.as_bytes().to_vec();
        let mut line_start = false;
        for b in &mut bytes[start..end] {
            match *b {
                b'\n' | b'\r' => line_start = true,
                b' ' | b'\t' if line_start => {}
                _ => {
                    line_start = false;
                    *b = b'*';
                }
            }
        }
        // Masking whole multi-byte characters keeps UTF-8 valid; fall back to lossy.
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        file.text = Arc::from(text);
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when no file was read.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// The revision a load read, reported by every command that reads specs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RepoInfo {
    /// What was asked for: `work tree`, or the `--ref` text (`HEAD~2`, `main`, a SHA).
    pub revision: String,
    /// Full commit SHA read (for the work tree: `HEAD`'s), when inside a Git repository.
    pub commit: Option<String>,
    /// True when the work tree was read and it has uncommitted changes under the fleet root.
    pub dirty: bool,
    /// The fleet root relative to the repository root (`""` when they are the same).
    pub prefix: String,
}

impl RepoInfo {
    /// One line for humans: `commit 1a2b3c4d5e6f (work tree, dirty)`.
    pub fn describe(&self) -> String {
        match &self.commit {
            Some(sha) => {
                let short = sha.get(..12).unwrap_or(sha);
                let mut s = format!("commit {short} ({}", self.revision);
                if self.dirty {
                    s.push_str(", uncommitted changes");
                }
                s.push(')');
                s
            }
            None => format!("{} (not a Git repository)", self.revision),
        }
    }
}

/// Errors opening a fleet tree.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SourceError {
    /// The fleet directory does not exist or cannot be read.
    #[error("cannot read fleet directory {path}: {message}")]
    #[diagnostic(
        code(bmfleet::spec::fleet_dir),
        help("pass the fleet repo with --fleet DIR or BMFLEET_FLEET")
    )]
    FleetDir {
        /// The directory.
        path: String,
        /// The OS error.
        message: String,
    },
    /// `--ref` was given outside a Git repository.
    #[error("revision `{revision}`: {path} is not inside a Git repository")]
    #[diagnostic(
        code(bmfleet::spec::not_a_repo),
        help(
            "revisions (--ref, --base, --head) need a Git repository: run `git init` in the fleet repo, or read the work tree"
        )
    )]
    NotARepo {
        /// The revision asked for.
        revision: String,
        /// The fleet directory.
        path: String,
    },
    /// The revision does not name a commit.
    #[error("revision `{revision}` does not name a commit: {message}")]
    #[diagnostic(
        code(bmfleet::spec::bad_ref),
        help("use a branch, a tag, a SHA or an expression such as HEAD~2 (see `git rev-parse`)")
    )]
    BadRef {
        /// The revision asked for.
        revision: String,
        /// What git said.
        message: String,
    },
    /// Another Git failure.
    #[error("reading Git repository at {path}: {message}")]
    #[diagnostic(code(bmfleet::spec::git))]
    Git {
        /// The repository.
        path: String,
        /// What git said.
        message: String,
    },
}

/// What a tree entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file of this many bytes.
    File(u64),
    /// A symbolic link whose target stays inside the fleet root.
    SymlinkInside,
    /// A symbolic link whose target leaves the fleet root (or cannot be resolved).
    SymlinkOutside(String),
}

/// A file under the fleet root.
#[derive(Debug, Clone)]
pub struct TreeEntry {
    /// Path relative to the fleet root, `/`-separated.
    pub path: String,
    /// File or symlink.
    pub kind: EntryKind,
}

/// A fleet root: the work tree or a Git commit.
pub enum FleetTree {
    /// Files on disk under `root`.
    WorkTree {
        /// The fleet root.
        root: PathBuf,
    },
    /// A commit's tree, below `prefix` (the fleet root relative to the repository root).
    Git {
        /// The repository.
        repo: Box<git2::Repository>,
        /// The commit's tree.
        tree: git2::Oid,
        /// The fleet root inside the repository, `/`-separated, no trailing slash.
        prefix: String,
    },
}

fn git_err(path: &Path, e: &git2::Error) -> SourceError {
    SourceError::Git {
        path: path.display().to_string(),
        message: e.message().to_string(),
    }
}

/// Opens the fleet at `dir`, at `revision` (or the work tree when `None`), and describes the
/// revision read.
///
/// # Errors
/// [`SourceError`] when the directory is missing, `--ref` is used outside a repository or
/// does not resolve to a commit.
pub fn open(dir: &Path, revision: Option<&str>) -> Result<(FleetTree, RepoInfo), SourceError> {
    let root = dir.canonicalize().map_err(|e| SourceError::FleetDir {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    if !root.is_dir() {
        return Err(SourceError::FleetDir {
            path: dir.display().to_string(),
            message: "not a directory".into(),
        });
    }
    let repo = git2::Repository::discover(&root).ok();
    let Some(repo) = repo else {
        if let Some(rev) = revision {
            return Err(SourceError::NotARepo {
                revision: rev.to_string(),
                path: dir.display().to_string(),
            });
        }
        return Ok((
            FleetTree::WorkTree { root },
            RepoInfo {
                revision: "work tree".into(),
                commit: None,
                dirty: false,
                prefix: String::new(),
            },
        ));
    };
    let workdir = repo
        .workdir()
        .and_then(|w| w.canonicalize().ok())
        .unwrap_or_else(|| root.clone());
    let prefix = root
        .strip_prefix(&workdir)
        .map(|p| {
            p.components()
                .filter_map(|c| match c {
                    Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("/")
        })
        .unwrap_or_default();
    match revision {
        Some(rev) => {
            let object = repo.revparse_single(rev).map_err(|e| SourceError::BadRef {
                revision: rev.to_string(),
                message: e.message().to_string(),
            })?;
            let commit = object.peel_to_commit().map_err(|e| SourceError::BadRef {
                revision: rev.to_string(),
                message: e.message().to_string(),
            })?;
            let info = RepoInfo {
                revision: rev.to_string(),
                commit: Some(commit.id().to_string()),
                dirty: false,
                prefix: prefix.clone(),
            };
            let tree = commit.tree().map_err(|e| git_err(&root, &e))?.id();
            drop(commit);
            drop(object);
            Ok((
                FleetTree::Git {
                    repo: Box::new(repo),
                    tree,
                    prefix,
                },
                info,
            ))
        }
        None => {
            let commit = repo
                .head()
                .ok()
                .and_then(|h| h.peel_to_commit().ok())
                .map(|c| c.id().to_string());
            let dirty = is_dirty(&repo, &prefix);
            Ok((
                FleetTree::WorkTree { root },
                RepoInfo {
                    revision: "work tree".into(),
                    commit,
                    dirty,
                    prefix,
                },
            ))
        }
    }
}

fn is_dirty(repo: &git2::Repository, prefix: &str) -> bool {
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    if !prefix.is_empty() {
        opts.pathspec(prefix);
    }
    repo.statuses(Some(&mut opts))
        .map(|s| !s.is_empty())
        .unwrap_or(false)
}

/// Normalizes a `/`-separated relative path; `None` when it climbs out of the root or is
/// absolute.
pub fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    if path.starts_with('/') {
        return None;
    }
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

impl FleetTree {
    /// Lists the files under the fleet root (hidden files and directories skipped), sorted by
    /// path.
    ///
    /// # Errors
    /// [`SourceError`] when a directory or the Git tree cannot be read.
    pub fn list(&self) -> Result<Vec<TreeEntry>, SourceError> {
        let mut out = Vec::new();
        match self {
            FleetTree::WorkTree { root } => walk_dir(root, root, &mut out)?,
            FleetTree::Git { repo, tree, prefix } => {
                let path = repo.path().to_path_buf();
                let tree = repo.find_tree(*tree).map_err(|e| git_err(&path, &e))?;
                let sub = if prefix.is_empty() {
                    tree
                } else {
                    match tree.get_path(Path::new(prefix)) {
                        Ok(entry) => repo.find_tree(entry.id()).map_err(|e| git_err(&path, &e))?,
                        Err(_) => return Ok(out),
                    }
                };
                let mut err = None;
                let walked = sub.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
                    let name = entry.name().unwrap_or_default();
                    if name.starts_with('.') {
                        return git2::TreeWalkResult::Skip;
                    }
                    let rel = format!("{dir}{name}");
                    match entry.filemode() {
                        0o100644 | 0o100755 => {
                            let size = repo
                                .find_blob(entry.id())
                                .map(|b| b.size() as u64)
                                .unwrap_or(0);
                            out.push(TreeEntry {
                                path: rel,
                                kind: EntryKind::File(size),
                            });
                        }
                        0o120000 => {
                            let target = repo
                                .find_blob(entry.id())
                                .map(|b| String::from_utf8_lossy(b.content()).into_owned())
                                .unwrap_or_default();
                            let base = dir.trim_end_matches('/');
                            let joined = if base.is_empty() {
                                target.clone()
                            } else {
                                format!("{base}/{target}")
                            };
                            let kind = match normalize(&joined) {
                                Some(_) => EntryKind::SymlinkInside,
                                None => EntryKind::SymlinkOutside(target),
                            };
                            out.push(TreeEntry { path: rel, kind });
                        }
                        _ => {}
                    }
                    git2::TreeWalkResult::Ok
                });
                if let Err(e) = walked {
                    err = Some(git_err(&path, &e));
                }
                if let Some(e) = err {
                    return Err(e);
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Reads a file (a path relative to the fleet root), refusing paths that leave it,
    /// symlinks that leave it and files above `limit` bytes.
    ///
    /// # Errors
    /// A message for the diagnostic (`no such file`, `larger than 1 MiB`, ...).
    pub fn read(&self, rel: &str, limit: u64) -> Result<Vec<u8>, String> {
        let Some(norm) = normalize(rel) else {
            return Err("the path leaves the fleet root".into());
        };
        match self {
            FleetTree::WorkTree { root } => {
                let path = root.join(&norm);
                let real = path
                    .canonicalize()
                    .map_err(|e| format!("cannot open {norm}: {e}"))?;
                if !real.starts_with(root) {
                    return Err(format!("{norm} is a symlink that leaves the fleet root"));
                }
                // Checked before opening (opening a FIFO blocks), checked again on the open
                // handle (the file may have been replaced), and read to one byte past the
                // limit at most (it may have grown).
                let check = |meta: &std::fs::Metadata| {
                    if !meta.is_file() {
                        return Err(format!("{norm} is not a regular file"));
                    }
                    if meta.len() > limit {
                        return Err(format!(
                            "{norm} is {} bytes, more than the limit of {limit} bytes",
                            meta.len()
                        ));
                    }
                    Ok(())
                };
                check(&std::fs::metadata(&real).map_err(|e| e.to_string())?)?;
                let file = std::fs::File::open(&real).map_err(|e| e.to_string())?;
                check(&file.metadata().map_err(|e| e.to_string())?)?;
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(
                    &mut std::io::Read::take(file, limit.saturating_add(1)),
                    &mut bytes,
                )
                .map_err(|e| e.to_string())?;
                if bytes.len() as u64 > limit {
                    return Err(format!(
                        "{norm} grew past the limit of {limit} bytes while read"
                    ));
                }
                Ok(bytes)
            }
            FleetTree::Git { repo, tree, prefix } => {
                let full = if prefix.is_empty() {
                    norm.clone()
                } else {
                    format!("{prefix}/{norm}")
                };
                let tree = repo.find_tree(*tree).map_err(|e| e.message().to_string())?;
                let entry = tree
                    .get_path(Path::new(&full))
                    .map_err(|_| format!("{norm} does not exist at this revision"))?;
                if entry.filemode() == 0o120000 {
                    return Err(format!(
                        "{norm} is a symlink; bmfleet does not follow symlinks in Git trees"
                    ));
                }
                let blob = repo
                    .find_blob(entry.id())
                    .map_err(|_| format!("{norm} is not a file"))?;
                if blob.size() as u64 > limit {
                    return Err(format!(
                        "{norm} is {} bytes, more than the limit of {limit} bytes",
                        blob.size()
                    ));
                }
                Ok(blob.content().to_vec())
            }
        }
    }
}

fn walk_dir(root: &Path, dir: &Path, out: &mut Vec<TreeEntry>) -> Result<(), SourceError> {
    let entries = std::fs::read_dir(dir).map_err(|e| SourceError::FleetDir {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_else(|_| name.to_string());
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            let kind = match path.canonicalize() {
                Ok(real) if real.starts_with(root) => EntryKind::SymlinkInside,
                _ => EntryKind::SymlinkOutside(target),
            };
            out.push(TreeEntry { path: rel, kind });
        } else if meta.is_dir() {
            walk_dir(root, &path, out)?;
        } else if meta.is_file() {
            out.push(TreeEntry {
                path: rel,
                kind: EntryKind::File(meta.len()),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keeps_lines_and_indentation() {
        let mut sources = Sources::default();
        let text = "a: |\n  one secret\n  two\nb: 1\n";
        let id = sources.add("f.yaml".into(), Arc::from(text));
        let start = text.find("one").unwrap() as u32;
        let end = text.find("\nb:").unwrap() as u32;
        let b = text.find("b:").unwrap() as u32;
        let before = sources.line_col(Span {
            file: id,
            start: b,
            end: b + 1,
        });
        sources.mask(Span {
            file: id,
            start,
            end,
        });
        let masked = &sources.file(id).unwrap().text;
        assert_eq!(&**masked, "a: |\n  **********\n  ***\nb: 1\n");
        assert_eq!(
            sources.line_col(Span {
                file: id,
                start: b,
                end: b + 1
            }),
            before
        );
    }
}
