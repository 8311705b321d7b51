//! Export of the virtual tree as real files: `DEST/sys/...` and `DEST/proc/...` laid out so
//! that tools with a sysroot option read them unchanged (`lscpu --sysroot DEST`,
//! `lsmem --sysroot DEST`, hwloc's `--if fsroot --input DEST`).
//!
//! The walk is the one of [`Machine::snapshot`]: directories are created in pre-order by the
//! walking thread, then file contents are generated and written, and symlinks created, by
//! `threads` workers that share the machine read-only. Deviations from a real sysfs: every
//! file is a regular file (mode 0444 / 0644 / 0200 as the attribute's access), write-only and
//! unreadable attributes are empty, and links are relative links inside `DEST`.
//!
//! Safety: nothing is written outside `DEST`. Names from the tree must be plain path
//! components, link targets must resolve (lexically) inside `DEST`, files are created with
//! `O_EXCL` and directories with `mkdir` (neither follows a planted symlink), and an existing
//! non-empty `DEST` is refused unless `force`, which first removes `DEST/sys` and
//! `DEST/proc` (without following links).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{symlink, DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

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

/// One file or link to create, by its tree components.
enum Job {
    File { comps: Vec<String>, readable: bool, writable: bool },
    Link { comps: Vec<String>, target: String },
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
    fs::DirBuilder::new().mode(0o755).create(p).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
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

/// Write the subtrees `opts.roots` of `m` below `dest`.
///
/// `progress(done, total)` is called from the worker threads now and then (about every 1% of
/// the files) and once at the end.
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
    let mut stats = ExportStats::default();
    let mut jobs: Vec<Job> = Vec::new();
    for root in &roots {
        let refs: Vec<&str> = root.iter().map(String::as_str).collect();
        if m.list_components(&refs).is_none() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("/{}: no such directory", root.join("/"))));
        }
        // Parents of the root (e.g. sys/devices/system), then the root itself.
        for i in 1..=root.len() {
            let p = dest_path(dest, &root[..i]);
            if fs::symlink_metadata(&p).is_err() {
                mkdir(&p)?;
                stats.dirs += 1;
            }
        }
        walk(m, dest, root.clone(), &mut jobs, &mut stats)?;
    }
    let total = jobs.len();
    let done = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_err: Mutex<Option<io::Error>> = Mutex::new(None);
    let step = (total / 100).max(1);
    let threads = opts.threads.max(1);
    let results: Vec<(usize, usize, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (jobs, done, failed, first_err) = (&jobs, &done, &failed, &first_err);
                s.spawn(move || {
                    let (mut files, mut links, mut bytes) = (0usize, 0usize, 0u64);
                    // Interleaved shares: neighbouring jobs (same directory) go to different
                    // threads, so the expensive directories are split evenly.
                    for job in jobs.iter().skip(t).step_by(threads) {
                        if failed.load(Ordering::Relaxed) {
                            break;
                        }
                        match write_job(m, dest, job) {
                            Ok(n) => match job {
                                Job::File { .. } => {
                                    files += 1;
                                    bytes += n;
                                }
                                Job::Link { .. } => links += 1,
                            },
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                if let Ok(mut g) = first_err.lock() {
                                    g.get_or_insert(e);
                                }
                                break;
                            }
                        }
                        let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if d % step == 0 && d < total {
                            progress(d, total);
                        }
                    }
                    (files, links, bytes)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or((0, 0, 0))).collect()
    });
    if let Some(e) = first_err.into_inner().ok().flatten() {
        return Err(e);
    }
    for (f, l, b) in results {
        stats.files += f;
        stats.links += l;
        stats.bytes += b;
    }
    progress(total, total);
    Ok(stats)
}

/// Walk the directory `dir` (tree components): create its subdirectories below `dest`, queue
/// its files and links.
fn walk(m: &Machine, dest: &Path, dir: Vec<String>, jobs: &mut Vec<Job>, stats: &mut ExportStats) -> io::Result<()> {
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        let refs: Vec<&str> = dir.iter().map(String::as_str).collect();
        let Some(entries) = m.list_components(&refs) else { continue };
        for (name, kind) in entries {
            if !plain(&name) {
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("/{}/{name:?}: not a plain name", dir.join("/"))));
            }
            let mut comps = dir.clone();
            comps.push(name);
            match kind {
                Kind::Dir => {
                    mkdir(&dest_path(dest, &comps))?;
                    stats.dirs += 1;
                    stack.push(comps);
                }
                Kind::Link(target) => {
                    if !link_stays_inside(dir.len(), &target) {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("/{}: link target {target:?} leaves the export", comps.join("/")),
                        ));
                    }
                    jobs.push(Job::Link { comps, target });
                }
                Kind::File(readable, writable) => jobs.push(Job::File { comps, readable, writable }),
            }
        }
    }
    Ok(())
}

/// Create one file or link; returns the bytes written.
fn write_job(m: &Machine, dest: &Path, job: &Job) -> io::Result<u64> {
    let with_path = |p: &Path, e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", p.display()));
    match job {
        Job::Link { comps, target } => {
            let p = dest_path(dest, comps);
            symlink(target, &p).map_err(|e| with_path(&p, e))?;
            Ok(0)
        }
        Job::File { comps, readable, writable } => {
            let p = dest_path(dest, comps);
            let mode = match (readable, writable) {
                (true, true) => 0o644,
                (true, false) => 0o444,
                (false, true) => 0o200,
                (false, false) => 0o000,
            };
            let content = if *readable {
                let refs: Vec<&str> = comps.iter().map(String::as_str).collect();
                match m.show(&refs) {
                    Some(Ok(s)) => s,
                    _ => String::new(),
                }
            } else {
                String::new()
            };
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&p)
                .map_err(|e| with_path(&p, e))?;
            if !content.is_empty() {
                f.write_all(content.as_bytes()).map_err(|e| with_path(&p, e))?;
            }
            Ok(content.len() as u64)
        }
    }
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
