"""`make package`: one deployable zip per function, for Terraform to upload.

Each zip holds the function's main.py, the pinned runtime requirements (minus what Cloud
Functions provides) and the customerio_gcp package vendored as source, so the deployed code is
exactly what the tests ran. Timestamps are fixed, so an unchanged function gives an unchanged
zip (and Terraform, keying objects on the content hash, does not redeploy it).
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ["identify", "track", "transactional", "webhook_ingest"]
EPOCH = (1980, 1, 1, 0, 0, 0)


def add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, EPOCH)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def requirements() -> bytes:
    lines = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    return ("\n".join(lines) + "\n").encode()


def package(function: str, out_dir: Path) -> Path:
    target = out_dir / f"{function}.zip"
    package_root = ROOT / "shared" / "src"
    with zipfile.ZipFile(target, "w") as archive:
        add(archive, "main.py", (ROOT / "functions" / function / "main.py").read_bytes())
        add(archive, "requirements.txt", requirements())
        for path in sorted((package_root / "customerio_gcp").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc",):
                add(archive, str(path.relative_to(package_root)), path.read_bytes())
    return target


def main(argv: list[str]) -> int:
    out_dir = (Path(argv[0]) if argv else ROOT / "build" / "functions").resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for function in FUNCTIONS:
        print(f"packaged {package(function, out_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
