"""The lifter in its forms, all from one set of weights and one description of the network.

* :mod:`~poselift.model.plan`: :class:`~poselift.model.plan.NetworkPlan`, the wiring (per layer kernel width,
  dilation, channels; per block where the residual starts), which every form below reads and executes;
* :mod:`~poselift.model.tcn`: :class:`~poselift.model.tcn.TemporalLifter`, the trainable dilated temporal
  convolution network (dilated form for sequences, strided form for training windows);
* :mod:`~poselift.model.folded`: the same network with BatchNorm folded into the convolutions, as one layer
  list (:class:`~poselift.model.folded.FoldedNetwork`, from :func:`~poselift.model.folded.folded`) that the
  fast paths read;
* :mod:`~poselift.model.streaming`: one frame at a time, with per-layer caches;
* :mod:`~poselift.model.onnx`: the whole-sequence and streaming forms as ONNX graphs;
* :mod:`~poselift.model.onnx_runtime`: those graphs run by ONNX Runtime with the API of the torch forms.
"""
