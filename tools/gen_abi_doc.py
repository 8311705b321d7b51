"""Write docs/ABI.md: the descriptions below (from shared/spec) for every path tools/abi_paths.py lists.

Run from the repository root: python tools/gen_abi_doc.py
"""
import sys
sys.path.insert(0, "tools")
from abi_paths import emulated_paths

MAIN = "Linux 6.1 (emulated)"
E = {}
def e(path, mode, desc, date=MAIN):
    E[path] = (mode, desc, date)

P = "/sys/devices/system/cpu"
e("/proc/cmdline", "0444", "The kernel command line the machine was booted with, then `\\n`.")
e("/proc/cpuinfo", "0444", "One block per online CPU (`processor`, `physical id`, `core id`, `apicid`, `siblings`, `cpu cores`, ...), blocks separated by an empty line. Values follow the CPU's package/core placement; offline CPUs are absent.")
e("/proc/iomem", "0444", "The physical resource map: `start-end : name` lines (`System RAM`, `Reserved`, hot-added ranges), inclusive hex bounds. Informational (not scored by the oracle).")
e("/proc/meminfo", "0444", "System memory counters, `Label:  value kB` lines; `MemTotal` = managed pages of all online zones (changes when blocks are onlined/offlined).")
e("/proc/zoneinfo", "0444", "Per node and zone (`Node N, zone NAME`): `spanned`, `present`, `managed`, and `start_pfn:` for populated zones; DMA, DMA32, Normal, Movable, Device for each online node.")
e(f"{P}/cpuN/nodeN", "link", "Symlink to `../../node/nodeM`: the node of a registered CPU (removed with the CPU device).")
e(f"{P}/cpuN/online", "0644", "`0`/`1`: whether the CPU is online. Write: kstrtobool (`-EINVAL` on bad input); `1` onlines (`smpboot: Booting Node N Processor C APIC 0xA`), `0` offlines (`smpboot: CPU C is now offline`); already in that state = success; offlining the last online CPU = `-EBUSY`. Absent for cpu0 (x86 6.x: cpu0 is not hotpluggable; a write then fails with `EACCES`).")
for name, what in [("physical_package_id", "package (socket) id, `%d`; probed CPUs get a fake socket max+1 (patchset P6)"),
                   ("die_id", "die id within the package, `%d`"), ("core_id", "core id within the package, `%d`"),
                   ("cluster_id", "cluster id, `%d` (x86: same as the L2 domain; `-1` style values are not emulated)")]:
    e(f"{P}/cpuN/topology/{name}", "0444", f"The CPU's {what}. Only for online CPUs: offline CPUs have no `topology/` directory.")
for name, what in [("thread_siblings", "SMT siblings"), ("core_cpus", "SMT siblings (new name)"),
                   ("core_siblings", "CPUs in the same package"), ("package_cpus", "CPUs in the same package (new name)"),
                   ("die_cpus", "CPUs in the same die"), ("cluster_cpus", "CPUs in the same cluster")]:
    e(f"{P}/cpuN/topology/{name}", "0444", f"{what.capitalize()} among the online CPUs, as a hex mask `%*pb` of width nr_cpu_ids (32-bit chunks joined by `,`).")
    e(f"{P}/cpuN/topology/{name}_list", "0444", f"{what.capitalize()} among the online CPUs, as a list `%*pbl` (`0-3,8`).")
e(f"{P}/kernel_max", "0444", "NR_CPUS - 1 (`8191` on the oracle kernel), `%d`.")
e(f"{P}/offline", "0444", "possible & ~online as a list; when total_cpus > nr_cpu_ids, `,` and the extra range are appended.")
for name, what in [("online", "online CPUs"), ("possible", "possible CPUs (fixed at boot: slots of the firmware, `nr_cpus=`, `possible_cpus=`)"), ("present", "present CPUs (changes with ACPI CPU hot-add/eject and patchset release)")]:
    e(f"{P}/{name}", "0444", f"List (`%*pbl`) of {what}, then `\\n`.")
e(f"{P}/probe", "0200", "Patchset P5 (`cpu_hpe`): write a node id. Registers the lowest present CPU without a device on that node (offline); `echo 3` works, `echo -n 3` (fewer than 2 bytes) fails `-EPERM`; node >= nr_node_ids or offline: `-EPERM`. Logs `Add a cpu to node : N` (debug).", "2010-11 (patchset v3)")
e(f"{P}/release", "0200", "Patchset P5: write a CPU id. cpu0: `-EPERM`; not a registered CPU: `-EINVAL`; offlines it if online (`CPU C is now offline`), unregisters the device; the CPU stays present and can be probed again.", "2010-11 (patchset v3)")
e(f"{P}/smt/active", "0444", "`1` when any online core has more than one online thread, else `0`.")
e(f"{P}/smt/control", "0644", "SMT control state (`on`). Writes fail with `-EOPNOTSUPP` (SMT control is not emulated beyond `on`).")
M = "/sys/devices/system/memory"
e(f"{M}/auto_online_blocks", "0644", "Online type given to newly added blocks: `offline`, `online`, `online_kernel`, `online_movable` (`memhp_default_state=`). Write one of these (sysfs_streq) else `-EINVAL`.")
e(f"{M}/block_size_bytes", "0444", "Memory block size in hex without `0x` (`8000000` = 128 MiB).")
e(f"{M}/hard_offline_page", "0200", "CONFIG_MEMORY_FAILURE page poisoning; present for tools; writes fail with `-EINVAL` (memory failure injection is not emulated).")
e(f"{M}/soft_offline_page", "0200", "CONFIG_MEMORY_FAILURE soft offlining; present for tools; writes fail with `-EINVAL` (memory failure injection is not emulated).")
e(f"{M}/probe", "0200", "Physical address of one block to add (kstrtoull, base 0). Not block aligned: `-EINVAL`; overlap: `-EEXIST`; out of range: `-E2BIG`. Node from the SRAT range containing the address (else the first node). Patchset v1-v5 extend it with `addr,nid` and `physical_address=A numa_node=N` (see mem_hotplug/add_memory). Absent with the `oracle` kernel config (no CONFIG_ARCH_MEMORY_PROBE).")
e(f"{M}/memoryN/nodeN", "link", "Symlink `../../node/nodeM` to the block's node.")
e(f"{M}/memoryN/online", "0644", "`0`/`1`. Write kstrtobool: `1` onlines with the default zone, `0` offlines; already in that state = success (unlike `state`).")
e(f"{M}/memoryN/phys_device", "0444", "`0` on x86.")
e(f"{M}/memoryN/phys_index", "0444", "Block id in hex, `%08lx` (`memory16` -> `00000010`).")
e(f"{M}/memoryN/removable", "0444", "`1` (CONFIG_MEMORY_HOTREMOVE, legacy constant).")
e(f"{M}/memoryN/state", "0644", "`online`, `offline` or `going-offline`. Write `online`, `online_kernel`, `online_movable` or `offline` (else `-EINVAL`); already in the requested state: `-EINVAL`; offline failures: `-EBUSY` (unmovable pages, boot memory in use), `-EINVAL` (holes, block spanning zones); online failures: a memory notifier's errno.")
e(f"{M}/memoryN/valid_zones", "0444", "Online block: its zone (`none` if it spans more than one). Offline block: the default zone for `online` first, then the `online_kernel` zone and `Movable` when they differ (`Normal Movable`, `Movable Normal`, `DMA32 Movable`).")
N = "/sys/devices/system/node"
for name, what in [("has_cpu", "nodes with online CPUs"), ("has_generic_initiator", "nodes with generic initiators (none are emulated: empty)"),
                   ("has_memory", "nodes with online memory (N_MEMORY)"), ("has_normal_memory", "nodes with online memory in a kernel zone (N_NORMAL_MEMORY)"),
                   ("online", "online nodes"), ("possible", "possible nodes (raised by `numa=possible=`)")]:
    e(f"{N}/{name}", "0444", f"List (`%*pbl`) of {what}, then `\\n`; an empty set reads `\\n`.")
e(f"{N}/probe", "0644", "Patchset v1-v3: read the hidden nodes (N_HIDDEN) as a list (`2-5`); write a node id to hot-add that hidden node (`-EPERM` out of range `Invalid NUMA node id`; not hidden: `-EINVAL`).", "2010-05 (patchset v1)")
e(f"{N}/nodeN/compact", "0200", "Write anything to compact the node's memory; accepted and ignored.")
e(f"{N}/nodeN/cpuN", "link", "Symlink `../../cpu/cpuM` for each registered CPU of the node.")
e(f"{N}/nodeN/cpulist", "0444", "The node's online CPUs as a list (`%*pbl`); memory-only nodes read `\\n`.")
e(f"{N}/nodeN/cpumap", "0444", "The node's online CPUs as a hex mask of width nr_cpu_ids.")
e(f"{N}/nodeN/distance", "0444", "`node_distance(N, i)` for each online node i ascending, single-space separated (SLIT, or 10 local / 20 remote without one).")
e(f"{N}/nodeN/meminfo", "0444", "`Node N Label:  %8lu kB` lines in the 6.x order (MemTotal, MemFree, MemUsed, ... HugePages_*); MemTotal = the node's managed pages.")
e(f"{N}/nodeN/memoryN", "link", "Symlink `../../memory/memoryM` for each memory block of the node.")
e(f"{N}/nodeN/numastat", "0444", "`numa_hit`, `numa_miss`, `numa_foreign`, `interleave_hit`, `local_node`, `other_node` counters, one per line.")
e(f"{N}/nodeN/vmstat", "0444", "`name value` lines: zone and node statistics of the node.")
D = "/sys/kernel/debug"
e(f"{D}/mem_hotplug/add_memory", "0200", "Patchset v7: add one 128 MiB section: `addr`, `addr,nid` or `physical_address=addr numa_node=nid` (addr via memparse: `1024m`). nid outside [0, nr_node_ids): `-EPERM`; overlap with present memory: `-EEXIST`. Logs `Add a memory section to node: N.`", "2010-12 (patchset v7)")
e(f"{D}/mem_hotplug/add_node", "0200", "Patchset v6-v9: `size@start` (`128M@0x80000000`). Adds the range offline to the lowest possible-but-offline node, which comes online. size < 128 MiB or no `@`: `-EINVAL`; no free node: `-ENOMEM`; else add_memory's errno (`-EEXIST` overlap, `-EINVAL` misaligned).", "2010-11 (patchset v6)")
e(f"{D}/mem_hotplug/nodeN/add_memory", "0200", "Patchset v8+: write a physical address (v8 memparse, v9/v10 simple_strtoull) to add one 128 MiB section to node N. Created for nodes online at boot and by add_node.", "2010-12 (patchset v8)")
e(f"{D}/mem_hotplug/probe", "0200", "Patchset v6: the v7 `add_memory` grammar under its first name.", "2010-11 (patchset v6)")
e(f"{D}/node/add_node", "0200", "Patchset v5: `add_node` under `node/`.", "2010-11 (patchset v5)")
e(f"{D}/node_hotplug/add_node", "0200", "Patchset v10: `add_node` under `node_hotplug/`.", "2011-03 (patchset v10)")
S = f"{D}/sched/domains/cpuN/domainN"
for name, what in [("name", "level name: `SMT`, `CLS`, `MC`, `DIE`, `PKG`, `NODE` or `NUMA`"),
                   ("flags", "SD_* flag names in bit order, each followed by one space, then `\\n`"),
                   ("groups_flags", "flags of the domain's groups (the child domain's flags)"),
                   ("busy_factor", "`16`"), ("cache_nice_tries", "`0` at SMT, `1` at MC, `2` at NUMA levels"), ("imbalance_pct", "load imbalance threshold (`110` at SMT, `117` above)"),
                   ("max_interval", "balance interval upper bound in ms (2 x span weight)"), ("min_interval", "balance interval lower bound in ms (the span weight)"),
                   ("max_newidle_lb_cost", "newidle balance cost estimate (`0` in the emulator)")]:
    e(f"{S}/{name}", "0644" if name not in ("name", "flags", "groups_flags") else "0444",
      f"Domain M (0 = innermost after degeneration) of CPU N: {what}. Populated only with `sched_verbose`.")

paths = emulated_paths()
missing = [p for p in paths if p not in E]
assert not missing, missing
out = ["# numa_hpe ABI: every emulated file", "",
       "One entry per file or link the emulator shows (instance numbers written `N`), in the style of the",
       "kernel's Documentation/ABI. Formats and errors follow `shared/spec/interfaces.md` and",
       "`shared/spec/patchset.md`; a failed write returns the errno shown (`echo` reports",
       "`write error`). The list is checked against a booted machine's tree by",
       "`tests/test_abi_doc.py` (regenerate the path list with `python tools/abi_paths.py`).",
       "Which files exist depends on the kernel config (`numa_hpe` / `oracle`) and the patchset version.", ""]
for p in paths:
    mode, desc, date = E[p]
    out += [f"What:\t\t{p}", f"Date:\t\t{date}", "Contact:\tnuma_hpe maintainers; linux-mm@kvack.org for the kernel interface",
            f"Description:\tMode {mode}. {desc}", ""]
open("docs/ABI.md", "w").write("\n".join(out))
print(len(paths))
