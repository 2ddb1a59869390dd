"""Reading cloudbuild.yaml and checking each step's commands against what its image provides
(terraform/checks/cloudbuild-images.json), installs earlier in the same step included.

A small model of a shell script, enough for the steps we write: commands are split on newlines,
`;`, `&&`, `||`, `|` and `$(`; the first word of each is the command. It knows what `apt-get
install`, `python3 -m venv DIR`, `DIR/bin/pip install PKG` and `uv python install X.Y` add.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

from tests.terraform.harness import REPO, TOOLS

MANIFEST = REPO / "terraform/checks/cloudbuild-images.json"
BUILTINS = {
    "if", "then", "else", "elif", "fi", "for", "do", "done", "case", "esac", "while", "[", "]", "exit", "export",
    "cd", "echo", "set", "true", "false", "local", "return", "{", "}", "!", "[[", "]]",
}  # fmt: skip


def load_yaml(path: Path) -> dict[str, Any]:
    """PyYAML lives in checkov's venv (.tools/checkov), not in the project's: parse it there."""
    python = TOOLS / "checkov" / "bin" / "python"
    if not python.exists():
        raise RuntimeError("checkov's venv (with PyYAML) is not installed: run `make install`")
    code = "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))"
    result = subprocess.run([str(python), "-c", code, str(path)], capture_output=True, text=True, check=True)
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def substitute(text: str, values: dict[str, str]) -> str:
    text = text.replace("$$", "\0")
    text = re.sub(
        r"\$\{(_[A-Z0-9_]+)\}|\$(_[A-Z0-9_]+)", lambda m: values.get(m.group(1) or m.group(2), m.group(0)), text
    )
    return text.replace("\0", "$")


def commands(script: str) -> list[list[str]]:
    script = re.sub(r"#[^\n]*", "", script)
    found = []
    for piece in re.split(r"\n|;|&&|\|\||\||\$\(|\)", script):
        piece = piece.strip().rstrip("\\").strip()
        if not piece:
            continue
        try:
            words = shlex.split(piece)
        except ValueError:
            words = piece.split()
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            words = words[1:]  # VAR=value before a command, or a plain assignment
        kept: list[str] = []
        skip = False
        for word in words:  # drop redirections: "> /dev/null", "2>&1", ">file"
            if skip:
                skip = False
            elif re.fullmatch(r"\d?>{1,2}&?\d*|<", word):
                skip = not re.fullmatch(r"\d?>&\d", word)
            elif not re.match(r"\d?[<>]", word):
                kept.append(word)
        words = kept
        if words and re.search(r"[A-Za-z0-9]", words[0]):  # not a stray quote left by splitting at $( or )
            found.append(words)
    return found


def check_step(step: dict[str, Any], substitutions: dict[str, str], manifest: dict[str, Any]) -> list[str]:
    image = substitute(step["name"], substitutions)
    where = f"step {step.get('id', image)}"
    spec = manifest["images"].get(image)
    if spec is None:
        return [f"{where}: image {image} is not in {MANIFEST.name}"]
    available = set(spec["provides"])
    problems = []
    entrypoint = step.get("entrypoint")
    if entrypoint and entrypoint not in available:
        problems.append(f"{where}: entrypoint {entrypoint} is not in {image}")
    args = [substitute(a, substitutions) for a in step.get("args", [])]
    if not entrypoint:
        problems.append(f"{where}: no entrypoint; the checks read shell scripts only")
        return problems
    script = args[-1] if args and args[0].startswith("-") else " ".join(args)
    for words in commands(script):
        command, rest = words[0], words[1:]
        if command in BUILTINS:
            continue
        if command not in available:
            problems.append(f"{where}: {command} is not in {image} (nor installed earlier in the step)")
            continue
        if command == "apt-get" and rest[:1] == ["install"]:
            for package in [w for w in rest[1:] if not w.startswith("-")]:
                if package not in manifest["apt"]:
                    problems.append(f"{where}: apt package {package} is not in the manifest")
                available.update(manifest["apt"].get(package, []))
        elif re.fullmatch(r"python3(\.\d+)?", command) and rest[:1] == ["-m"]:
            module = f"{command} -m {rest[1]}"
            if module not in available and f"python3 -m {rest[1]}" not in available:
                problems.append(f"{where}: {module} is not available in {image}")
            elif rest[1] == "venv":
                folder = rest[-1]
                available.update({f"{folder}/bin/python", f"{folder}/bin/pip"})
        elif command.endswith("/bin/pip") and rest[:1] == ["install"]:
            for package in [w for w in rest[1:] if not w.startswith("-")]:
                name = re.split(r"[=<>]", package)[0]
                available.add(f"{command.rsplit('/', 1)[0]}/{name}")
        elif command.endswith("/uv") and rest[:2] == ["python", "install"]:
            available.update(f"python{version}" for version in rest[2:])
        elif command in ("bash", "sh") and rest and not rest[0].startswith("-"):
            for needed in manifest["scripts"].get(rest[0], []):
                if needed not in available:
                    problems.append(f"{where}: {rest[0]} needs {needed}, which {image} lacks here")
    return problems


def check(path: Path = REPO / "cloudbuild.yaml") -> list[str]:
    build = load_yaml(path)
    manifest = json.loads(MANIFEST.read_text())
    substitutions = {k: str(v) for k, v in build.get("substitutions", {}).items()}
    problems = []
    for step in build["steps"]:
        problems += check_step(step, substitutions, manifest)
    return problems
