"""Coverage-guided fuzzing with atheris (optional: ``pip install atheris``) of what a client or
an operator can feed wahost; each target's contract is that only its documented error escapes.

* ``decoder``: a webhook body through ``wahost.units.split`` and ``wahost.models.decode_unit``
  — only ``DecodeError``; every field and property of a decoded update can be read.
* ``flows``: a Flows request body through ``wahost_flows.crypto.decrypt_request`` — only
  ``FlowDecryptionError``; or (first byte odd) the rest as the plaintext of a correctly
  encrypted request, decrypted and read by ``wahost_flows.models.decode_request`` — only
  ``FlowRequestError``.
* ``config``: text through ``wahost.config.parse_config`` — only ``ConfigError``.

Corpora are seeded from the Cloud API fixtures (``/work/shared/fixtures/cloudapi`` when
present, ``wahost/testing/fixtures``) and the TOML examples in ``docs/``. Each target runs in
its own subprocess (atheris ends the process when done), for ``--seconds`` each:

    python -m bench.reliability fuzz --seconds 60
    python -m bench.reliability.fuzz --seconds 60 decoder config
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.reliability import Row

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_DIRS = [Path("/work/shared/fixtures/cloudapi"), ROOT / "wahost" / "testing" / "fixtures"]
VECTORS = "flow_crypto_vectors_generated.json"
TARGETS = ("decoder", "flows", "config")


# -- seeds ------------------------------------------------------------------------------------


def _fixtures() -> dict[str, Any]:
    """Every JSON fixture by file name (the shared directory's copy wins)."""
    found: dict[str, Any] = {}
    for directory in reversed(FIXTURE_DIRS):
        for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
            found[path.name] = json.loads(path.read_text())
    return found


def seeds(target: str) -> list[bytes]:
    """The initial corpus of ``target``."""
    fixtures = _fixtures()
    if target == "decoder":
        return [
            json.dumps(doc).encode()
            for doc in fixtures.values()
            if isinstance(doc, dict) and doc.get("object") == "whatsapp_business_account"
        ]
    if target == "flows":
        vectors = fixtures[VECTORS]
        bodies = [str(case["request_body"]) for case in vectors["cases"]]
        plain = [json.dumps(doc) for name, doc in fixtures.items() if "request_plain" in name]
        return [
            *(b"\x00" + body.replace("'", '"').encode() for body in bodies),
            b"\x00" + json.dumps(vectors["tampered_request_body_expect_http_421"]).encode(),
            *(b"\x01" + text.encode() for text in plain),
        ]
    blocks = []
    documents = [*sorted(ROOT.glob("docs/*.md")), *sorted(ROOT.glob("plugins/*/README.md"))]
    for path in [*documents, ROOT / "README.md"]:
        if path.exists():
            blocks += re.findall(r"```toml\n(.*?)```", path.read_text(), flags=re.S)
    return [block.encode() for block in blocks]


def dictionary(initial: list[bytes]) -> list[str]:
    """libFuzzer dictionary entries: the JSON keys and the TOML keys and section names of the
    seeds, so that mutations insert whole names (``"statuses"``, ``[worker]``) more often."""
    tokens: set[bytes] = set()
    for seed in initial:
        tokens.update(re.findall(rb'"[A-Za-z_][A-Za-z0-9_]{1,30}"(?=\s*:)', seed))
        toml = rb"^\s*(\[{1,2}[a-z0-9_.-]+\]{1,2}|[a-z_]+\s*=)"
        tokens.update(re.findall(toml, seed, flags=re.M))
    return sorted(json.dumps(token.decode("latin-1")) for token in tokens)


# -- targets (run in the child process) -----------------------------------------------------


def _touch(obj: Any, depth: int = 0) -> None:
    """Read every field and property of a decoded model, recursively."""
    import msgspec

    if depth > 20:
        return
    if isinstance(obj, list):
        for item in obj:
            _touch(item, depth + 1)
    elif isinstance(obj, msgspec.Struct):
        names = list(obj.__struct_fields__)
        names += [
            name
            for cls in type(obj).__mro__
            for name, member in vars(cls).items()
            if isinstance(member, property)
        ]
        for name in names:
            _touch(getattr(obj, name), depth + 1)


def _decoder() -> Callable[[bytes], None]:
    from wahost.models import DecodeError, decode_unit
    from wahost.units import split

    def target(data: bytes) -> None:
        try:
            units = split(data)
        except DecodeError:
            return
        for unit in units:
            with contextlib.suppress(DecodeError):
                _touch(decode_unit(unit))

    return target


def _flows() -> Callable[[bytes], None]:
    from cryptography.hazmat.primitives import serialization
    from wahost_flows.crypto import FlowDecryptionError, decrypt_request, encrypt_request
    from wahost_flows.models import FlowRequestError, decode_request

    vectors = _fixtures()[VECTORS]
    key = serialization.load_pem_private_key(
        vectors["private_key_pem_pkcs8_unencrypted"].encode(), password=None
    )
    public = key.public_key()
    aes_key, iv = bytes.fromhex(vectors["aes_key_hex"]), bytes.fromhex(vectors["iv_hex"])

    def target(data: bytes) -> None:
        if not data:
            return
        if data[0] % 2 == 0:  # the body as sent
            with contextlib.suppress(FlowDecryptionError):
                decrypt_request(key, data[1:])  # type: ignore[arg-type]
            return
        body, _, _ = encrypt_request(public, data[1:], aes_key=aes_key, iv=iv)  # type: ignore[arg-type]
        decrypted = decrypt_request(key, json.dumps(body).encode())  # type: ignore[arg-type]
        try:
            request = decode_request(decrypted.plaintext)
        except FlowRequestError:
            return
        _touch(request)
        for name in dir(request):
            if not name.startswith("_"):
                getattr(request, name)

    return target


def _config() -> Callable[[bytes], None]:
    from wahost.config import ConfigError, parse_config

    def target(data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        with contextlib.suppress(ConfigError):
            parse_config(text, source="<fuzz>", base_dir=Path("/nonexistent"), env={})

    return target


def _child(target: str, libfuzzer_args: list[str]) -> None:
    import atheris

    builders = {"decoder": _decoder, "flows": _flows, "config": _config}
    with atheris.instrument_imports(include=["wahost", "wahost_flows", "tomllib"]):
        test_one = builders[target]()
    atheris.Setup([sys.argv[0], *libfuzzer_args], test_one)
    atheris.Fuzz()


# -- the parent: one subprocess per target ----------------------------------------------------


@dataclass
class FuzzResult:
    """What one target's run printed."""

    target: str
    seconds: int
    executions: int = 0
    coverage: int = 0
    features: int = 0
    corpus: int = 0
    seeds: int = 0
    crashes: list[str] = field(default_factory=list)
    #: The Python exception of the first crash (libFuzzer stops there).
    exception: str = ""
    returncode: int = 0

    @property
    def ok(self) -> bool:
        return not self.crashes and self.returncode == 0 and self.executions > 0


def fuzz(target: str, seconds: int, workdir: Path) -> FuzzResult:
    """Run ``target`` for ``seconds`` in a subprocess; the corpus and crashes go to
    ``workdir/<target>``."""
    base = workdir / target
    corpus, crashes = base / "corpus", base / "crashes"
    corpus.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(exist_ok=True)
    initial = seeds(target)
    for number, seed in enumerate(initial):
        (corpus / f"seed-{number:03d}").write_bytes(seed)
    (base / "tokens.dict").write_text("".join(f"{entry}\n" for entry in dictionary(initial)))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.reliability.fuzz",
            "--child",
            target,
            str(corpus),
            f"-max_total_time={seconds}",
            f"-artifact_prefix={crashes}/",
            f"-dict={base / 'tokens.dict'}",
            "-timeout=10",
            "-rss_limit_mb=2048",
            "-print_final_stats=1",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])},
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 120,
    )
    (base / "output.txt").write_text(done.stdout + done.stderr)
    return parse(target, seconds, done.stdout + done.stderr, done.returncode, crashes, initial)


def parse(
    target: str, seconds: int, output: str, returncode: int, crashes: Path, initial: list[bytes]
) -> FuzzResult:
    """The figures libFuzzer printed (its last status line and final stats)."""
    result = FuzzResult(target, seconds, seeds=len(initial), returncode=returncode)
    status = re.findall(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)", output, flags=re.M)
    if status:
        result.executions, result.coverage, result.features, result.corpus = map(int, status[-1])
    executed = re.search(r"stat::number_of_executed_units: (\d+)", output)
    if executed:
        result.executions = int(executed.group(1))
    result.crashes = sorted(path.name for path in crashes.iterdir())
    exception = re.search(r"=== Uncaught Python exception: ===\n(.*?)\n\n", output, flags=re.S)
    if exception:
        result.exception = exception.group(1).strip()
    return result


def run_fuzz(seconds: int, targets: list[str], workdir: Path | None = None) -> list[Row]:
    """Fuzz each target for ``seconds``; one row each for the summary table."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="wahost-fuzz-"))
    rows = []
    for target in targets:
        result = fuzz(target, seconds, workdir)
        row = Row(
            f"atheris: {target}",
            f"{seconds}s, {result.seeds} seeds",
            ok=result.ok,
            notes=[
                f"{result.executions} executions, cov {result.coverage}, "
                f"ft {result.features}, corpus {result.corpus}; "
                f"crashes {len(result.crashes)}"
            ],
        )
        if result.exception:
            row.notes.append(result.exception.splitlines()[-1])
        if result.crashes:
            row.notes.append(f"inputs in {workdir / target / 'crashes'}")
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _child(argv[1], argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help=f"any of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--seconds", type=int, default=60, help="per target")
    args = parser.parse_args(argv)
    unknown = [name for name in args.targets if name not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s): {', '.join(unknown)}")
    from bench.reliability import table

    rows = run_fuzz(args.seconds, args.targets or list(TARGETS))
    print(table(rows))
    sys.exit(0 if all(row.ok for row in rows) else 1)


if __name__ == "__main__":
    main()
