//! Replays the CPU steps of the real-kernel oracle cases (shared/oracle/cases) through
//! cpu_topology + sched_domain and compares sibling masks, debugfs domain files and the
//! sched / `Converting physical` dmesg lines with what Linux 6.1 printed.

use std::collections::BTreeMap;

use numa_hpe_core::bitmap::Bitmap;
use numa_hpe_core::cpu_topology::{CpuIds, LogicalMaps, SiblingMaps};
use numa_hpe_core::sched_domain::{build_sched_domains, rebuild_lines, SchedDomains, SchedInput};
use serde_json::Value;

fn case_dir(name: &str) -> String {
    format!(
        "{}/../../../shared/oracle/cases/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn load(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn u(v: &Value) -> u32 {
    v.as_u64().unwrap_or(0) as u32
}

/// The emulated machine: logical CPUs, their ids, and what is online.
struct Machine {
    n: usize,
    ids: Vec<CpuIds>,
    online: Bitmap,
    sib: SiblingMaps,
    logical: LogicalMaps,
    dist: Vec<Vec<u32>>,
    pxm_of_node: BTreeMap<u32, usize>,
    doms: SchedDomains,
    sched_lines: Vec<String>,
    cpus_lines: Vec<String>,
}

impl Machine {
    fn ids_of(fw: &Value, cpu: &Value) -> CpuIds {
        let cpus = fw["cpus"].as_array().unwrap();
        let threads = cpus.iter().map(|c| u(&c["thread"])).max().unwrap() + 1;
        let cores = cpus.iter().map(|c| u(&c["core"])).max().unwrap() + 1;
        let apic_id = u(&cpu["apic_id"]);
        let (llc_id, l2c_id) = CpuIds::qemu_cache_ids(apic_id, threads, cores);
        CpuIds {
            apic_id,
            package: u(&cpu["package"]),
            die: u(&cpu["die"]),
            core: u(&cpu["core"]),
            thread: u(&cpu["thread"]),
            llc_id,
            l2c_id,
            node: u(&cpu["node"]),
            fake_socket: false,
        }
    }

    fn distance(&self, a: usize, b: usize) -> u32 {
        match (
            self.pxm_of_node.get(&(a as u32)),
            self.pxm_of_node.get(&(b as u32)),
        ) {
            (Some(&pa), Some(&pb)) if !self.dist.is_empty() => self.dist[pa][pb],
            _ => {
                if a == b {
                    10
                } else {
                    20
                }
            }
        }
    }

    fn build(&self) -> SchedDomains {
        let cpu_node: Vec<u32> = self.ids.iter().map(|i| i.node).collect();
        let nodes = Bitmap::from_bits(1024, self.online.iter().map(|c| cpu_node[c] as usize));
        let dist = |a: usize, b: usize| self.distance(a, b);
        build_sched_domains(&SchedInput {
            nr_cpu_ids: self.n,
            active: &self.online,
            siblings: &self.sib,
            cpu_node: &cpu_node,
            cpu_nodes: &nodes,
            distance: &dist,
        })
    }

    fn boot(case: &Value) -> Machine {
        let fw = &case["firmware"];
        let n = fw["nr_cpus_possible"].as_u64().unwrap() as usize;
        let enabled: Vec<&Value> = fw["cpus"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["enabled"] == true)
            .collect();
        let maxcpus = case["cmdline"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .find_map(|w| w.strip_prefix("maxcpus="))
            .map_or(usize::MAX, |v| v.parse().unwrap());
        let mut pxm_of_node = BTreeMap::new();
        for e in fw["cpus"]
            .as_array()
            .unwrap()
            .iter()
            .chain(fw["memory_affinity"].as_array().unwrap())
        {
            if let (Some(nd), Some(p)) = (e["node"].as_u64(), e["pxm"].as_u64()) {
                pxm_of_node.entry(nd as u32).or_insert(p as usize);
            }
        }
        let dist = fw["distances"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| r.as_array().unwrap().iter().map(u).collect())
                    .collect()
            })
            .unwrap_or_default();
        let mut m = Machine {
            n,
            ids: vec![CpuIds::default(); n],
            online: Bitmap::new(n),
            sib: SiblingMaps::new(n),
            logical: LogicalMaps::default(),
            dist,
            pxm_of_node,
            doms: SchedDomains::default(),
            sched_lines: Vec::new(),
            cpus_lines: Vec::new(),
        };
        for (i, c) in enabled.iter().enumerate() {
            m.ids[i] = Machine::ids_of(fw, c);
        }
        for cpu in 0..enabled.len().min(maxcpus) {
            m.bring_up(cpu);
        }
        m.sib.smp_cpus_done();
        m.doms = m.build();
        m.sched_lines = m.doms.attach_lines();
        m
    }

    fn bring_up(&mut self, cpu: usize) {
        self.logical
            .update(cpu, &self.ids[cpu], &mut self.cpus_lines);
        let mut warn = Vec::new();
        self.sib
            .set_cpu_sibling_map(cpu, &self.ids, &self.online, &mut warn);
        self.online.set(cpu);
    }

    fn set_online(&mut self, cpu: usize, on: bool) {
        if self.online.test(cpu) == on {
            return;
        }
        let old = self.online.clone();
        if on {
            self.bring_up(cpu);
        } else {
            self.sib.remove_siblinginfo(cpu);
            self.online.clear(cpu);
        }
        // The machine rebuilds in place after one CPU changed
        // (SchedDomains::rebuild_after_cpu_change); it must equal a full build.
        let full = self.build();
        let mut doms = std::mem::take(&mut self.doms);
        let cpu_node: Vec<u32> = self.ids.iter().map(|i| i.node).collect();
        let nodes = Bitmap::from_bits(1024, self.online.iter().map(|c| cpu_node[c] as usize));
        let dist = |a: usize, b: usize| self.distance(a, b);
        doms.rebuild_after_cpu_change(&SchedInput {
            nr_cpu_ids: self.n,
            active: &self.online,
            siblings: &self.sib,
            cpu_node: &cpu_node,
            cpu_nodes: &nodes,
            distance: &dist,
        });
        assert_eq!(doms, full);
        self.doms = doms;
        self.sched_lines.extend(rebuild_lines(&old, &self.doms));
    }

    /// Our value of an exact-rule file, if it is one we model.
    fn file(&self, path: &str) -> Option<String> {
        let rest = path
            .strip_prefix("/sys/devices/system/cpu/cpu")
            .or(path.strip_prefix("/sys/kernel/debug/sched/domains/cpu"))?;
        let (num, tail) = rest.split_once('/')?;
        let cpu: usize = num.parse().ok()?;
        if let Some(attr) = tail.strip_prefix("topology/") {
            let i = &self.ids[cpu];
            let (map, list) = match attr.strip_suffix("_list") {
                Some(a) => (a, true),
                None => (attr, false),
            };
            let m = match map {
                "thread_siblings" | "core_cpus" => &self.sib.smt[cpu],
                "core_siblings" | "package_cpus" => &self.sib.package[cpu],
                "die_cpus" => &self.sib.die[cpu],
                "cluster_cpus" => &self.sib.cluster[cpu],
                "physical_package_id" => return Some(format!("{}\n", i.package)),
                "die_id" => return Some(format!("{}\n", i.die)),
                "core_id" => return Some(format!("{}\n", i.core)),
                "cluster_id" => return Some(format!("{}\n", i.l2c_id)),
                _ => return None,
            };
            return Some(format!(
                "{}\n",
                if list {
                    m.format_list()
                } else {
                    m.format_mask()
                }
            ));
        }
        let (dom, attr) = tail.strip_prefix("domain")?.split_once('/')?;
        let dom: usize = dom.parse().ok()?;
        self.doms
            .debugfs_files(cpu)
            .into_iter()
            .find(|(d, a, _)| *d == dom && *a == attr)
            .map(|(_, _, c)| c)
    }

    fn debugfs_paths(&self) -> Vec<String> {
        let mut v = Vec::new();
        for cpu in self.online.iter() {
            for (d, a, _) in self.doms.debugfs_files(cpu) {
                v.push(format!(
                    "/sys/kernel/debug/sched/domains/cpu{cpu}/domain{d}/{a}"
                ));
            }
        }
        v
    }
}

fn is_sched_line(l: &str) -> bool {
    (l.starts_with("CPU") && l.contains(" attaching "))
        || l.starts_with(' ')
            && (l.trim_start().starts_with("domain-") || l.trim_start().starts_with("groups:"))
        || l.starts_with("root domain span: ")
        || l.starts_with("rd ") && l.ends_with("asymmetric capacities")
}

/// Compares one snapshot; returns the number of checked fields.
fn check_snapshot(m: &Machine, exp: &Value, label: &str, verbose: bool) -> usize {
    let dmesg: Vec<&str> = exp["dmesg"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let sched: Vec<&str> = dmesg.iter().copied().filter(|l| is_sched_line(l)).collect();
    let want_sched: Vec<&str> = if verbose { sched } else { Vec::new() };
    let ours: Vec<&str> = if verbose {
        m.sched_lines.iter().map(String::as_str).collect()
    } else {
        Vec::new()
    };
    assert_eq!(ours, want_sched, "{label}: sched dmesg");
    let conv: Vec<&str> = dmesg
        .iter()
        .copied()
        .filter(|l| l.starts_with("smpboot: CPU ") && l.contains(" Converting physical "))
        .collect();
    assert_eq!(m.cpus_lines, conv, "{label}: Converting lines");
    let files = exp["files"].as_object().unwrap();
    let mut checked = 0;
    for (path, want) in files {
        let topo = path.contains("/topology/") && path.starts_with("/sys/devices/system/cpu/cpu");
        let dbg = path.starts_with("/sys/kernel/debug/sched/domains/")
            && !path.ends_with("max_newidle_lb_cost");
        if !(topo || dbg) {
            continue;
        }
        let Some(ours) = m.file(path) else {
            if dbg || !path.ends_with("_id") {
                panic!("{label}: {path}: not produced");
            }
            continue;
        };
        assert_eq!(ours, want.as_str().unwrap(), "{label}: {path}");
        checked += 1;
    }
    for p in m.debugfs_paths() {
        assert!(files.contains_key(&p), "{label}: extra {p}");
    }
    checked + conv.len() + want_sched_len(exp, verbose)
}

fn want_sched_len(exp: &Value, verbose: bool) -> usize {
    if !verbose {
        return 0;
    }
    exp["dmesg"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| is_sched_line(l.as_str().unwrap()))
        .count()
}

fn replay(name: &str) {
    let dir = case_dir(name);
    let case = load(&format!("{dir}/case.json"));
    let verbose = case["cmdline"].as_str().unwrap().contains("sched_verbose");
    let fw = case["firmware"].clone();
    let mut m = Machine::boot(&case);
    let mut total = 0;
    for step in case["steps"].as_array().unwrap() {
        if let Some(label) = step["snapshot"].as_str() {
            let exp = load(&format!("{dir}/expected/{label}.json"));
            total += check_snapshot(&m, &exp, &format!("{name}/{label}"), verbose);
        } else if let Some(path) = step["write"].as_str() {
            let cpu = path
                .strip_prefix("/sys/devices/system/cpu/cpu")
                .and_then(|r| r.strip_suffix("/online"));
            if let (Some(cpu), Some("ok")) = (
                cpu.and_then(|c| c.parse::<usize>().ok()),
                step["expect"].as_str(),
            ) {
                m.set_online(cpu, step["data"].as_str().unwrap().starts_with('1'));
            }
        } else if step["firmware"] == "add_cpu" && step["expect"] == "ok" {
            let apic = u(&step["apic_id"]);
            let slot = fw["cpus"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| u(&c["apic_id"]) == apic)
                .unwrap();
            let cpu = step["expect_cpu"].as_u64().unwrap() as usize;
            m.ids[cpu] = Machine::ids_of(&fw, slot);
        } else if step["firmware"] == "remove_cpu" && step["expect"] == "ok" {
            let apic = u(&step["apic_id"]);
            if let Some(cpu) = (0..m.n).find(|&c| m.ids[c].apic_id == apic && m.online.test(c)) {
                m.set_online(cpu, false);
            }
        }
    }
    eprintln!("{name}: {total} fields compared");
    assert!(total > 0, "{name}: nothing compared");
}

#[test]
fn oracle_numa4() {
    replay("numa4");
}

#[test]
fn oracle_big() {
    replay("big");
}

#[test]
fn oracle_uma() {
    replay("uma");
}

#[test]
fn oracle_cpuhp() {
    replay("cpuhp");
}

#[test]
fn oracle_cpuhp_maxcpus() {
    replay("cpuhp_maxcpus");
}

#[test]
fn oracle_cpuhp_unplug() {
    replay("cpuhp_unplug");
}

#[test]
fn oracle_dimm() {
    replay("dimm");
}
