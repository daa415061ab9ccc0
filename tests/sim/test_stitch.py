"""The stitching plan: what FINN's file lists leave out is in it, and its digest is a cache key."""

from __future__ import annotations

from codesign.sim.stitch import make_plan, read_design


def test_plan_wires_weight_memories_and_data_paths(design_w4a4) -> None:
    design = read_design(design_w4a4.run_dir / "compiled.onnx")
    plan = make_plan(design, "Verilator test")
    top = plan.files["rtl/codesign_dataflow.sv"]
    mvaus = [n for n in design.nodes if n.op_type == "MVAU_rtl"]
    thresholds = [n for n in design.nodes if n.op_type == "Thresholding_rtl"]
    assert len(mvaus) == 2 and thresholds
    for n in mvaus:
        # the weight memory FINN's get_rtl_file_list omits: wrapper, memstream, .dat
        assert f"rtl/{n.module}_memstream_wrapper.v" in plan.files
        assert f"{n.module}_memstream_wrapper #(" in top
        assert f'.INIT_FILE("data/{n.module}_memblock.dat")' in top
        assert plan.files[f"data/{n.module}_memblock.dat"].strip()
    for rel in ("rtl/memstream.sv", "rtl/memstream_axi.sv", "rtl/axilite.sv"):
        assert rel in plan.files
    for n in thresholds:
        # relative THRESHOLDS_PATH replaced by the build folder's data/ prefix
        assert f'.THRESHOLDS_PATH("data/{n.module}_")' in top
        assert any(k.startswith(f"data/{n.module}_threshs_") for k in plan.files)
    # Verilator edits are applied to copies, not to the installed finn-rtllib
    add_multi = plan.files["rtl/add_multi.sv"]
    assert add_multi.index("init_leaf_loads") < add_multi.index("genTree")
    assert "typedef struct packed {" in plan.files["rtl/fifo.sv"]
    assert "CORE_PIPELINE_DEPTH + 4" not in plan.files["rtl/mvu_vvu_axi.sv"]
    # packages are compiled first
    sources = plan.files["sources.f"].split()
    pkgs = [i for i, s in enumerate(sources) if s.endswith("_pkg.sv")]
    assert pkgs == list(range(len(pkgs)))
    # no file depends on where the run folder lives: the digest is a portable cache key
    run = str(design_w4a4.run_dir.resolve())
    assert not [name for name, text in plan.files.items() if run in text]


def test_digest_is_stable_and_tracks_content(design_w4a4) -> None:
    path = design_w4a4.run_dir / "compiled.onnx"
    design = read_design(path)
    a = make_plan(design, "Verilator test").digest()
    assert a == make_plan(read_design(path), "Verilator test").digest()
    assert a != make_plan(design, "Verilator other").digest()
    fifo = design.fifo_names()[1]
    deeper = read_design(path, fifo_depths={fifo: 64})
    plan = make_plan(deeper, "Verilator test")
    assert plan.digest() != a
    assert dict(plan.fifos)[fifo] == 64
    assert make_plan(read_design(path, mvu_queue_fix=True), "Verilator test").digest() != a
