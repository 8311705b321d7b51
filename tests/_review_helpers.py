import re

import pytest

from numa_hpe import Firmware, Machine

SYS = "/sys/devices/system"


def boot(cmdline="nokaslr", **fw):
    return Machine(Firmware.qemu(**fw), cmdline, kernel_config="oracle")


def grep(m, pattern):
    return [l for l in m.dmesg() if re.search(pattern, l)]


def zone(m, nid, name):
    for z in m.zones():
        if z.node == nid and z.name == name:
            return z
    return None


