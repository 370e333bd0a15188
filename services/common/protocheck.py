"""Fail when the committed gRPC stubs differ from what `make proto` generates now."""

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto"


def main() -> int:
    protos = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO}", f"--python_out={out}",
             f"--pyi_out={out}", f"--grpc_python_out={out}", *protos],
            check=True, cwd=PROTO,
        )
        generated = {p.relative_to(out): p.read_bytes() for p in Path(out).rglob("*.py*")}
    stale = [str(rel) for rel, data in sorted(generated.items())
             if not (PROTO / rel).exists() or (PROTO / rel).read_bytes() != data]
    if stale:
        print("gRPC stubs are stale; run `make proto` and commit:\n  " + "\n  ".join(stale))
        return 1
    print(f"gRPC stubs up to date ({len(generated)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
