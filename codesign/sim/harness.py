"""The harness's two files: the packed input words it reads and the trace it writes.

The harness (``codesign/hls/sim/harness.sv.j2``) reads one hex word per line and writes a line-based
trace: ``I frame cycle`` when a frame's first input word is accepted, ``D hex`` per output
word, ``F frame cycle`` when a frame's last output word is accepted, and at the end
``S stream transfers stalls idles`` per stream, ``M fifo maxcount`` per FIFO,
``C cycles inputs outputs`` and ``E done|timeout``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codesign.errors import CodesignError
from codesign.io import atomic_write_text


@dataclass(frozen=True)
class StreamCounters:
    """Handshake counts of one stream over the whole run.

    Attributes:
        transfers: Cycles with valid && ready.
        stalls: Cycles with valid && !ready (the producer waits on backpressure).
        idles: Cycles with ready && !valid (the consumer waits on data).
    """

    transfers: int
    stalls: int
    idles: int


@dataclass(frozen=True)
class Trace:
    """What one simulation run recorded.

    Attributes:
        input_start: Cycle at which each frame's first input word was accepted.
        output_done: Cycle at which each frame's last output word was accepted.
        words: All output words in order.
        streams: Counters per stream index (0 = design input).
        fifo_maxcount: Peak occupancy per FIFO node.
        cycles: Cycles simulated after reset.
        inputs_accepted: Input words the design accepted.
        outputs_received: Output words the harness received.
        finished: True when all frames came out, False on the cycle limit.
    """

    input_start: list[int]
    output_done: list[int]
    words: list[int]
    streams: dict[int, StreamCounters]
    fifo_maxcount: dict[str, int]
    cycles: int
    inputs_accepted: int
    outputs_received: int
    finished: bool


def write_input(path: Path, words: list[int]) -> Path:
    """Write the input words, one hex number per line, atomically."""
    return atomic_write_text(path, "".join(f"{w:x}\n" for w in words))


def parse_trace(path: Path) -> Trace:
    """Parse the harness's trace file.

    Raises:
        CodesignError: The file is missing or incomplete (the simulator died mid-run).
    """
    if not Path(path).is_file():
        raise CodesignError(f"the simulator wrote no trace at {path}")
    starts: dict[int, int] = {}
    dones: dict[int, int] = {}
    words: list[int] = []
    streams: dict[int, StreamCounters] = {}
    fifos: dict[str, int] = {}
    cycles = inputs = outputs = -1
    end = None
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        tag = parts[0]
        if tag == "D":
            words.append(int(parts[1], 16))
        elif tag == "I":
            starts[int(parts[1])] = int(parts[2])
        elif tag == "F":
            dones[int(parts[1])] = int(parts[2])
        elif tag == "S":
            streams[int(parts[1])] = StreamCounters(*(int(p) for p in parts[2:5]))
        elif tag == "M":
            fifos[parts[1]] = int(parts[2])
        elif tag == "C":
            cycles, inputs, outputs = (int(p) for p in parts[1:4])
        elif tag == "E":
            end = parts[1]
    if end is None:
        raise CodesignError(f"the simulation trace {path} is incomplete (no end marker)")
    return Trace(
        [starts[k] for k in sorted(starts)],
        [dones[k] for k in sorted(dones)],
        words,
        streams,
        fifos,
        cycles,
        inputs,
        outputs,
        end == "done",
    )
