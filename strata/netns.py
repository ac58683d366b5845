"""Network namespaces for a local cluster, so a test can cut one process off the network.

With any process placed in a namespace, the cluster runs on a private bridge instead of
loopback: the bridge (in the root namespace) has ``10.213.<n>.1``, every process outside a
namespace listens on that address, and each namespaced process listens and advertises on its own
``10.213.<n>.<i>`` behind a veth pair whose other end is on the bridge. Cutting a process off is
``ip link set <its veth end> down``; everything else on the bridge, the test included, then loses
it, and it loses everyone. Nothing leaves the machine: the bridge has no uplink and no route out.

Needs root (``ip netns add``). The layout is plain data kept in the cluster's state file, so
``strata cluster down`` from another command still removes it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from typing import Any

SUBNET_PREFIX = "10.213"  # 10.213.<n>.0/24, one per running cluster with namespaces
_MAX_NETWORKS = 250


class NetworkError(RuntimeError):
    """Namespaces could not be made (not root, ``ip`` missing, ...): the message says why."""


def namespaces_supported() -> str | None:
    """None when namespaces can be made here; else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    try:
        subprocess.run(["ip", "-V"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return "the ip command (iproute2) is not installed"
    return None


def _ip(*args: str, namespace: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["ip", *(["-n", namespace] if namespace else []), *args]
    result = subprocess.run(argv, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise NetworkError(f"{' '.join(argv)}: {result.stderr.strip()}")
    return result


@dataclass
class Placement:
    """Where one namespaced process lives."""

    namespace: str
    veth: str  # the end on the bridge, in the root namespace: the one a cut takes down
    address: str


@dataclass
class LocalNetwork:
    index: int
    bridge: str
    host_address: str  # the bridge's address: where every process outside a namespace listens
    placements: dict[str, Placement] = field(default_factory=dict)

    @classmethod
    def create(cls, names: list[str]) -> LocalNetwork:
        """A bridge, then a namespace with a veth pair and an address for each of ``names``."""
        why_not = namespaces_supported()
        if why_not:
            raise NetworkError(why_not)
        index = _free_index()
        network = cls(index, f"strbr{index}", f"{SUBNET_PREFIX}.{index}.1")
        try:
            # Bridged frames skip the host firewall: a FORWARD policy elsewhere must not drop them.
            _ip(
                "link", "add", network.bridge, "type", "bridge",
                "nf_call_iptables", "0", "nf_call_ip6tables", "0", "nf_call_arptables", "0",
            )  # fmt: skip
            network._allow_forwarding(True)
            _ip("addr", "add", f"{network.host_address}/24", "dev", network.bridge)
            _ip("link", "set", network.bridge, "up")
            for position, name in enumerate(names, start=2):
                network._add(name, position)
        except BaseException:
            network.destroy()
            raise
        return network

    def _add(self, name: str, position: int) -> None:
        placement = Placement(f"strata{self.index}-{name}", f"stv{self.index}-{position}", "")
        placement.address = f"{SUBNET_PREFIX}.{self.index}.{position}"
        self.placements[name] = placement
        inner = f"stn{self.index}-{position}"
        _ip("netns", "add", placement.namespace)
        _ip("link", "add", placement.veth, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", placement.namespace)
        _ip("link", "set", placement.veth, "master", self.bridge)
        _ip("link", "set", placement.veth, "up")
        _ip("link", "set", "lo", "up", namespace=placement.namespace)
        _ip("addr", "add", f"{placement.address}/24", "dev", inner, namespace=placement.namespace)
        _ip("link", "set", inner, "up", namespace=placement.namespace)

    def host_of(self, name: str) -> str:
        """The address process ``name`` listens on."""
        placement = self.placements.get(name)
        return placement.address if placement else self.host_address

    def exec_prefix(self, name: str) -> list[str]:
        """What runs a command inside the process's namespace (nothing when it has none)."""
        placement = self.placements.get(name)
        return ["ip", "netns", "exec", placement.namespace] if placement else []

    def cut(self, name: str) -> None:
        """Cuts the process's link: it can reach nobody and nobody can reach it."""
        _ip("link", "set", self._placement(name).veth, "down")

    def restore(self, name: str) -> None:
        _ip("link", "set", self._placement(name).veth, "up")

    def is_cut(self, name: str) -> bool:
        shown = _ip("link", "show", self._placement(name).veth).stdout
        return "state DOWN" in shown or ",UP" not in shown.split(">")[0]

    def _placement(self, name: str) -> Placement:
        placement = self.placements.get(name)
        if placement is None:
            raise NetworkError(f"{name} runs in no namespace of its own (ClusterSpec.namespaced)")
        return placement

    def destroy(self) -> None:
        """Removes every namespace (their veth pairs go with them) and the bridge; idempotent."""
        for placement in self.placements.values():
            _ip("link", "del", placement.veth, check=False)
            _ip("netns", "del", placement.namespace, check=False)
        _ip("link", "del", self.bridge, check=False)
        self._allow_forwarding(False)

    def _allow_forwarding(self, allow: bool) -> None:
        """Lets frames between the bridge's ports through the host's FORWARD chain.

        The bridge asks not to be filtered, but ``net.bridge.bridge-nf-call-iptables=1`` (which
        dockerd sets, together with a FORWARD policy of DROP) filters every bridge regardless.
        """
        if shutil.which("iptables") is None:
            return  # no firewall tool, so no rule can be dropping the frames
        rule = ["FORWARD", "-i", self.bridge, "-o", self.bridge, "-j", "ACCEPT"]
        present = subprocess.run(["iptables", "-C", *rule], capture_output=True).returncode == 0
        if allow and not present:
            subprocess.run(["iptables", "-I", *rule], capture_output=True, check=False)
        elif not allow and present:
            subprocess.run(["iptables", "-D", *rule], capture_output=True, check=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LocalNetwork:
        placements = {name: Placement(**value) for name, value in raw.get("placements", {}).items()}
        return cls(raw["index"], raw["bridge"], raw["host_address"], placements)


def _free_index() -> int:
    for index in range(_MAX_NETWORKS):
        if _ip("link", "show", f"strbr{index}", check=False).returncode != 0:
            return index
    raise NetworkError(f"no free network: {_MAX_NETWORKS} bridges strbr<n> exist")
