"""Pack a folder of jars into a NiFi NAR (what nifi-nar-maven-plugin does, which needs a newer Maven).

    python3 embedded/build_nar.py --jars DIR --parent PARENT.nar [--parent ...] --out FILE.nar \
        --group G --id ID --version V

Jars already bundled by the parent NAR chain are left out, so the parent's copy is the only one.
"""
from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path

BUNDLED = "META-INF/bundled-dependencies/"


def artifact_name(jar: str) -> str:
    """`commons-io-2.18.0.jar` -> `commons-io` (the name without its version)."""
    return re.sub(r"-\d[\w.\-]*\.jar$", "", Path(jar).name)


def parent_manifest(nar: Path) -> dict[str, str]:
    with zipfile.ZipFile(nar) as archive:
        text = archive.read("META-INF/MANIFEST.MF").decode()
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def bundled_artifacts(nar: Path) -> set[str]:
    with zipfile.ZipFile(nar) as archive:
        return {artifact_name(n) for n in archive.namelist() if n.startswith(BUNDLED) and n.endswith(".jar")}


def build(jars: Path, parents: list[Path], out: Path, group: str, nar_id: str, version: str) -> int:
    provided = set().union(*(bundled_artifacts(p) for p in parents)) if parents else set()
    direct = parent_manifest(parents[0]) if parents else {}
    manifest = [
        "Manifest-Version: 1.0", "Created-By: flightdelay embedded/build_nar.py",
        f"Nar-Id: {nar_id}", f"Nar-Group: {group}", f"Nar-Version: {version}",
    ]
    if direct:
        manifest += [f"Nar-Dependency-Group: {direct['Nar-Group']}", f"Nar-Dependency-Id: {direct['Nar-Id']}",
                     f"Nar-Dependency-Version: {direct['Nar-Version']}"]
    manifest.append("Clone-During-Instance-Class-Loading: false")
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as nar:
        # NiFi's unpacker creates folders only from their own entries, so list them first.
        nar.writestr("META-INF/", "")
        nar.writestr("META-INF/MANIFEST.MF", "\r\n".join(manifest) + "\r\n\r\n")
        nar.writestr(BUNDLED, "")
        for jar in sorted(jars.glob("*.jar")):
            if artifact_name(jar.name) in provided:
                continue
            nar.write(jar, BUNDLED + jar.name)
            count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jars", type=Path, required=True)
    parser.add_argument("--parent", type=Path, action="append", default=[],
                        help="the direct parent NAR first, then its ancestors")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--id", required=True)
    parser.add_argument("--version", required=True)
    args = parser.parse_args()
    count = build(args.jars, args.parent, args.out, args.group, args.id, args.version)
    print(f"{args.out.name}: {count} jars bundled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
