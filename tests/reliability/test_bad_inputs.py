# ruff: noqa: E501 (the table of cases reads best one case a line)
"""Every bad input gets one line, the documented exit code, and loses nothing.

Each case runs ``codesign ...`` in-process (through :func:`codesign.cli.main.run_cli`, the
console script's error boundary) in a sandbox of user files, and asserts:

* the exit code (1 user error, 2 usage error; see ``codesign.cli.main``);
* exactly one ``error:`` line, the last line on stderr, matching the expected message;
* no traceback, and none of torch's ``weights_only=False`` advice;
* no file anywhere in the sandbox created, changed or removed (a failed command leaves
  nothing behind: no empty ``runs/``, no hidden temp folder, no half-written output).

The closing note of issue 11 lists the table this file produces (``CASES``).
"""

from __future__ import annotations

import io
import pickle
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from faults import Inputs, changes, copy_into, invoke, snapshot

PYNQ = ["--board", "pynq-z2", "--fps", "100000"]
HOLDS = r"holds files codesign did not write; choose a new or empty folder, or pass --force"
CKPT = r"expected a codesign checkpoint \(a torch\.save'd dict with format, arch, bits"


@dataclass(frozen=True)
class Case:
    """One bad input: the command, its exit code and a regex of its one-line message."""

    name: str
    args: tuple[str, ...]
    code: int
    message: str


def _bad_checkpoints(good: bytes) -> dict[str, bytes]:
    def saved(obj: object) -> bytes:
        buf = io.BytesIO()
        torch.save(obj, buf)
        return buf.getvalue()

    return {
        "empty": b"",
        "garbage": b"not a model",  # 11 bytes
        "truncated": good[: len(good) // 2],
        "module": saved(torch.nn.Linear(2, 2)),
        "noarch": saved({"format": 1, "bits": {}, "state_dict": {}}),
        "foreign": saved({"weight": torch.zeros(2)}),
        "list": saved([1, 2, 3]),
        "pickle": pickle.dumps({"arch": 1}),
        "badarch": saved({"format": 1, "arch": {"x": 1}, "bits": {}, "state_dict": {}}),
        "format0": saved({"format": 0, "arch": {}, "bits": {}, "state_dict": {}}),
    }


CKPT_CASES = {
    "empty": r"is empty \(0 bytes\)",
    "garbage": r"is not a torch file \(11 bytes starting b'not '\)",
    "truncated": r"is a truncated or damaged torch file",
    "module": r"is a torch file holding pickled Python objects \(torch\.nn\.modules\.linear\.Linear\)",
    "noarch": r"is a torch dict without arch \(keys: bits, format, state_dict\)",
    "foreign": r"is a torch dict without format, arch, bits, state_dict \(keys: weight\)",
    "list": r"is a torch file holding a list",
    "pickle": r"is a legacy \(non-zip\) pickle file",
    "badarch": r"is a checkpoint with an unreadable arch or bits",
    "format0": r"is a codesign checkpoint of format 0",
}


def C(name: str, command: str, code: int, message: str) -> Case:
    """A case from its command line (``PYNQ`` stands for the Pynq-Z2 target options)."""
    args = tuple(a for tok in command.split() for a in (PYNQ if tok == "PYNQ" else (tok,)))
    return Case(name, args, code, message)


# fmt: off
CASES = [
    # --out: never delete or overwrite what codesign did not write
    C("compile --out . in a folder of user files", "compile {onnx} PYNQ --out .", 1, HOLDS),
    C("compile --out on a folder of user files", "compile {onnx} PYNQ --out data", 1, HOLDS),
    C("compile --out on a flow run folder", "compile {onnx} PYNQ --out {flowrun}", 1, r"is a codesign flow run folder, not a compile one; choose another --out"),
    C("compile --out on a flow run folder of an older codesign (no marker)", "compile {onnx} PYNQ --out {legacyflow}", 1, r"is a codesign flow run folder, not a compile one"),
    C("compile --out on a flow run folder with --force", "compile {onnx} PYNQ --out {flowrun} --force", 1, r"--force never writes into another kind of run"),
    C("compile --out . --force over a user's config.yaml", "compile {onnx} PYNQ --out . --force", 1, r"config\.yaml was not written by codesign and a compile run would overwrite it, even with --force"),
    C("compile --from-step on a flow run folder", "compile {onnx} PYNQ --out {flowrun} --from-step estimates", 1, r"is a codesign flow run folder"),
    C("run --out on a folder of user files", "run {flow} --out data", 1, HOLDS),
    C("run --out . in a folder of user files", "run {flow} --out .", 1, HOLDS),
    C("run --out . --force over a user's config.yaml", "run {flow} --out . --force", 1, r"config\.yaml was not written by codesign and a flow run would overwrite it, even with --force"),
    C("run --out on a compile run folder", "run {flow} --out {comp}", 1, r"is a codesign compile run folder, not a flow one"),
    C("build --out on a folder of user files", "build {comp} --board pynq-z2 --out data", 1, HOLDS),
    C("build --out on a flow run folder", "build {comp} --board pynq-z2 --out {flowrun}", 1, r"is a codesign flow run folder, not a build one"),
    # output paths that cannot be written
    C("compile --out /proc/foo", "compile {onnx} PYNQ --out /proc/foo", 1, r"--out /proc/foo: cannot write in /proc"),
    C("compile --out under a file", "compile {onnx} PYNQ --out a.txt/sub", 1, r"a\.txt is a file, not a folder"),
    C("compile --out an existing file", "compile {onnx} PYNQ --out a.txt", 2, r"Directory 'a\.txt' is a file"),
    C("compile (checkpoint) --out /proc/foo", "compile {pt} PYNQ --out /proc/foo", 1, r"cannot write in /proc"),
    C("run --out /proc/foo", "run {flow} --out /proc/foo", 1, r"--out /proc/foo: cannot write in /proc"),
    C("run --out under a file", "run {flow} --out a.txt/sub", 1, r"a\.txt is a file, not a folder"),
    C("build --out /proc/foo", "build {comp} --board pynq-z2 --out /proc/foo", 1, r"cannot write in /proc"),
    C("quality -o /proc/x.png", "quality -n 1 -o /proc/x.png", 1, r"--out /proc/x\.png: cannot write in /proc"),
    C("quality -o under a file", "quality -n 1 -o a.txt/x.png", 1, r"a\.txt is a file, not a folder"),
    C("quality -o on a folder", "quality -n 1 -o data", 2, r"'data' is a directory"),
    C("quality --json /proc/x.json (no quality.png first)", "quality -n 1 --json /proc/x.json", 1, r"--json /proc/x\.json: cannot write in /proc"),
    C("quality --json under a file", "quality -n 1 --json a.txt/x.json", 1, r"a\.txt is a file, not a folder"),
    C("doctor --json /proc/x.json", "doctor --json /proc/x.json", 1, r"--json /proc/x\.json: cannot write in /proc"),
    C("doctor --json under a file", "doctor --json a.txt/x.json", 1, r"a\.txt is a file, not a folder"),
    # corrupt or foreign checkpoints
    *(C(f"compile a checkpoint: {kind}", f"compile {{bad:{kind}}} PYNQ", 1, f"{msg}.*; {CKPT}") for kind, msg in CKPT_CASES.items()),
    C("compile a missing checkpoint", "compile missing.pt PYNQ", 1, r"checkpoint not found: missing\.pt"),
    C("compile a folder as the model", "compile data PYNQ", 2, r"File 'data' is a directory"),
    # corrupt models and bad compile options
    C("compile a garbage .onnx", "compile {garbage_onnx} PYNQ", 1, r"is not a readable ONNX model"),
    C("compile an empty .onnx", "compile {empty_onnx} PYNQ", 1, r"is not a readable ONNX model"),
    C("compile a missing .onnx", "compile missing.onnx PYNQ", 1, r"model file missing\.onnx does not exist"),
    C("compile without --fps or --lut-budget", "compile {onnx} --board pynq-z2", 2, r"give exactly one of --fps and --lut-budget"),
    C("compile with --fps and --lut-budget", "compile {onnx} PYNQ --lut-budget 5000", 2, r"give exactly one of --fps and --lut-budget"),
    C("compile --fps 0", "compile {onnx} --board pynq-z2 --fps 0", 2, r"'--fps': 0\.0 is not in the range x>0"),
    C("compile --fps -5", "compile {onnx} --board pynq-z2 --fps -5", 2, r"'--fps': -5\.0 is not in the range x>0"),
    C("compile --fps abc", "compile {onnx} --board pynq-z2 --fps abc", 2, r"'abc' is not a valid positive number"),
    C("compile --fps nan", "compile {onnx} --board pynq-z2 --fps nan", 2, r"'--fps': 'nan' is not a finite number"),
    C("compile --fps inf", "compile {onnx} --board pynq-z2 --fps inf", 2, r"'--fps': 'inf' is not a finite number"),
    C("compile --clock-ns 0", "compile {onnx} PYNQ --clock-ns 0", 2, r"'--clock-ns': 0\.0 is not in the range x>0"),
    C("simulate --timeout nan", "simulate {comp} --timeout nan", 2, r"'--timeout': 'nan' is not a finite number"),
    C("compile --lut-budget 0", "compile {onnx} --board pynq-z2 --lut-budget 0", 2, r"'--lut-budget': 0 is not in the range x>=1"),
    C("compile an unknown board", "compile {onnx} --board zzz --fps 10", 1, r"unknown board 'zzz'"),
    C("compile at an infeasible --fps (default --out)", "compile {onnx} --board pynq-z2 --fps 1e12", 1, r"more than one frame per clock cycle"),
    C("compile in too few LUTs", "compile {onnx} --board pynq-z2 --lut-budget 1", 1, r"LUT"),
    C("compile --bits on a QONNX model", "compile {onnx} PYNQ --bits 4", 1, r"--bits applies to checkpoints"),
    C("compile --bits w7a4", "compile {pt} PYNQ --bits w7a4", 1, r"bit-width 7 is not allowed"),
    C("compile --bits nonsense", "compile {pt} PYNQ --bits w4x", 1, r"--bits 'w4x' is neither a YAML file nor a uniform spec"),
    C("compile --from-step into a new folder", "compile {onnx} PYNQ --out new --from-step estimates", 1, r"cannot resume at 'estimates': .* has no intermediate models"),
    C("compile --from-step an unknown step", "compile {onnx} PYNQ --from-step nope", 1, r"unknown start step 'nope'; steps: qonnx_to_finn"),
    C("compile --to-step before --from-step", "compile {onnx} PYNQ --out {comp} --from-step estimates --to-step tidy_up", 1, r"stop step 'tidy_up' comes before start step 'estimates'"),
    # simulate, synth, build: timeouts and run folders
    C("simulate --timeout 0", "simulate {comp} --timeout 0", 2, r"'--timeout': 0\.0 is not in the range x>0"),
    C("simulate --timeout -1", "simulate {comp} --timeout -1", 2, r"'--timeout': -1\.0 is not in the range x>0"),
    C("synth --timeout 0", "synth {comp} --timeout 0", 2, r"'--timeout': 0\.0 is not in the range x>0"),
    C("simulate a folder of user files", "simulate data", 1, r"RUN data is not a codesign run folder; expected a compile run folder"),
    C("simulate a flow run folder without a compile step", "simulate {flowrun_nocompile}", 1, r"is a flow run folder without a compile step output"),
    C("simulate a missing folder", "simulate nothere", 2, r"'nothere' does not exist"),
    C("simulate --frames 0", "simulate {comp} --frames 0", 2, r"'--frames': 0 is not in the range 1<=x<=10000"),
    C("synth a folder of user files", "synth data", 1, r"is not a codesign run folder"),
    C("build a folder of user files", "build data --board pynq-z2", 1, r"is not a codesign run folder"),
    C("build for an unknown board", "build {comp} --board zzz", 1, r"unknown board 'zzz'"),
    C("build --collect on a folder never built", "build {comp} --board pynq-z2 --collect", 1, r"is not a codesign build folder"),
    # flows
    C("run --from-step compile into a new folder", "run {flow} --out new --from-step compile", 1, r"--from-step compile needs the outputs of step '\w+', but .* has none for this config"),
    C("run a missing flow file", "run nothere.yaml", 1, r"flow file not found: nothere\.yaml"),
    C("run a flow with an unknown key", "run {flow_unknown_key}", 1, r":2: unknown key 'train\.epochz'"),
    C("run malformed YAML", "run {flow_malformed}", 1, r":3: malformed YAML"),
    C("run an unknown --from-step", "run {flow} --from-step nope", 1, r"unknown step 'nope' for --from-step"),
    # the command line
    C("an unknown option", "compile --bogus", 2, r"No such option '--bogus'.*\(see `codesign compile --help`\)"),
    C("an unknown command", "compil", 2, r"No such command 'compil'"),
    C("quality -n 0", "quality -n 0", 2, r"'-n' / '--num-images': 0 is not in the range x>=1"),
    C("quality an unknown dataset", "quality --dataset cifar", 2, r"'cifar' is not one of"),
    C("quality --severities 9", "quality -n 1 --severities 9", 1, r"severity must be an integer in 1\.\.5, got 9"),
]
# fmt: on


def _resolve(arg: str, work: Path, inp: Inputs) -> str:
    """Turn a ``{placeholder}`` into a copy of that input inside the sandbox."""
    if not (arg.startswith("{") and arg.endswith("}")):
        return arg
    key = arg[1:-1]
    if key == "onnx":
        return str(copy_into(inp.onnx_dir, work / "model") / "model.onnx")
    if key == "pt":
        return str(copy_into(inp.checkpoint, work / "tiny.pt"))
    if key.startswith("bad:"):
        kind = key[4:]
        path = work / f"bad_{kind}.pt"
        path.write_bytes(_bad_checkpoints(inp.checkpoint.read_bytes())[kind])
        return str(path)
    if key == "comp":
        return str(copy_into(inp.compiled, work / "comp"))
    if key in ("flowrun", "legacyflow", "flowrun_nocompile"):
        run = copy_into(inp.flow_run, work / key)
        if key == "legacyflow":  # as written before the marker existed
            for marker in run.rglob(".codesign-run.json"):
                marker.unlink()
        if key == "flowrun_nocompile":
            shutil.rmtree(run / "compile")
        return str(run)
    if key == "flow":
        return str(copy_into(inp.flow_file, work / "flow.yaml"))
    texts = {
        "flow_unknown_key": "train:\n  epochz: 3\n",
        "flow_malformed": "run:\n  name: [x\n",
        "garbage_onnx": "not onnx",
        "empty_onnx": "",
    }
    path = work / (key + (".onnx" if key.endswith("onnx") else ".yaml"))
    path.write_text(texts[key])
    return str(path)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_one_line_and_loses_nothing(
    case: Case, inputs: Inputs, sandbox: Path, tmp_path: Path, record_property
) -> None:
    args = [_resolve(a, sandbox, inputs) for a in case.args]
    before = snapshot(tmp_path)
    res = invoke(args, sandbox)
    after = snapshot(tmp_path)

    record_property("exit_code", res.code)  # for the table in the closing note
    record_property("message", " | ".join(res.errors))
    assert res.code == case.code, (res.code, res.stderr)
    assert len(res.errors) == 1, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert lines[-1] == res.errors[0], res.stderr
    assert re.search(case.message, res.errors[0]), res.errors[0]
    assert "Traceback" not in res.stderr + res.stdout
    assert "weights_only" not in res.stderr
    assert changes(before, after) == {"created": [], "changed": [], "removed": []}


def test_plain_codesign_prints_its_help(tmp_path: Path) -> None:
    res = invoke([], tmp_path)
    assert res.code == 0 and res.stdout.startswith("Usage: codesign") and res.stderr == ""


def test_verbose_after_the_subcommand_adds_the_traceback(inputs: Inputs, sandbox: Path) -> None:
    bad = _resolve("{bad:module}", sandbox, inputs)
    quiet = invoke(["compile", bad, *PYNQ], sandbox)
    loud = invoke(["compile", bad, *PYNQ, "-v"], sandbox)
    assert quiet.code == loud.code == 1
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr and "CorruptInputError" in loud.stderr
    assert loud.stderr.rstrip().splitlines()[-1] == quiet.errors[0]
