//! Export of the virtual tree as real files: `DEST/sys/...` and `DEST/proc/...` laid out so
//! that tools with a sysroot option read them unchanged (`lscpu --sysroot DEST`,
//! `lsmem --sysroot DEST`, hwloc's `--if fsroot --input DEST`).
//!
//! The walk is the one of [`Machine::snapshot`], done by `threads` workers that share the machine
//! read-only and take whole directories from a queue (see [`export`]). Deviations from a real sysfs: every
//! file is a regular file (mode 0444 / 0644 / 0200 as the attribute's access), write-only and
//! unreadable attributes are empty, and links are relative links inside `DEST`.
//!
//! Safety: nothing is written outside `DEST`. Names from the tree must be plain path
//! components, link targets must resolve (lexically) inside `DEST`, files are created with
//! `O_EXCL` and directories with `mkdir` and opened `O_NOFOLLOW` (none follows a planted
//! symlink), and an existing
//! non-empty `DEST` is refused unless `force`, which first removes `DEST/sys` and
//! `DEST/proc` (without following links).

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use rustix::fs::{mkdirat, openat, symlinkat, Mode, OFlags, CWD};

use crate::machine::Machine;
use crate::vfs::Kind;

/// The subtrees [`export`] writes by default: what lscpu, lsmem, hwloc and numactl read.
pub const DEFAULT_ROOTS: [&str; 4] =
    ["/sys/devices/system/cpu", "/sys/devices/system/node", "/sys/devices/system/memory", "/proc"];

/// What to export and how.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// Absolute tree paths to export (each with its whole subtree).
    pub roots: Vec<String>,
    /// Replace `DEST/sys` and `DEST/proc` of an existing non-empty `DEST`.
    pub force: bool,
    /// Worker threads writing files (at least 1).
    pub threads: usize,
}

impl Default for ExportOptions {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, usize::from).min(4);
        ExportOptions { roots: DEFAULT_ROOTS.iter().map(|s| (*s).to_string()).collect(), force: false, threads }
    }
}

/// Counts of what an export wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    pub dirs: usize,
    pub files: usize,
    pub links: usize,
    pub bytes: u64,
}

/// A plain path component: not empty, not `.`/`..`, no `/` or NUL.
fn plain(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// Whether a relative link at depth `depth` below `DEST` (number of components of its parent
/// directory) stays inside `DEST` when resolved lexically.
fn link_stays_inside(depth: usize, target: &str) -> bool {
    if target.starts_with('/') || target.contains('\0') {
        return false;
    }
    let mut d = depth as isize;
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                d -= 1;
                if d < 0 {
                    return false;
                }
            }
            _ => d += 1,
        }
    }
    true
}

fn components(path: &str) -> io::Result<Vec<String>> {
    let c: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
    if !path.starts_with('/') || c.iter().any(|s| !plain(s)) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{path}: not a plain absolute tree path")));
    }
    Ok(c)
}

fn dest_path(dest: &Path, comps: &[String]) -> PathBuf {
    let mut p = dest.to_path_buf();
    p.extend(comps);
    p
}

fn mkdir(p: &Path) -> io::Result<()> {
    fs::DirBuilder::new().mode(0o755).create(p).map_err(|e| with_path(p, e))
}

/// Prepare `dest`: create it if missing; refuse a non-empty one unless `force`, which removes
/// the top-level directories the roots will write.
fn prepare_dest(dest: &Path, roots: &[Vec<String>], force: bool) -> io::Result<()> {
    match fs::symlink_metadata(dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return fs::create_dir_all(dest);
        }
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    if !fs::metadata(dest)?.is_dir() {
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{}: not a directory", dest.display())));
    }
    if fs::read_dir(dest)?.next().is_none() {
        return Ok(());
    }
    if !force {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{}: directory is not empty (force replaces its sys/ and proc/)", dest.display()),
        ));
    }
    let mut tops: Vec<&String> = roots.iter().filter_map(|r| r.first()).collect();
    tops.dedup();
    for top in tops {
        let p = dest.join(top);
        match fs::symlink_metadata(&p) {
            Ok(md) if md.is_dir() => fs::remove_dir_all(&p)?,
            Ok(_) => fs::remove_file(&p)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One directory of the export: its tree components and what to create in it.
struct DirPlan {
    comps: Vec<String>,
    /// Indices (in the plan) of the subdirectories.
    subdirs: Vec<usize>,
    /// Files: name, readable, writable.
    files: Vec<(String, bool, bool)>,
    /// Links: name, relative target.
    links: Vec<(String, String)>,
}

/// The listed tree: directories in the order they were listed, and the indices of the roots.
#[derive(Default)]
struct Plan {
    dirs: Vec<DirPlan>,
    roots: Vec<usize>,
}

/// Write the subtrees `opts.roots` of `m` below `dest`.
///
/// Two passes over the tree, each by `opts.threads` workers taking whole directories from a
/// shared queue. The first lists the tree (so the total is known, and a bad name or link fails
/// before anything is written below the roots). The second writes it: a worker creates a
/// directory's subdirectories (which queues them), then its files and links, all relative to
/// the directory's fd (one path walk per directory). No two workers create entries in the same
/// directory, so they do not contend on its lock in the kernel.
///
/// `progress(done, total)` is called from the worker threads (one at a time, `done` increasing)
/// about every 1% of the files, and once at the end.
///
/// # Errors
/// The first I/O error (with the path in its message), `AlreadyExists` for a non-empty
/// `dest` without `force`, `InvalidInput` for a root or tree entry that is not a plain path.
pub fn export(
    m: &Machine,
    dest: &Path,
    opts: &ExportOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> io::Result<ExportStats> {
    let roots: Vec<Vec<String>> = opts.roots.iter().map(|r| components(r)).collect::<io::Result<_>>()?;
    prepare_dest(dest, &roots, opts.force)?;
    for root in &roots {
        let refs: Vec<&str> = root.iter().map(String::as_str).collect();
        if m.list_components(&refs).is_none() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("/{}: no such directory", root.join("/"))));
        }
    }
    let threads = opts.threads.max(1);
    let plan = list_tree(m, &roots, threads)?;
    let mut stats = ExportStats::default();
    // Parents of each root (e.g. sys/devices/system), then the root itself.
    for root in &roots {
        for i in 1..=root.len() {
            let p = dest_path(dest, &root[..i]);
            if fs::symlink_metadata(&p).is_err() {
                mkdir(&p)?;
                stats.dirs += 1;
            }
        }
    }
    stats.dirs += plan.dirs.len() - plan.roots.len();
    stats.files = plan.dirs.iter().map(|d| d.files.len()).sum();
    stats.links = plan.dirs.iter().map(|d| d.links.len()).sum();
    let total = stats.files + stats.links;
    let destfd = openat(CWD, dest, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| with_path(dest, e.into()))?;
    let (done, bytes) = (AtomicUsize::new(0), AtomicU64::new(0));
    let reporting = Mutex::new(());
    let step = (total / 100).max(1);
    for_each_dir(threads, plan.roots.clone(), |i| {
        let dir = &plan.dirs[i];
        bytes.fetch_add(write_dir(m, dest, &destfd, &plan.dirs, dir)?, Ordering::Relaxed);
        let n = dir.files.len() + dir.links.len();
        let d = done.fetch_add(n, Ordering::Relaxed) + n;
        if (d - n) / step != d / step && d < total {
            // Skipped while another worker reports; the next 1% catches up.
            if let Ok(_g) = reporting.try_lock() {
                progress(done.load(Ordering::Relaxed), total);
            }
        }
        Ok(dir.subdirs.clone())
    })?;
    stats.bytes = bytes.into_inner();
    progress(total, total);
    Ok(stats)
}

/// List the directories `roots` and everything below them (in parallel: listing a node
/// directory scans every CPU and block), checking every name and link target.
fn list_tree(m: &Machine, roots: &[Vec<String>], threads: usize) -> io::Result<Plan> {
    let plan = Mutex::new(Plan::default());
    let lock = || plan.lock().unwrap_or_else(PoisonError::into_inner);
    let start = roots.iter().map(|r| (r.clone(), None)).collect();
    for_each_dir(threads, start, |(dir, parent): (Vec<String>, Option<usize>)| {
        let refs: Vec<&str> = dir.iter().map(String::as_str).collect();
        let mut d = DirPlan { comps: Vec::new(), subdirs: Vec::new(), files: Vec::new(), links: Vec::new() };
        let mut subdirs = Vec::new();
        for (name, kind) in m.list_components(&refs).unwrap_or_default() {
            if !plain(&name) {
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("/{}/{name:?}: not a plain name", dir.join("/"))));
            }
            match kind {
                Kind::Dir => subdirs.push(name),
                Kind::Link(target) => {
                    if !link_stays_inside(dir.len(), &target) {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("/{}/{name}: link target {target:?} leaves the export", dir.join("/")),
                        ));
                    }
                    d.links.push((name, target));
                }
                Kind::File(readable, writable) => d.files.push((name, readable, writable)),
            }
        }
        let children: Vec<Vec<String>> = subdirs
            .into_iter()
            .map(|name| {
                let mut comps = dir.clone();
                comps.push(name);
                comps
            })
            .collect();
        d.comps = dir;
        let mut p = lock();
        let index = p.dirs.len();
        p.dirs.push(d);
        match parent {
            Some(parent) => p.dirs[parent].subdirs.push(index),
            None => p.roots.push(index),
        }
        Ok(children.into_iter().map(|c| (c, Some(index))).collect())
    })?;
    Ok(plan.into_inner().unwrap_or_else(PoisonError::into_inner))
}

/// Run `task` on `threads` workers over a tree of work items, starting from `start`: each task
/// returns the items it made ready (e.g. the subdirectories it listed or created). The first
/// error stops the workers and is returned.
fn for_each_dir<T: Send>(
    threads: usize,
    start: Vec<T>,
    task: impl Fn(T) -> io::Result<Vec<T>> + Sync,
) -> io::Result<()> {
    let queue = Queue { state: Mutex::new(QueueState { ready: start, busy: 0, error: None }), wake: Condvar::new() };
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (queue, task) = (&queue, &task);
            s.spawn(move || {
                while let Some(item) = queue.next() {
                    // A panic must still finish the item, or the other workers wait for ever.
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task(item)))
                        .unwrap_or_else(|_| Err(io::Error::other("export worker panicked")));
                    queue.finish(result);
                }
            });
        }
    });
    match queue.state.into_inner().unwrap_or_else(PoisonError::into_inner).error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The work items ready to be taken, shared by the workers.
struct Queue<T> {
    state: Mutex<QueueState<T>>,
    wake: Condvar,
}

struct QueueState<T> {
    ready: Vec<T>,
    /// Items taken and not finished: they may still make new ones ready.
    busy: usize,
    error: Option<io::Error>,
}

impl<T> Queue<T> {
    fn lock(&self) -> MutexGuard<'_, QueueState<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next item; None once all are done or one failed.
    fn next(&self) -> Option<T> {
        let mut s = self.lock();
        loop {
            if s.error.is_some() {
                return None;
            }
            // LIFO: depth first, so the ready list stays short
            if let Some(item) = s.ready.pop() {
                s.busy += 1;
                return Some(item);
            }
            if s.busy == 0 {
                return None;
            }
            s = self.wake.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// An item taken by [`Queue::next`] is done (making `Ok` items ready) or failed.
    fn finish(&self, result: io::Result<Vec<T>>) {
        let mut s = self.lock();
        s.busy -= 1;
        match result {
            Ok(items) => s.ready.extend(items),
            Err(e) => {
                s.error.get_or_insert(e);
            }
        }
        if !s.ready.is_empty() || s.busy == 0 || s.error.is_some() {
            self.wake.notify_all();
        }
    }
}

fn with_path(p: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

/// Create the subdirectories, files and links of one (existing) directory; returns the bytes
/// written. Everything is created relative to the directory's fd: one path walk per directory.
fn write_dir(m: &Machine, dest: &Path, destfd: &OwnedFd, plan: &[DirPlan], dir: &DirPlan) -> io::Result<u64> {
    let fail = |name: &str, e: rustix::io::Errno| {
        let mut p = dest_path(dest, &dir.comps);
        if !name.is_empty() {
            p.push(name);
        }
        with_path(&p, e.into())
    };
    let rel = dir.comps.join("/");
    // O_NOFOLLOW: the directory was made by this export, a link in its place is refused
    let dfd = openat(destfd, rel.as_str(), OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| fail("", e))?;
    for &sub in &dir.subdirs {
        let name = plan[sub].comps.last().map_or("", String::as_str);
        mkdirat(&dfd, name, Mode::from_raw_mode(0o755)).map_err(|e| fail(name, e))?;
    }
    let mut refs: Vec<&str> = dir.comps.iter().map(String::as_str).collect();
    let mut bytes = 0u64;
    for (name, readable, writable) in &dir.files {
        let mode = match (readable, writable) {
            (true, true) => 0o644,
            (true, false) => 0o444,
            (false, true) => 0o200,
            (false, false) => 0o000,
        };
        let content = if *readable {
            refs.push(name);
            let s = match m.show(&refs) {
                Some(Ok(s)) => s,
                _ => String::new(),
            };
            refs.pop();
            s
        } else {
            String::new()
        };
        // O_EXCL on a fresh tree: never follows a planted link, and no truncation work
        let fd = openat(&dfd, name.as_str(), OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC, Mode::from_raw_mode(mode))
            .map_err(|e| fail(name, e))?;
        let mut data = content.as_bytes();
        while !data.is_empty() {
            let n = rustix::io::write(&fd, data).map_err(|e| fail(name, e))?;
            data = &data[n..];
        }
        bytes += content.len() as u64;
    }
    for (name, target) in &dir.links {
        symlinkat(target.as_str(), &dfd, name.as_str()).map_err(|e| fail(name, e))?;
    }
    Ok(bytes)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_stay_inside() {
        assert!(link_stays_inside(5, "../../node/node0"));
        assert!(!link_stays_inside(1, "../../etc"));
        assert!(!link_stays_inside(3, "/etc/passwd"));
        assert!(link_stays_inside(0, "a/../b"));
    }

    /// A binary tree of work items 1..1000 (item n makes 2n and 2n+1 ready below 500).
    fn children(n: usize) -> Vec<usize> {
        if n < 500 {
            vec![2 * n, 2 * n + 1]
        } else {
            vec![]
        }
    }

    #[test]
    fn queue_runs_every_item_once() {
        let seen = Mutex::new(Vec::new());
        for_each_dir(4, vec![1], |n| {
            seen.lock().unwrap().push(n);
            Ok(children(n))
        })
        .unwrap();
        let mut seen = seen.into_inner().unwrap();
        seen.sort_unstable();
        assert_eq!(seen, (1..1000).collect::<Vec<_>>());
    }

    #[test]
    fn queue_stops_at_an_error_or_a_panic() {
        let e = for_each_dir(3, vec![1], |n| if n == 37 { Err(io::Error::other("boom")) } else { Ok(children(n)) });
        assert_eq!(e.unwrap_err().to_string(), "boom");
        let e = for_each_dir(2, vec![1], |n| if n == 5 { panic!("task panics") } else { Ok(children(n)) });
        assert_eq!(e.unwrap_err().to_string(), "export worker panicked");
    }

    #[test]
    fn names_are_plain() {
        assert!(plain("cpu0"));
        assert!(!plain(".."));
        assert!(!plain("a/b"));
        assert!(!plain(""));
        assert!(components("relative").is_err());
        assert!(components("/sys/../..").is_err());
    }
}
