#!/usr/bin/env python3
"""deploy/'s xgate-cni-install containers, run as the kubelet would run them: the command and
args from the manifests, the hostPath volumes as folders of a fake node (a primary CNI's
single-plugin .conf in its conf folder). The DaemonSet's container must chain xgate-cni, put it
back when the primary rewrites its file, stop cleanly on SIGTERM leaving it installed; the
uninstall DaemonSet's init container must restore the node's folders as they were."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

SOURCE, BUILD = Path(sys.argv[1]), Path(sys.argv[2])
PRIMARY = json.dumps({"cniVersion": "1.0.0", "name": "podnet", "type": "bridge",
                      "bridge": "cni0", "ipam": {"type": "host-local",
                                                 "subnet": "198.18.0.0/24"}}) + "\n"


def pod_spec(path):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    (ds,) = [d for d in docs if d["kind"] == "DaemonSet"]
    return ds["spec"]["template"]["spec"]


def command_line(container, spec, node):
    """The container's argv with our binaries from the build and hostPath mounts on `node`."""
    host_paths = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    mounts = {m["mountPath"]: node / host_paths[m["name"]].lstrip("/")
              for m in container.get("volumeMounts", [])}
    for path in ("/etc/cni/net.d", "/opt/cni/bin"):
        assert path in host_paths.values(), f"no hostPath volume for {path}"

    def mapped(arg):
        for mount, folder in mounts.items():
            arg = arg.replace(mount, str(folder))
        return arg.replace("/usr/local/bin/", f"{BUILD}/")
    return [mapped(a) for a in container["command"] + container.get("args", [])]


def wait_until(what, check, seconds=30):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.02)
    sys.exit(f"FAIL: {what} within {seconds} s")


def chained(conf_dir):
    for f in sorted(conf_dir.glob("*.conflist")):
        try:
            plugins = json.loads(f.read_text())["plugins"]
        except (ValueError, KeyError):
            continue
        return [p["type"] for p in plugins] == ["bridge", "xgate-cni"]
    return False


def main():
    agent_spec = pod_spec(SOURCE / "deploy/03-daemonset.yaml")
    (install,) = [c for c in agent_spec["containers"] if c["name"] == "cni-install"]
    undo_spec = pod_spec(SOURCE / "deploy/uninstall/cni-uninstall.yaml")
    (uninstall,) = undo_spec["initContainers"]
    with tempfile.TemporaryDirectory(prefix="xgate-deploy-cni-") as tmp:
        node = Path(tmp)
        conf_dir, bin_dir = node / "etc/cni/net.d", node / "opt/cni/bin"
        conf_dir.mkdir(parents=True)
        bin_dir.mkdir(parents=True)
        (conf_dir / "10-bridge.conf").write_text(PRIMARY)

        proc = subprocess.Popen(command_line(install, agent_spec, node))
        try:
            wait_until("xgate-cni chained", lambda: chained(conf_dir))
            assert (bin_dir / "xgate-cni").read_bytes() == (BUILD / "xgate-cni").read_bytes()
            # The primary CNI restarts and writes its list again, without xgate-cni.
            listed = conf_dir / "10-bridge.conflist"
            text = json.loads(listed.read_text())
            text["plugins"] = text["plugins"][:1]
            (conf_dir / ".rewrite").write_text(json.dumps(text))
            os.rename(conf_dir / ".rewrite", listed)
            wait_until("xgate-cni chained again", lambda: chained(conf_dir))
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, "cni-install did not exit 0 on SIGTERM"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert chained(conf_dir), "stopping cni-install took xgate-cni out"

        subprocess.run(command_line(uninstall, undo_spec, node), check=True, timeout=60)
        assert sorted(p.name for p in conf_dir.iterdir()) == ["10-bridge.conf"], \
            list(conf_dir.iterdir())
        assert (conf_dir / "10-bridge.conf").read_text() == PRIMARY
        assert not (bin_dir / "xgate-cni").exists()
    print("ok: deploy/ installs, keeps and uninstalls xgate-cni")


if __name__ == "__main__":
    main()
