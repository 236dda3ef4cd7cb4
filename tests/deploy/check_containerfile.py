#!/usr/bin/env python3
"""Checks deploy/Containerfile against this Debian 12 machine, where no image can be built (no
container daemon, no registry): the build stage installs every -dev package and build tool that
tools/setup installs; each binary the image ships finds every shared library it links in the
runtime stage's packages or their dependencies (as apt would install them); every package named
is a Debian package of this release; the XGATE_VERSION build argument reaches CMake and the
image's version label. Prints each problem as Containerfile:LINE: message.

Usage: check_containerfile.py REPO_ROOT BUILD_DIR
"""
import re
import subprocess
import sys
from pathlib import Path

BUILD_TOOLS = {"build-essential", "cmake", "ninja-build", "pkg-config", "clang", "llvm",
               "bpftool", "protobuf-compiler", "protobuf-compiler-grpc"}


def instructions(containerfile):
    """(line, words, text) per instruction, one continued over several lines joined."""
    lines = containerfile.read_text().splitlines()
    i = 0
    while i < len(lines):
        start = i
        text = lines[i]
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1] + " " + lines[i]
        i += 1
        words = text.split()
        if words and not words[0].startswith("#"):
            yield start + 1, words, text


def stages(containerfile):
    """[(first line, [(package, line)], [copied build paths])] per FROM."""
    out = []
    for line, words, text in instructions(containerfile):
        if words[0] == "FROM":
            out.append((line, [], []))
        elif words[0] == "RUN" and "install" in words:
            install = text.split("install", 1)[1].split("&&")[0]
            out[-1][1].extend((w, line) for w in install.split() if not w.startswith("-"))
        elif words[0] == "COPY" and "--from=build" in words:
            out[-1][2].extend(w for w in words[2:-1])
    return out


def version_problems(cf):
    """XGATE_VERSION: a build argument before the first FROM, declared in every stage, passed to
    CMake (what --version prints) and the runtime image's org.opencontainers.image.version."""
    uses = re.compile(r"\$\{?XGATE_VERSION\}?")
    stage = -1
    global_arg, declared, to_cmake, label = False, set(), False, False
    for line, words, text in instructions(cf):
        if words[0] == "FROM":
            stage += 1
        elif words[0] == "ARG" and words[1].split("=")[0] == "XGATE_VERSION":
            if stage < 0:
                global_arg = True
            else:
                declared.add(stage)
        elif words[0] == "RUN" and "cmake" in words and "-S" in words:
            to_cmake = to_cmake or re.search(r"-DXGATE_VERSION=" + uses.pattern, text) is not None
        elif words[0] == "LABEL":
            label = label or re.search(r"org\.opencontainers\.image\.version=\"?" + uses.pattern,
                              text) is not None
    problems = []
    if not global_arg:
        problems.append(f"{cf}:1: no ARG XGATE_VERSION before the first FROM")
    missing = sorted(set(range(stage + 1)) - declared)
    if missing:
        problems.append(f"{cf}:1: stage(s) {missing} do not declare ARG XGATE_VERSION (a "
                        "global ARG is empty in a stage that does not)")
    if not to_cmake:
        problems.append(f"{cf}:1: the build stage's cmake -S does not get "
                        "-DXGATE_VERSION=$XGATE_VERSION (the binaries would say 'unknown')")
    if not label:
        problems.append(f"{cf}:1: the runtime stage has no LABEL "
                        "org.opencontainers.image.version=\"$XGATE_VERSION\"")
    return problems


def setup_packages(setup):
    text = setup.read_text()
    block = re.search(r"PACKAGES=\((.*?)\)", text, re.S).group(1)
    return set(block.split())


def installed():
    """package -> [[alternatives]] of Depends and Pre-Depends, for installed packages."""
    fmt = "${Package}\t${Status}\t${Pre-Depends}, ${Depends}\n"
    res = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True, text=True,
                         check=True)
    deps = {}
    for row in res.stdout.splitlines():
        name, status, depends = row.split("\t")
        if "installed" not in status.split():
            continue
        groups = []
        for group in depends.split(","):
            alts = [re.sub(r"[ (].*|:any", "", a.strip()) for a in group.split("|")]
            alts = [a for a in alts if a]
            if alts:
                groups.append(alts)
        deps[name] = groups
    return deps


def closure(roots, deps):
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in seen or p not in deps:
            continue
        seen.add(p)
        for alts in deps[p]:
            todo.extend(a for a in alts if a in deps)
    return seen


def library_packages(binaries):
    """soname -> (binaries that link it, packages that hold it): one dpkg -S for them all."""
    users = {}
    for binary in binaries:
        res = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True)
        for line in res.stdout.splitlines():
            m = re.match(r"\s*(\S+) => (\S+)", line)
            if m:
                users.setdefault(m.group(1), set()).add(binary.name)
    owners = {lib: set() for lib in users}
    res = subprocess.run(["dpkg", "-S"] + [f"*/{lib}" for lib in users], capture_output=True,
                         text=True)
    for line in res.stdout.splitlines():
        packages, path = line.split(": ", 1)
        lib = Path(path).name
        if lib in owners:
            owners[lib].update(p.split(":")[0] for p in packages.split(", ")
                               if not p.endswith("-i386") and not p.startswith("lib32"))
    return {lib: (users[lib], owners[lib]) for lib in users}


def main():
    root, build = Path(sys.argv[1]), Path(sys.argv[2])
    cf = root / "deploy" / "Containerfile"
    problems = version_problems(cf)
    found = stages(cf)
    if len(found) < 2:
        print(f"{cf}:1: want a build stage and a runtime stage, found {len(found)} FROM")
        return 1
    (build_line, build_pkgs, _), (run_line, run_pkgs, shipped) = found[0], found[-1]
    deps = installed()
    named = {p for p, _ in build_pkgs}
    for p, line in build_pkgs + run_pkgs:
        if p not in deps:
            problems.append(f"{cf}:{line}: {p}: not a package installed here (misspelt, or "
                            "not in Debian 12?)")
    wanted = {p for p in setup_packages(root / "tools" / "setup")
              if p.endswith("-dev") or p in BUILD_TOOLS}
    for p in sorted(wanted - named):
        problems.append(f"{cf}:{build_line}: build stage: tools/setup installs {p}, the build "
                        "stage does not")
    runtime = closure({p for p, _ in run_pkgs} | {"libc6", "libgcc-s1", "libstdc++6", "apt"},
                      deps)
    binaries = []
    for path in shipped:
        binary = build / Path(path).name
        if binary.exists():
            binaries.append(binary)
        else:
            problems.append(f"{cf}:{run_line}: {binary}: not built")
    for lib, (users, owners) in sorted(library_packages(binaries).items()):
        if owners and not owners & runtime:
            problems.append(f"{cf}:{run_line}: runtime stage: {', '.join(sorted(users))} "
                            f"need{'s' if len(users) == 1 else ''} {lib} "
                            f"({' or '.join(sorted(owners))}), which no package of the stage "
                            "brings")
    for p in problems:
        print(p)
    print(f"{len(shipped)} binaries, {len(build_pkgs)} build and {len(run_pkgs)} runtime "
          f"packages checked: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
