//! PyO3 binding of `numa_hpe_core`: thin wrappers, conversions and error mapping only.
#![deny(unsafe_code)]

use std::sync::{Arc, Mutex};

use numa_hpe_core::bitmap::Bitmap;
use numa_hpe_core::error::{Errno, HpeError};
use numa_hpe_core::export::{self, ExportOptions};
use numa_hpe_core::notifier::{Event, Notifier};
use numa_hpe_core::firmware::Firmware;
use numa_hpe_core::machine::{KernelConfig, Machine, PatchsetVersion};
use numa_hpe_core::parse;
use numa_hpe_core::vfs::Kind;
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

/// Core errors become `OSError(errno, message)`.
struct PyHpeErr(HpeError);

impl From<HpeError> for PyHpeErr {
    fn from(e: HpeError) -> Self {
        PyHpeErr(e)
    }
}

impl From<PyHpeErr> for PyErr {
    fn from(e: PyHpeErr) -> PyErr {
        PyOSError::new_err((e.0.errno.code(), e.0.msg))
    }
}

type PyResultH<T> = Result<T, PyHpeErr>;

/// A file operation's error: `OSError(errno, message, path)` (so `.filename` is the path).
fn path_err(path: &str) -> impl Fn(HpeError) -> PyErr + '_ {
    move |e| PyOSError::new_err((e.errno.code(), e.msg, path.to_string()))
}

fn bytes_of(data: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = data.extract::<String>() {
        return Ok(s.into_bytes());
    }
    if let Ok(b) = data.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    Err(PyValueError::new_err("data must be str or bytes"))
}

/// A Python callable subscribed to a machine's hotplug events: it gets a dict
/// (`{"event": "MEM_GOING_ONLINE", "start_pfn": ..., ...}`) and vetoes a `Going*` event by
/// returning a non-zero errno or raising OSError.
struct PyNotifier(Py<PyAny>);

impl std::fmt::Debug for PyNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PyNotifier")
    }
}

fn event_dict<'py>(py: Python<'py>, ev: &Event) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("event", ev.name())?;
    match *ev {
        Event::MemGoingOnline { start_pfn, nr_pages, nid }
        | Event::MemCancelOnline { start_pfn, nr_pages, nid }
        | Event::MemOnline { start_pfn, nr_pages, nid }
        | Event::MemGoingOffline { start_pfn, nr_pages, nid }
        | Event::MemCancelOffline { start_pfn, nr_pages, nid }
        | Event::MemOffline { start_pfn, nr_pages, nid } => {
            d.set_item("start_pfn", start_pfn)?;
            d.set_item("nr_pages", nr_pages)?;
            d.set_item("nid", nid)?;
        }
        Event::CpuGoingOnline { cpu } | Event::CpuOnline { cpu } | Event::CpuGoingOffline { cpu } | Event::CpuOffline { cpu } => {
            d.set_item("cpu", cpu)?;
        }
        Event::NodeOnline { nid } | Event::NodeOffline { nid } => d.set_item("nid", nid)?,
    }
    Ok(d)
}

impl Notifier for PyNotifier {
    fn notify(&self, ev: &Event) -> Result<(), Errno> {
        Python::attach(|py| {
            let d = match event_dict(py, ev) {
                Ok(d) => d,
                Err(_) => return Ok(()),
            };
            IN_NOTIFIER.with(|c| c.set(true));
            let result = self.0.call1(py, (d,));
            IN_NOTIFIER.with(|c| c.set(false));
            match result {
                Ok(ret) => match ret.extract::<Option<i32>>(py) {
                    Ok(Some(code)) if code != 0 => Err(Errno::from_code(code.abs()).unwrap_or(Errno::EINVAL)),
                    _ => Ok(()),
                },
                Err(e) => {
                    let code = e
                        .value(py)
                        .getattr("errno")
                        .ok()
                        .and_then(|v| v.extract::<i32>().ok())
                        .and_then(Errno::from_code);
                    Err(code.unwrap_or(Errno::EINVAL))
                }
            }
        })
    }
}

/// Parsed and validated firmware facts: machines boot from it without going through JSON
/// again (`numa_hpe.Firmware` keeps one).
#[pyclass(frozen, module = "numa_hpe._core", name = "Firmware")]
struct PyFirmware {
    inner: Firmware,
}

#[pymethods]
impl PyFirmware {
    /// Parse firmware facts (JSON, FORMAT.md `firmware`); ValueError when invalid.
    #[new]
    fn new(py: Python<'_>, firmware_json: &str) -> PyResult<Self> {
        let fw = py.detach(|| Firmware::from_json(firmware_json)).map_err(|e| PyValueError::new_err(e.msg))?;
        Ok(PyFirmware { inner: fw })
    }
}

/// One emulated machine (see `numa_hpe.Machine` for the documented Python API).
#[pyclass(frozen, module = "numa_hpe._core", name = "Machine")]
struct PyMachine {
    inner: Mutex<Machine>,
}

thread_local! {
    /// Set while this thread runs a notifier callback: the machine is locked by the operation
    /// that emitted the event, so using it from the callback would deadlock.
    static IN_NOTIFIER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl PyMachine {
    /// Run `f` on the machine. The lock is always waited for with the GIL released: the thread
    /// holding it may be inside a Python notifier callback, which needs the GIL to finish, so
    /// waiting with the GIL held deadlocked (issue 6 concurrency test).
    fn with<T: Send>(&self, py: Python<'_>, f: impl FnOnce(&mut Machine) -> T + Send) -> PyResult<T> {
        if IN_NOTIFIER.with(std::cell::Cell::get) {
            return Err(PyRuntimeError::new_err("the machine cannot be used from inside its own notifier"));
        }
        py.detach(|| {
            let mut g = self.inner.lock().map_err(|_| PyRuntimeError::new_err("machine lock poisoned"))?;
            Ok(f(&mut g))
        })
    }
}

#[pymethods]
impl PyMachine {
    /// Boot a machine from firmware facts (a parsed `Firmware`, or JSON, FORMAT.md
    /// `firmware`) and a command line.
    #[new]
    #[pyo3(signature = (firmware, cmdline = "", kernel_config = "numa_hpe", patchset_version = None))]
    fn new(
        py: Python<'_>,
        firmware: &Bound<'_, PyAny>,
        cmdline: &str,
        kernel_config: &str,
        patchset_version: Option<&str>,
    ) -> PyResult<Self> {
        let config = match kernel_config {
            "oracle" => KernelConfig::Oracle,
            "numa_hpe" => KernelConfig::NumaHpe,
            other => return Err(PyValueError::new_err(format!("unknown kernel_config {other:?}"))),
        };
        let version = match patchset_version {
            None => None,
            Some(v) => Some(
                PatchsetVersion::parse(v)
                    .ok_or_else(|| PyValueError::new_err(format!("unknown patchset_version {v:?}")))?,
            ),
        };
        let parsed = firmware.cast::<PyFirmware>().ok().map(Bound::get);
        let json = match parsed {
            Some(_) => None,
            None => Some(firmware.extract::<String>()?),
        };
        let m = py
            .detach(|| -> Result<Machine, HpeError> {
                let fw = match (parsed, json) {
                    (Some(f), _) => f.inner.clone(),
                    (None, json) => Firmware::from_json(json.as_deref().unwrap_or_default())?,
                };
                Machine::boot_with(fw, cmdline, config, version.unwrap_or(PatchsetVersion::V9))
            })
            .map_err(|e| PyValueError::new_err(e.msg))?;
        Ok(PyMachine { inner: Mutex::new(m) })
    }

    /// Subscribe `callback` to hotplug events (None unsubscribes).
    #[pyo3(signature = (callback = None))]
    fn set_notifier(&self, py: Python<'_>, callback: Option<Py<PyAny>>) -> PyResult<()> {
        self.with(py, |m| m.notifier = callback.map(|c| Arc::new(PyNotifier(c)) as Arc<dyn Notifier>))
    }

    /// The event log, oldest first, as dicts.
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let evs = self.with(py, |m| m.events.clone())?;
        evs.iter().map(|e| event_dict(py, e)).collect()
    }

    /// The whole machine as bytes (restore with `Machine.load`).
    fn save<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let b = self.with(py, |m| m.save())?;
        Ok(PyBytes::new(py, &b))
    }

    /// Restore a machine saved with `save` (validated first; ValueError when invalid).
    #[staticmethod]
    fn load(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let m = py.detach(|| Machine::load(data)).map_err(|e| PyValueError::new_err(e.msg))?;
        Ok(PyMachine { inner: Mutex::new(m) })
    }

    /// An independent copy of the machine (same state, no notifier).
    fn fork(&self, py: Python<'_>) -> PyResult<Self> {
        let m = self.with(py, |m| {
            let mut c = m.clone();
            c.notifier = None;
            c
        })?;
        Ok(PyMachine { inner: Mutex::new(m) })
    }

    /// Read a whole file.
    fn read(&self, py: Python<'_>, path: &str) -> PyResult<String> {
        self.with(py, |m| m.read(path))?.map_err(path_err(path))
    }

    /// Write to a file (open + one write); returns the byte count.
    fn write(&self, py: Python<'_>, path: &str, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        let data = bytes_of(data)?;
        self.with(py, |m| m.write(path, &data))?.map_err(path_err(path))
    }

    /// Directory entries, sorted.
    fn listdir(&self, py: Python<'_>, path: &str) -> PyResult<Vec<String>> {
        self.with(py, |m| m.list_dir(path))?.map_err(path_err(path))
    }

    /// Target of a symlink.
    fn readlink(&self, py: Python<'_>, path: &str) -> PyResult<String> {
        self.with(py, |m| m.readlink(path))?.map_err(path_err(path))
    }

    /// `"dir"`, `"file"`, `"link"` or None.
    fn stat(&self, py: Python<'_>, path: &str) -> PyResult<Option<&'static str>> {
        self.with(py, |m| {
            m.stat(path).map(|k| match k {
                Kind::Dir => "dir",
                Kind::File(..) => "file",
                Kind::Link(_) => "link",
            })
        })
    }

    /// `st_mode` of a path as sysfs reports it (dirs 0o40755, links 0o120777, attributes
    /// 0o100444 / 0o100644 / 0o100200), or None when it does not exist.
    fn st_mode(&self, py: Python<'_>, path: &str) -> PyResult<Option<u32>> {
        self.with(py, |m| {
            m.stat(path).map(|k| match k {
                Kind::Dir => 0o40755,
                Kind::Link(_) => 0o120777,
                Kind::File(r, w) => 0o100000 | if r { 0o444 } else { 0 } | if w { 0o200 } else { 0 },
            })
        })
    }

    /// `(files, links, unreadable)` of the whole tree below `root`.
    #[pyo3(signature = (root = "/"))]
    fn snapshot<'py>(&self, py: Python<'py>, root: &str) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>, Bound<'py, PyList>)> {
        let snap = self.with(py, |m| m.snapshot(root))?;
        let files = PyDict::new(py);
        for (k, v) in snap.files {
            files.set_item(k, v)?;
        }
        let links = PyDict::new(py);
        for (k, v) in snap.links {
            links.set_item(k, v)?;
        }
        Ok((files, links, PyList::new(py, snap.unreadable)?))
    }

    /// Write the tree below `dest` as real files (`dest/sys/...`, `dest/proc/...`); returns
    /// `{"dirs", "files", "links", "bytes"}`. `progress(done, total)` is called now and then
    /// from worker threads and must not use this machine.
    #[pyo3(signature = (dest, roots = None, force = false, threads = None, progress = None))]
    fn export<'py>(
        &self,
        py: Python<'py>,
        dest: std::path::PathBuf,
        roots: Option<Vec<String>>,
        force: bool,
        threads: Option<usize>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut opts = ExportOptions { force, ..ExportOptions::default() };
        if let Some(r) = roots {
            opts.roots = r;
        }
        if let Some(t) = threads {
            opts.threads = t.max(1);
        }
        let report = |done: usize, total: usize| {
            if let Some(cb) = &progress {
                // A failing progress callback must not abort the export.
                Python::attach(|py| drop(cb.call1(py, (done, total))));
            }
        };
        let stats = self.with(py, |m| export::export(m, &dest, &opts, &report))??;
        let d = PyDict::new(py);
        d.set_item("dirs", stats.dirs)?;
        d.set_item("files", stats.files)?;
        d.set_item("links", stats.links)?;
        d.set_item("bytes", stats.bytes)?;
        Ok(d)
    }

    /// The kernel log lines (no timestamps).
    /// The kernel log from line `since` on (lines before it are not formatted).
    #[pyo3(signature = (since = 0))]
    fn dmesg(&self, py: Python<'_>, since: usize) -> PyResult<Vec<String>> {
        self.with(py, |m| m.dmesg.lines_from(since))
    }

    /// How many lines the kernel log holds.
    fn dmesg_len(&self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |m| m.dmesg.len())
    }

    /// ACPI memory device insert; returns the node the memory landed on.
    #[pyo3(signature = (start, size, pxm = None))]
    fn firmware_add_memory(&self, py: Python<'_>, start: u64, size: u64, pxm: Option<u32>) -> PyResult<u32> {
        Ok(self.with(py, |m| m.firmware_add_memory(pxm, start, size))?.map_err(PyHpeErr)?)
    }

    /// ACPI memory eject (EBUSY when a block cannot be offlined).
    fn firmware_remove_memory(&self, py: Python<'_>, start: u64, size: u64) -> PyResult<()> {
        Ok(self.with(py, |m| m.firmware_remove_memory(start, size))?.map_err(PyHpeErr)?)
    }

    /// ACPI processor insert; returns the logical CPU id.
    #[pyo3(signature = (apic_id, pxm = None))]
    fn firmware_add_cpu(&self, py: Python<'_>, apic_id: u32, pxm: Option<u32>) -> PyResult<usize> {
        Ok(self.with(py, |m| m.firmware_add_cpu(apic_id, pxm))?.map_err(PyHpeErr)?)
    }

    /// ACPI processor eject.
    fn firmware_remove_cpu(&self, py: Python<'_>, apic_id: u32) -> PyResult<()> {
        Ok(self.with(py, |m| m.firmware_remove_cpu(apic_id))?.map_err(PyHpeErr)?)
    }

    /// Kernel `add_memory(nid, start, size)` (node from the address when None); returns the
    /// ids of the new (offline, or auto-onlined) blocks.
    #[pyo3(signature = (start, size, node = None))]
    fn hot_add_memory(&self, py: Python<'_>, start: u64, size: u64, node: Option<u32>) -> PyResult<Vec<u64>> {
        Ok(self
            .with(py, |m| {
                let nid = node.unwrap_or_else(|| m.memory_add_physaddr_to_nid(start));
                m.add_memory(nid, start, size).map(|()| m.blocks_in(start, size))
            })?
            .map_err(PyHpeErr)?)
    }

    /// Online many blocks in one call (`online`, `online_kernel` or `online_movable`).
    #[pyo3(signature = (ids, online_type = "online"))]
    fn online_blocks(&self, py: Python<'_>, ids: Vec<u64>, online_type: &str) -> PyResult<()> {
        let t = numa_hpe_core::sysfs_memory::online_type_from_str(online_type.as_bytes())
            .ok_or_else(|| PyValueError::new_err(format!("unknown online type {online_type:?}")))?;
        Ok(self.with(py, |m| m.online_blocks(&ids, t))?.map_err(PyHpeErr)?)
    }

    /// Offline many blocks in one call.
    fn offline_blocks(&self, py: Python<'_>, ids: Vec<u64>) -> PyResult<()> {
        Ok(self.with(py, |m| m.offline_blocks(&ids))?.map_err(PyHpeErr)?)
    }

    /// Kernel `remove_memory(start, size)`: every block offline, else EBUSY.
    fn remove_memory_range(&self, py: Python<'_>, start: u64, size: u64) -> PyResult<()> {
        Ok(self.with(py, |m| m.remove_memory(start, size))?.map_err(PyHpeErr)?)
    }

    /// `build_all_zonelists(NULL)` now (prints the Fallback order / Built lines).
    fn rebuild_zonelists(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, Machine::rebuild_zonelists)
    }

    /// Rebuild the sched domains of the online CPUs now.
    fn rebuild_sched_domains(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, Machine::rebuild_sched_domains_now)
    }

    /// node_distance over all possible node ids (nr_node_ids x nr_node_ids, uint8).
    fn distance_matrix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<u8>>> {
        let (n, v) = self.with(py, |m| {
            let n = m.nr_node_ids;
            let mut v = Vec::with_capacity(n * n);
            for a in 0..n {
                for b in 0..n {
                    v.push(m.node_distance(a, b).min(255) as u8);
                }
            }
            (n, v)
        })?;
        let arr = numpy::ndarray::Array2::from_shape_vec((n, n), v)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(arr.into_pyarray(py))
    }

    /// A named mask (`cpu_possible`, `cpu_present`, `cpu_online`, `node_possible`,
    /// `node_online`, `node_memory`, `node_normal_memory`, `node_cpu`) as uint64 words.
    fn mask<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let words = self.with(py, |m| -> Option<Vec<u64>> {
            let b: &Bitmap = match name {
                "cpu_possible" => &m.cpus.possible,
                "cpu_present" => &m.cpus.present,
                "cpu_online" => &m.cpus.online,
                "node_possible" => &m.nodes.possible,
                "node_online" => &m.nodes.online,
                "node_memory" => &m.nodes.memory,
                "node_normal_memory" => &m.nodes.normal_memory,
                "node_cpu" => &m.nodes.cpu,
                _ => return None,
            };
            Some(b.words().to_vec())
        })?;
        let words = words.ok_or_else(|| PyValueError::new_err(format!("unknown mask {name:?}")))?;
        Ok(words.into_pyarray(py))
    }
}

/// `memparse(s)` -> (value, bytes consumed).
#[pyfunction]
fn memparse(s: &[u8]) -> (u64, usize) {
    parse::memparse(s)
}

/// `simple_strtoull(s, &end, 0)` -> (value, bytes consumed).
#[pyfunction]
fn simple_strtoull(s: &[u8]) -> (u64, usize) {
    parse::simple_strtoull(s)
}

/// `kstrtoull(s, 0)`; OSError(EINVAL/ERANGE) on failure.
#[pyfunction]
fn kstrtoull(s: &[u8]) -> PyResultH<u64> {
    Ok(parse::kstrtoull(s)?)
}

/// `kstrtobool(s)`; OSError(EINVAL) on failure.
#[pyfunction]
fn kstrtobool(s: &[u8]) -> PyResultH<bool> {
    Ok(parse::kstrtobool(s)?)
}

/// `%*pbl` of the given bits in an `nbits` bitmap.
#[pyfunction]
fn format_cpulist(bits: Vec<usize>, nbits: usize) -> String {
    Bitmap::from_bits(nbits, bits).format_list()
}

/// `%*pb` of the given bits in an `nbits` bitmap.
#[pyfunction]
fn format_cpumask(bits: Vec<usize>, nbits: usize) -> String {
    Bitmap::from_bits(nbits, bits).format_mask()
}

/// `bitmap_parselist`: the set bits of a list string.
#[pyfunction]
fn parse_cpulist(s: &str, nbits: usize) -> PyResultH<Vec<usize>> {
    Ok(Bitmap::parse_list(s, nbits)?.iter().collect())
}

#[pymodule]
mod _core {
    #[pymodule_export]
    use super::{
        format_cpulist, format_cpumask, kstrtobool, kstrtoull, memparse, parse_cpulist,
        simple_strtoull, PyFirmware, PyMachine,
    };
}
