//! The virtual file tree: path lookup, read, write, directory listing, readlink and whole-tree
//! snapshots over /sys and /proc, with the errno a real system gives (kernfs open rules: a
//! missing file in an existing directory or a mode the file lacks -> EACCES, a missing
//! directory -> ENOENT).

use std::borrow::Cow;

use crate::error::{err, Errno, Result};
use crate::machine::Machine;

/// What a path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    /// A regular attribute; (readable, writable).
    File(bool, bool),
    /// A symlink with its relative target.
    Link(String),
}

/// Read-only / write-only / read-write attribute kinds.
pub const RO: Kind = Kind::File(true, false);
pub const WO: Kind = Kind::File(false, true);
pub const RW: Kind = Kind::File(true, true);

/// The index in a kernel directory name like `cpu12`, `memory40`, `node3`, `domain0`: the kernel
/// prints it with `%d`, so `cpu012` or `cpu+12` name nothing.
pub(crate) fn entry_index<T: std::str::FromStr>(name: &str, prefix: &str) -> Option<T> {
    let digits = name.strip_prefix(prefix)?;
    let canonical = digits.bytes().all(|b| b.is_ascii_digit()) && (digits == "0" || !digits.starts_with('0'));
    if canonical { digits.parse().ok() } else { None }
}

/// A whole-tree snapshot: every readable file's content, every link, unreadable files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub files: Vec<(String, String)>,
    pub links: Vec<(String, String)>,
    pub unreadable: Vec<String>,
}

/// Split an absolute path into components (`.` and empty parts dropped, `..` resolved).
fn components(path: &str) -> Result<Vec<&str>> {
    if !path.starts_with('/') {
        return err(Errno::ENOENT, format!("{path}: not an absolute path"));
    }
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

impl Machine {
    /// The entries of directory `c` (components), or None if it is not a directory.
    pub(crate) fn list_components(&self, c: &[&str]) -> Option<Vec<(String, Kind)>> {
        let d = |names: &[&str]| Some(names.iter().map(|n| ((*n).to_string(), Kind::Dir)).collect());
        match c {
            [] => d(&["proc", "sys"]),
            ["sys"] => d(&["devices", "kernel"]),
            ["sys", "devices"] => d(&["system"]),
            ["sys", "devices", "system"] => d(&["cpu", "memory", "node"]),
            ["sys", "kernel"] => d(&["debug"]),
            ["sys", "devices", "system", "node", rest @ ..] => self.node_list(rest),
            ["sys", "devices", "system", "memory", rest @ ..] => self.memory_list(rest),
            ["sys", "devices", "system", "cpu", rest @ ..] => self.cpu_list(rest),
            ["sys", "kernel", "debug", rest @ ..] => self.debugfs_list(rest),
            ["proc"] => Some(self.procfs_list()),
            _ => None,
        }
    }

    /// What `c` names, if anything.
    fn kind_of(&self, c: &[&str]) -> Option<Kind> {
        let Some((name, parent)) = c.split_last() else { return Some(Kind::Dir) };
        // Fast paths for the big directories avoid listing thousands of entries.
        if let Some(k) = self.fast_kind(c) {
            return k;
        }
        if let ["sys", "devices", "system", "node", node, name] = c {
            return self.node_entry_kind(node, name);
        }
        self.list_components(parent)?.into_iter().find(|(n, _)| n == name).map(|(_, k)| k)
    }

    /// Existence of `memoryN`, `cpuN`, `nodeN` directories and of the other entries of those
    /// big directories, without listing their thousands of children.
    fn fast_kind(&self, c: &[&str]) -> Option<Option<Kind>> {
        let ["sys", "devices", "system", sub @ ("memory" | "cpu" | "node"), name] = c else {
            return None;
        };
        let prefix = *sub;
        if let Some(id) = entry_index::<usize>(name, prefix) {
            let exists = match *sub {
                "memory" => self.blocks.contains_key(&(id as u64)),
                "cpu" => self.cpu_registered(id),
                _ => self.nodes.online.test(id),
            };
            return Some(exists.then_some(Kind::Dir));
        }
        let files = match *sub {
            "memory" => self.memory_root_files(),
            "cpu" => self.cpu_root_files(),
            _ => self.node_root_files(),
        };
        Some(files.into_iter().find(|(n, _)| n == name).map(|(_, k)| k))
    }

    /// The path walk: `path` with every symlink before its last component replaced by the
    /// link's target (`node0/cpu1/online` is `cpu/cpu1/online`), and the last one too when
    /// `follow_last`. ENOENT / ENOTDIR, naming `path`, when a component before the last is
    /// missing or a file.
    fn walk<'p>(&self, path: &'p str, follow_last: bool) -> Result<Cow<'p, str>> {
        let mut resolved = Cow::Borrowed(path);
        // Each round splices one link; sysfs links point at real directories, never at links,
        // so the walk ends.
        loop {
            let c = components(&resolved)?;
            let mut spliced = None;
            for i in 0..c.len() {
                let last = i + 1 == c.len();
                if last && !follow_last {
                    break;
                }
                match self.kind_of(&c[..=i]) {
                    Some(Kind::Dir) => {}
                    Some(Kind::Link(target)) => {
                        let mut parts: Vec<&str> = c[..i].to_vec();
                        for part in target.split('/') {
                            match part {
                                ".." => {
                                    parts.pop();
                                }
                                "" | "." => {}
                                p => parts.push(p),
                            }
                        }
                        parts.extend(&c[i + 1..]);
                        spliced = Some(format!("/{}", parts.join("/")));
                        break;
                    }
                    _ if last => {}
                    Some(_) => return err(Errno::ENOTDIR, format!("{path}: not a directory")),
                    None => return err(Errno::ENOENT, format!("{path}: no such file or directory")),
                }
            }
            match spliced {
                Some(p) => resolved = Cow::Owned(p),
                None => return Ok(resolved),
            }
        }
    }

    /// Read a file (or a symlink's target file) whole.
    pub fn read(&self, path: &str) -> Result<String> {
        let resolved = self.walk(path, false)?;
        let c = components(&resolved)?;
        match self.kind_of(&c) {
            None => err(Errno::ENOENT, format!("{path}: no such file or directory")),
            Some(Kind::Dir) => err(Errno::EISDIR, format!("{path}: is a directory")),
            Some(Kind::Link(t)) => {
                let parent = &path[..path.rfind('/').unwrap_or(0)];
                let target = format!("{parent}/{t}/");
                err(Errno::EISDIR, format!("{path}: link to directory {target}"))
            }
            Some(Kind::File(false, _)) => err(Errno::EACCES, format!("{path}: permission denied (write-only attribute)")),
            Some(Kind::File(true, _)) => self.show(&c).ok_or_else(|| {
                crate::error::HpeError::new(Errno::ENOENT, format!("{path}: no such file"))
            })?,
        }
    }

    /// Write `data` to a file as `open(O_WRONLY)` + one `write()`; returns the byte count.
    pub fn write(&mut self, path: &str, data: &[u8]) -> Result<usize> {
        let resolved = self.walk(path, false)?.into_owned();
        let c = components(&resolved)?;
        match self.kind_of(&c) {
            None => err(Errno::EACCES, format!("{path}: permission denied (no such attribute)")),
            Some(Kind::Dir) => err(Errno::EISDIR, format!("{path}: is a directory")),
            Some(Kind::Link(_)) => err(Errno::EISDIR, format!("{path}: is a directory")),
            Some(Kind::File(_, false)) => err(Errno::EACCES, format!("{path}: permission denied (read-only attribute)")),
            Some(Kind::File(_, true)) => {
                let owned: Vec<String> = c.iter().map(|s| (*s).to_string()).collect();
                let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
                self.store(&refs, data).map_err(|mut e| {
                    e.msg = format!("{path}: {}", e.msg);
                    e
                })?;
                Ok(data.len())
            }
        }
    }

    /// Directory entries, sorted by name.
    pub fn list_dir(&self, path: &str) -> Result<Vec<String>> {
        let resolved = self.walk(path, true)?;
        let c = components(&resolved)?;
        match self.kind_of(&c) {
            Some(Kind::Dir) => {}
            Some(_) => return err(Errno::ENOTDIR, format!("{path}: not a directory")),
            None => return err(Errno::ENOENT, format!("{path}: no such file or directory")),
        }
        let mut names: Vec<String> =
            self.list_components(&c).unwrap_or_default().into_iter().map(|(n, _)| n).collect();
        names.sort();
        Ok(names)
    }

    /// Target of a symlink.
    pub fn readlink(&self, path: &str) -> Result<String> {
        let c = components(path)?;
        match self.kind_of(&c) {
            Some(Kind::Link(t)) => Ok(t),
            Some(_) => err(Errno::EINVAL, format!("{path}: not a symlink")),
            None => err(Errno::ENOENT, format!("{path}: no such file or directory")),
        }
    }

    /// The kind of a path: `"dir"`, `"file"`, `"link"` or None.
    #[must_use]
    pub fn stat(&self, path: &str) -> Option<Kind> {
        let c = components(path).ok()?;
        for i in 1..c.len() {
            if self.kind_of(&c[..i]) != Some(Kind::Dir) {
                return None;
            }
        }
        self.kind_of(&c)
    }

    /// Walk the tree below `root` (default `/`): every file, link and unreadable attribute.
    #[must_use]
    pub fn snapshot(&self, root: &str) -> Snapshot {
        let mut snap = Snapshot::default();
        let Ok(c) = components(root) else { return snap };
        let mut stack: Vec<Vec<String>> = vec![c.iter().map(|s| (*s).to_string()).collect()];
        while let Some(dir) = stack.pop() {
            let refs: Vec<&str> = dir.iter().map(String::as_str).collect();
            let Some(entries) = self.list_components(&refs) else { continue };
            for (name, kind) in entries {
                let mut p = dir.clone();
                p.push(name);
                let path = format!("/{}", p.join("/"));
                match kind {
                    Kind::Dir => stack.push(p),
                    Kind::Link(t) => snap.links.push((path, t)),
                    Kind::File(true, _) => {
                        let refs: Vec<&str> = p.iter().map(String::as_str).collect();
                        match self.show(&refs) {
                            Some(Ok(s)) => snap.files.push((path, s)),
                            _ => snap.unreadable.push(path),
                        }
                    }
                    Kind::File(false, _) => snap.unreadable.push(path),
                }
            }
        }
        snap.files.sort();
        snap.links.sort();
        snap.unreadable.sort();
        snap
    }

    /// Content of a readable attribute.
    pub(crate) fn show(&self, c: &[&str]) -> Option<Result<String>> {
        match c {
            ["sys", "devices", "system", "node", rest @ ..] => self.node_show(rest),
            ["sys", "devices", "system", "memory", rest @ ..] => self.memory_show(rest),
            ["sys", "devices", "system", "cpu", rest @ ..] => self.cpu_show(rest),
            ["sys", "kernel", "debug", rest @ ..] => self.debugfs_show(rest),
            ["proc", f] => self.procfs_show(f),
            _ => None,
        }
    }

    /// Store into a writable attribute.
    fn store(&mut self, c: &[&str], data: &[u8]) -> Result<()> {
        match c {
            ["sys", "devices", "system", "node", rest @ ..] => self.node_store(rest, data),
            ["sys", "devices", "system", "memory", rest @ ..] => self.memory_store(rest, data),
            ["sys", "devices", "system", "cpu", rest @ ..] => self.cpu_store(rest, data),
            ["sys", "kernel", "debug", rest @ ..] => self.debugfs_store(rest, data),
            _ => err(Errno::EACCES, "permission denied"),
        }
    }
}
