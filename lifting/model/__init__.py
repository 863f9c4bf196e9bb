"""The lifter in its four forms, all from one set of weights.

* :mod:`~poselift.model.tcn`: :class:`~poselift.model.tcn.TemporalLifter`, the trainable dilated temporal
  convolution network (dilated form for sequences, strided form for training windows);
* :mod:`~poselift.model.folded`: the same network with BatchNorm folded into the convolutions, as one layer
  list (:class:`~poselift.model.folded.FoldedNetwork`) that the fast paths read;
* :mod:`~poselift.model.streaming`: one frame at a time, with per-layer caches;
* :mod:`~poselift.model.onnx`: the whole-sequence and streaming forms as ONNX graphs;
* :mod:`~poselift.model.onnx_runtime`: those graphs run by ONNX Runtime with the API of the torch forms.
"""
