"""The package's architecture (docs/architecture.md), checked on the source: who may import whom, no
import cycles, relative imports inside the package, and one home for each convention."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

# Top-level parts of the package: what each may import from the project (besides itself).
ALLOWED = {
    "inference": set(),                                  # the runtime library: numpy, onnxruntime, mediapipe
    "cli": {"inference"},                                # the shipped command line
    "addon": {"inference", "cli"},                       # Blender UI and keying (batch mode reuses the CLI)
    "dev": {"inference", "cli", "addon"},                # training, evaluation, footage: may use anything shipped
}
# Inside inference/: the layers below may not import the ones listed.
INFERENCE_LAYERS = {
    "core": {"mocap", "pipeline", "retarget"},
    "mocap": {"pipeline", "retarget"},
    "retarget": {"pipeline"},
}
BLENDER_MODULES = {"bpy", "bmesh", "bpy_extras", "mathutils", "gpu", "addon_utils"}
TORCH_MODULES = {"torch"}
# bpy may be imported only here: the add-on, and the footage renderer (development, runs inside Blender).
BPY_ALLOWED = ("addon", "dev/footage/render")


def _modules(root: Path) -> dict[str, Path]:
    """Dotted module name (relative to the package root, "" for the root) -> file, for every shipped
    and development module (tests, tools and virtual environments excluded)."""
    out = {"": root / "__init__.py"}
    for top in ALLOWED:
        for path in sorted((root / top).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(root).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out[".".join(parts)] = path
    return out


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _imports(name: str, path: Path, modules: dict[str, Path]):
    """Yield (lineno, target, external) for every import in a module: ``target`` is the project module it
    reaches (dotted, relative to the package root) or None; ``external`` the top-level name otherwise."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name.split(".") if _is_package(path) else name.split(".")[:-1]
    package = [p for p in package if p]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == "uplift_mocap":
                    yield node.lineno, alias.name.partition(".")[2], None
                else:
                    yield node.lineno, None, top
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                mod = node.module or ""
                if mod.split(".")[0] != "uplift_mocap":
                    yield node.lineno, None, mod.split(".")[0]
                    continue
                base = mod.partition(".")[2]
            else:
                up = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                base = ".".join(up + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                yield node.lineno, (sub if sub in modules else base), None


@pytest.fixture(scope="module")
def graph(repo_root):
    modules = _modules(repo_root)
    edges = {name: list(_imports(name, path, modules)) for name, path in modules.items()}
    return modules, edges


def _top(name: str) -> str:
    return name.split(".")[0]


def test_every_project_import_resolves(graph):
    modules, edges = graph
    bad = [f"{m}:{line}: {t}" for m, es in edges.items() for line, t, _ in es if t is not None and t not in modules]
    assert not bad, "imports of project modules that do not exist:\n" + "\n".join(bad)


def test_package_boundaries(graph):
    """inference imports nothing else of the project; cli only inference; addon never dev; only dev
    imports dev, so nothing shipped needs what the extension zip leaves out."""
    _, edges = graph
    bad = []
    for m, es in edges.items():
        if not m:
            continue
        for line, target, _ in es:
            if target is None or not target or _top(target) == _top(m):
                continue
            if _top(target) not in ALLOWED[_top(m)]:
                bad.append(f"{m}:{line} imports {target}")
    assert not bad, "imports across package boundaries (see docs/architecture.md):\n" + "\n".join(bad)


def test_inference_layers(graph):
    """Inside the runtime library: core <- mocap <- retarget, pipeline on top."""
    _, edges = graph
    bad = []
    for m, es in edges.items():
        parts = m.split(".")
        if parts[0] != "inference" or len(parts) < 2 or parts[1] not in INFERENCE_LAYERS:
            continue
        for line, target, _ in es:
            tparts = (target or "").split(".")
            if tparts[0] == "inference" and len(tparts) > 1 and tparts[1] in INFERENCE_LAYERS[parts[1]]:
                bad.append(f"{m}:{line} imports {target}")
    assert not bad, "\n".join(bad)


def test_bpy_and_torch_stay_where_they_belong(graph, repo_root):
    modules, edges = graph
    bad = []
    for m, es in edges.items():
        rel = modules[m].relative_to(repo_root).as_posix()
        for line, _, ext in es:
            if ext in BLENDER_MODULES and not rel.startswith(BPY_ALLOWED):
                bad.append(f"{rel}:{line}: import {ext} (bpy only in {', '.join(BPY_ALLOWED)})")
            if ext in TORCH_MODULES and _top(m) != "dev":
                bad.append(f"{rel}:{line}: import torch (training code lives in dev/)")
    assert not bad, "\n".join(bad)


def test_no_import_cycles(graph):
    """No cycle among project modules, counting imports inside functions too (a lazy import still ties
    the two modules together)."""
    _, edges = graph
    succ = {m: sorted({t for _, t, _ in es if t is not None and t != m and t in edges}) for m, es in edges.items()}
    # package __init__ files that only re-export (cli) are entered from their own submodules' imports of the
    # root; ignore edges into the package root "" (it imports nothing at import time).
    for m in succ:
        succ[m] = [t for t in succ[m] if t]
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in succ[m]:
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(succ):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_project_imports_are_relative(graph, repo_root):
    """Installed as an extension the package is ``bl_ext.<repo>.uplift_mocap``: ``import uplift_mocap...``
    inside it would reach for a different (or no) package."""
    modules, _ = graph
    bad = []
    for m, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            bad += [f"{path.relative_to(repo_root)}:{node.lineno}: {n}" for n in names
                    if n.split(".")[0] in ("uplift_mocap", *ALLOWED)]
    assert not bad, "use relative imports inside the package:\n" + "\n".join(bad)


def test_blender_version_checks_only_in_compat(repo_root):
    bad = [f"{p.relative_to(repo_root)}" for top in ("addon", "dev", "cli", "inference")
           for p in (repo_root / top).rglob("*.py")
           if "app.version" in p.read_text(encoding="utf-8") and p.name != "compat.py"]
    assert not bad, "bpy.app.version is checked outside addon/compat.py: " + ", ".join(bad)


def test_axis_matrices_live_in_frames(repo_root):
    """Change-of-basis matrices between axis conventions are defined once, in inference/core/frames.py."""
    import re

    literal = re.compile(r"np\.(array|diag)\(\[\[?1\.0, 0\.0, 0\.0\], \[0\.0, 0\.0, -?1\.0\]|np\.diag\(\[1\.0, -1\.0, -1\.0\]\)")
    bad = [f"{p.relative_to(repo_root)}" for top in ALLOWED for p in (repo_root / top).rglob("*.py")
           if p.name != "frames.py" and literal.search(p.read_text(encoding="utf-8"))]
    assert not bad, "axis matrices outside inference/core/frames.py: " + ", ".join(bad)
