"""The FINN-friendly quantized CNN family, its bit-width policy and its QONNX export.

Submodules (import them directly; this package imports nothing, so ``import codesign.models``
stays free of torch and Brevitas):

* :mod:`codesign.models.bits`: ``ALLOWED_BITS``, ``Precision``, ``LayerBits``, ``BitConfig``.
* :mod:`codesign.models.quant`: the Brevitas quantizer recipes, ``quantize_input``.
* :mod:`codesign.models.cnn`: ``StageSpec``, ``CnnArch``, ``QUICKSTART_ARCH``, ``build_cnn``.
* :mod:`codesign.models.prune`: ``prune_model`` (structured channel pruning).
* :mod:`codesign.models.checkpoint`: ``save_checkpoint``, ``read_checkpoint``,
  ``load_checkpoint`` (a trained model's weights with the arch and bits that rebuild it).
* :mod:`codesign.models.export`: ``export_qonnx``, ``read_export_metadata``.
* :mod:`codesign.models.integer_input`: ``IntegerizeInput`` (integer dataflow input).
"""
